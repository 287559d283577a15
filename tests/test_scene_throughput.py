"""benchmarks/scene_throughput.py run as users run it, on the CPU with the tiny model: the JSON it
writes and the operator tables of ``--profile --profile-table`` (the GPU check's diagnostics)."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_forward_only_variants_and_operator_tables(tmp_path):
    result_path, table_path = tmp_path / 'scene.json', tmp_path / 'ops.txt'
    table_path.write_text('a table of an earlier run\n')
    done = subprocess.run(
        [sys.executable, 'benchmarks/scene_throughput.py', '--model', 'tiny', '--size', '384', '--window-size', '128',
         '--overlap', '32', '--batch-size', '3', '--repeats', '1', '--device', 'cpu', '--forward-only', '--profile',
         '--profile-table', str(table_path), '--json', str(result_path), '--work-dir', str(tmp_path / 'models')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_path.read_text())
    # the inference copy and the model as it is, at batch 1 and 3, and the channels-last copy
    assert list(result['forward_alone_s']) == ['batch 1', 'model as is, batch 1', 'batch 3', 'model as is, batch 3',
                                               'channels_last, batch 3']
    assert all(seconds > 0 for seconds in result['forward_alone_s'].values())
    assert result['predictor_build_s'] > 0
    assert result['median_s']['map_scene'] > 0 and result['ratio'] > 0
    assert result['gpu_busy'] == {}, 'no GPU busy share on the CPU'
    # 384 px in windows of 128 at stride 96: 4 x 4 windows, a random-weight model whose two sides blend alike
    assert result['agreement'] > 0.9
    tables = table_path.read_text()
    assert 'an earlier run' not in tables, 'each run writes its own tables'
    titles = [line for line in tables.splitlines() if line.startswith('forward passes alone')]
    assert [t.split(': ')[0] for t in titles] == ['forward passes alone, batch 3, 4 x 4 windows',
                                                  'forward passes alone, model as is, batch 1, 4 x 4 windows']
    assert tables.count('aten::') > 10, 'the tables list the operators'
    assert 'forward passes alone, channels_last, batch 3:' in done.stdout
