"""The table of benchmarks/gpu_check.sh: each GPU target of the distributed/GPU-step work, measured or missing.

    python benchmarks/gpu_summary.py OUT_DIR

Reads the JSON files that gpu_check.sh's steps wrote into OUT_DIR (a step that failed or ran out
of time left none: its rows say 'not measured') and prints one row per target with the figure,
the target and whether it is met. Exit 0 whatever the outcome: the table is the result.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

UDA = 'uda (with FD)'
STEP_TARGET_S = 0.45      # MiT-B5 UDA+FD, crop 512, batch 2+2, on an H100-class GPU
KERNEL_SHARE_TARGET = 0.70
SCENE_RATIO_TARGET = 1.5


def load(out_dir: Path, name: str) -> dict | None:
    path = out_dir / f'{name}.json'
    return json.loads(path.read_text()) if path.is_file() else None


def rows(out_dir: Path) -> list[tuple[str, str, str, str]]:
    """(check, measured, target, verdict) for every target."""
    steps = {name: load(out_dir, f'step_{name}') for name in ('fp32', 'bf16', 'bf16_compiled')}
    uda = {name: (run['variants'][UDA] if run else None) for name, run in steps.items()}
    table = []
    for name, run in uda.items():
        if run is None:
            table.append((f'UDA+FD step, {name}', 'not measured', f'<= {STEP_TARGET_S} s', '-'))
            continue
        table.append((f'UDA+FD step, {name}', f'{run["median_s"]:.3f} s ({run["ratio"]:.2f}x source-only)',
                      f'<= {STEP_TARGET_S} s', 'met' if run['median_s'] <= STEP_TARGET_S else 'NOT met'))
        share = run.get('kernel_share')
        if share is not None:
            table.append((f'GPU kernels in the step, {name}', f'{share * 100:.1f} %', f'>= {KERNEL_SHARE_TARGET * 100:.0f} %',
                          'met' if share >= KERNEL_SHARE_TARGET else 'NOT met'))
    if uda['fp32'] and uda['bf16']:
        speedup = uda['fp32']['median_s'] / uda['bf16']['median_s']
        table.append(('bf16 vs fp32 step', f'{speedup:.2f}x', '> 1x', 'met' if speedup > 1 else 'NOT met'))
    if uda['bf16'] and uda['bf16_compiled']:
        speedup = uda['bf16']['median_s'] / uda['bf16_compiled']['median_s']
        table.append(('torch.compile vs eager (bf16)', f'{speedup:.2f}x', '(pays if > 1x)', ''))
    for name in ('fp32', 'bf16'):
        scene = load(out_dir, f'scene_{name}')
        check = f'scene mapping vs mmseg slide, {name}'
        if scene is None:
            table.append((check, 'not measured', f'>= {SCENE_RATIO_TARGET}x', '-'))
            continue
        mpx = scene['size'] ** 2 / 1e6
        busy = scene.get('gpu_busy') or {}
        busy_text = (f'; GPU busy {100 * busy["map_scene"]:.0f} % vs {100 * busy["mmseg slide"]:.0f} %'
                     if {'map_scene', 'mmseg slide'} <= busy.keys() else '')
        # the model's forward passes alone over the same windows: how far reading and blending are from free
        alone = scene.get('forward_alone_s') or {}
        alone_text = ('; model alone: ' + ', '.join(f'{name} {seconds:.2f} s' for name, seconds in alone.items())
                      if alone else '')
        table.append((check, f'{scene["ratio"]:.2f}x ({mpx / scene["median_s"]["map_scene"]:.1f} Mpx/s, '
                             f'window {scene["window"]}, overlap {scene["overlap"]}{busy_text}{alone_text})',
                      f'>= {SCENE_RATIO_TARGET}x', 'met' if scene['ratio'] >= SCENE_RATIO_TARGET else 'NOT met'))
    return table


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    device = next((run['device'] for name in ('step_fp32', 'step_bf16', 'scene_fp32')
                   if (run := load(out_dir, name))), 'unknown GPU')
    print(f'GPU checks on {device} ({out_dir})')
    table = [('check', 'measured', 'target', 'verdict')] + rows(out_dir)
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
