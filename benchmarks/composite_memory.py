"""Peak memory of a multi-date composite for 1, 2 and 4 dates of one scene, side by side in one run.

    python benchmarks/composite_memory.py [--size 600] [--window-size 512] [--overlap 128]
        [--work-dir work_dirs/bench_composite] [--json benchmarks/results/composite_memory/cpu.json]

Four Sentinel-2 L2A products of one tile (daspm.synthetic.sentinel2_product; ``--size`` 10 m pixels,
x5 on the 2 m map; clouds in other places on each date) are mapped in fresh subprocesses that report
their peak resident memory (``ru_maxrss``): the single-scene mapper on date 1 (one window at a time),
then composites (daspm.mapping.composite) of the first 1, 2 and 4 dates. A baseline subprocess
that only imports and loads the model gives the fixed cost. The check: each extra date may add at
most ONE WINDOW'S BUFFERS, computed as float32 window planes of the input bands, the class
probabilities, the weighted probabilities and the weight (win^2 x 4 B x (bands + 2K + 2)); holding
a whole date's probabilities would instead add K x H x W x 4 B per date (printed beside it).
Model: the ~9.5k-parameter MiT + SegFormer head of scene_throughput.py (random weights).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NUM_CLASSES = 5
INPUT_BANDS = 3
DATES = 4


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def make_dates(work: Path, size: int) -> list[Path]:
    """Four dates of one tile, ten days apart, each with a cloud block somewhere else."""
    from daspm.synthetic.sentinel2_product import write_product
    step = size // 6 // 6 * 6   # clouds on whole 60 m pixels
    dates = []
    for n in range(DATES):
        sensing = f'202201{1 + 10 * n:02d}T101431'
        found = sorted((work / f'date{n}').glob('*.SAFE'))
        if found:
            dates.append(found[0])
            continue
        r0, c0 = step * (n // 2) * 2, step * (n % 2) * 2
        dates.append(write_product(work / f'date{n}', 'L2A', '04.00', size, seed=n, bands=('B2', 'B3', 'B4'),
                                   cloud_block=(r0, c0, r0 + 2 * step, c0 + 2 * step), sensing=sensing))
    return dates


def child(args: argparse.Namespace) -> None:
    """In a fresh process: load the model and map (single date or composite); print peak RSS as JSON."""
    t0 = time.perf_counter()
    from daspm.apis.config_loading import load_config
    from daspm.apis.inference import init_segmentor
    from daspm.mapping.composite import composite_to_files
    from daspm.mapping.mapper import map_scene_to_files
    from daspm.mapping.spec import input_spec_from_config

    cfg = load_config(args.config)
    model = init_segmentor(cfg, args.checkpoint, device='cpu')
    spec = input_spec_from_config(cfg)
    shape = None
    options = dict(window_size=args.window_size, overlap=args.overlap, overwrite=True, progress=False)
    if args.child == 'single':
        result = map_scene_to_files(args.dates[:1], model, spec, args.out, batch_size=1, workers=1, **options)
        shape = [result.grid.height, result.grid.width]
    elif args.child == 'composite':
        result = composite_to_files(args.dates, model, spec, args.out, **options)
        shape = [result.grid.height, result.grid.width]
    print(json.dumps(dict(peak_mb=_peak_mb(), seconds=time.perf_counter() - t0, shape=shape)))


def _run_child(argv: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=f'{REPO}{os.pathsep}{REPO / "benchmarks"}')
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f'child {argv[:2]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Generate the dates, measure each run in a subprocess, print the table and the check."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=600, help='scene side in 10 m pixels (a multiple of 36)')
    parser.add_argument('--window-size', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=128)
    parser.add_argument('--work-dir', default='work_dirs/bench_composite')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--dates', nargs='*', help=argparse.SUPPRESS)
    parser.add_argument('--config', help=argparse.SUPPRESS)
    parser.add_argument('--checkpoint', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return {}
    from scene_throughput import write_model_files
    work = Path(args.work_dir)
    config, checkpoint = write_model_files('tiny', work)
    dates = make_dates(work, args.size)
    common = ['--config', str(config), '--checkpoint', str(checkpoint), '--window-size', str(args.window_size),
              '--overlap', str(args.overlap)]
    base = _run_child(['--child', 'baseline', '--dates', *map(str, dates[:1]), *common])
    runs = {'single-date mapper': _run_child(['--child', 'single', '--dates', str(dates[0]), '--out',
                                              str(work / 'single.tif'), *common])}
    for n in (1, 2, DATES):
        runs[f'composite of {n}'] = _run_child(['--child', 'composite', '--dates', *map(str, dates[:n]), '--out',
                                                 str(work / f'composite_{n}.tif'), *common])
    height, width = runs['composite of 1']['shape']
    window_mb = args.window_size ** 2 * 4 * (2 * INPUT_BANDS + 2 * NUM_CLASSES + 2) / 2 ** 20
    whole_date_mb = NUM_CLASSES * height * width * 4 / 2 ** 20
    print(f'scene {args.size}x{args.size} at 10 m -> {width}x{height} px map; window {args.window_size}, overlap '
          f'{args.overlap}; tiny model, CPU; baseline (imports + model): {base["peak_mb"]:.0f} MB peak RSS')
    print(f'{"run":>20} {"time s":>8} {"peak RSS MB":>12} {"over baseline":>14} {"per extra date":>15}')
    one = runs['composite of 1']['peak_mb']
    for name, r in runs.items():
        dates_in = int(name.split()[-1]) if name.startswith('composite') else 1
        extra = f'{(r["peak_mb"] - one) / (dates_in - 1):>15.1f}' if dates_in > 1 else f'{"":>15}'
        print(f'{name:>20} {r["seconds"]:>8.1f} {r["peak_mb"]:>12.0f} {r["peak_mb"] - base["peak_mb"]:>14.0f} {extra}')
    growth = {n: (runs[f'composite of {n}']['peak_mb'] - one) / (n - 1) for n in (2, DATES)}
    ok = all(g <= window_mb for g in growth.values())
    print(f'one window\'s buffers: {window_mb:.1f} MB; a whole date\'s probabilities: {whole_date_mb:.1f} MB')
    print(f'growth per extra date: 2 dates {growth[2]:.1f} MB, {DATES} dates {growth[DATES]:.1f} MB -> '
          + ('WITHIN one window per date' if ok else 'MORE than one window per date'))
    summary = dict(size=args.size, map_shape=[height, width], window_size=args.window_size, overlap=args.overlap,
                   baseline_mb=base['peak_mb'], runs=runs, window_buffers_mb=window_mb,
                   whole_date_probabilities_mb=whole_date_mb, growth_per_extra_date_mb=growth, within=ok)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + '\n')
    return summary


if __name__ == '__main__':
    main()
