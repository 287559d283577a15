"""benchmarks/gpu_summary.py: the GPU check table from hand-made benchmark JSON (no GPU needed)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import REPO


def load_summary():
    spec = importlib.util.spec_from_file_location('gpu_summary', REPO / 'benchmarks/gpu_summary.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def step(median_s: float, share: float | None) -> dict:
    return dict(device='NVIDIA H200', variants={
        'source-only': dict(median_s=0.1, ratio=1.0, kernel_share=0.9),
        'uda (with FD)': dict(median_s=median_s, ratio=median_s / 0.1, kernel_share=share)})


def test_table_verdicts_and_missing_steps(tmp_path: Path, capsys):
    (tmp_path / 'step_fp32.json').write_text(json.dumps(step(0.60, 0.65)))
    (tmp_path / 'step_bf16.json').write_text(json.dumps(step(0.40, 0.75)))
    (tmp_path / 'scene_fp32.json').write_text(json.dumps(dict(
        device='NVIDIA H200', size=4096, window=512, overlap=128, ratio=1.7,
        median_s={'mmseg slide': 3.4, 'map_scene': 2.0}, gpu_busy={'mmseg slide': 0.4, 'map_scene': 0.85},
        forward_alone_s={'batch 1': 3.0, 'model as is, batch 1': 3.2, 'batch 8': 1.5})))
    (tmp_path / 'scene_bf16.json').write_text(json.dumps(dict(
        device='NVIDIA H200', size=4096, window=512, overlap=128, ratio=0.7,
        median_s={'mmseg slide': 1.4, 'map_scene': 2.0})))  # an older result: no GPU busy share
    summary = load_summary()
    rows = {row[0]: row[1:] for row in summary.rows(tmp_path)}
    assert rows['UDA+FD step, fp32'] == ('0.600 s (6.00x source-only)', '<= 0.45 s', 'NOT met')
    assert rows['UDA+FD step, bf16'][2] == 'met'
    assert rows['GPU kernels in the step, fp32'] == ('65.0 %', '>= 70 %', 'NOT met')
    assert rows['GPU kernels in the step, bf16'][2] == 'met'
    assert rows['bf16 vs fp32 step'] == ('1.50x', '> 1x', 'met')
    assert rows['UDA+FD step, bf16_compiled'][0] == 'not measured'
    assert 'torch.compile vs eager (bf16)' not in rows
    assert rows['scene mapping vs mmseg slide, fp32'][0].startswith('1.70x (8.4 Mpx/s')
    assert rows['scene mapping vs mmseg slide, fp32'][2] == 'met'
    assert rows['scene mapping vs mmseg slide, fp32'][0].endswith(
        '; GPU busy 85 % vs 40 %; model alone: batch 1 3.00 s, model as is, batch 1 3.20 s, batch 8 1.50 s)')
    assert rows['scene mapping vs mmseg slide, bf16'] == (
        '0.70x (8.4 Mpx/s, window 512, overlap 128)', '>= 1.5x', 'NOT met')
    assert summary.main([str(tmp_path)]) == 0
    assert 'GPU checks on NVIDIA H200' in capsys.readouterr().out
