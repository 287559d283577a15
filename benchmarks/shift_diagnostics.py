"""Pseudo-label diagnostics of the published recipe under target-domain shifts, plotted over training.

For each ``--shifts`` name, generates the benchmark's dataset of ``--seed`` with that target shift
(tools/make_synthetic_dataset.py --shift; the source is the same for every shift), trains the
benchmark's ``daspm-warm`` row (DACS + ClassMix + RCS + FD from the seed's source-only checkpoint,
benchmarks/adaptation_synthetic.py) with ``PseudoLabelDiagnosticsHook`` on and the target crops'
labels loaded for it (never for training), tests it, and plots the diagnostics:

    .venv/bin/python benchmarks/shift_diagnostics.py [--shifts default sensor-1] [--seed 0] [--uda-factor 0.5]
    .venv/bin/python benchmarks/shift_diagnostics.py --plot-only   # re-plot the JSON lines already there

The source-only run is trained once (on the default data: its target enters only the final
test) and tested on every shift's target. Writes, per shift, ``<out>/<shift>.jsonl`` (the hook's
lines) and ``<out>/<shift>.png`` beside it, and ``<out>/summary.json`` (test mIoU of source-only
and of the adapted model per shift). Finished runs are kept under ``--work-root`` and skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import adaptation_synthetic as bench  # a sibling script: its folder is on the path of a script run

HOOK_FILE = 'pseudo_label_diagnostics.jsonl'
# the hook replaces the config's DebugImageHook (custom_hooks.0), and the target crops get their labels
DIAGNOSTIC_OPTIONS = {'train_dataloader.dataset.target_label_loader.type': 'LoadGeoTiffAnnotations',
                      'custom_hooks.0.type': 'PseudoLabelDiagnosticsHook'}
SMOOTH = 10  # iterations in the moving average of the plots (one point per 2 crops of 128 x 128 is noisy)


def diagnostic_row(uda_factor: float, interval: int) -> bench.Row:
    """The benchmark's daspm-warm row with the diagnostics on (``uda_factor`` x --iters UDA iterations)."""
    warm = next(r for r in bench.benchmark_rows() if r.name == 'daspm-warm')
    options = {**warm.options, **DIAGNOSTIC_OPTIONS, 'custom_hooks.0.interval': interval}
    return bench.Row(f'daspm-warm-diagnostics-x{uda_factor:g}', warm.config, options, uda_factor, warm_start=True)


def test_checkpoint(run_dir: Path, checkpoint: Path, data: Path, work: Path, threads: int) -> float:
    """Target test mIoU of ``checkpoint`` (trained on another shift's data) on ``data``'s test tiles."""
    metrics = work / 'metrics.json'
    if not metrics.is_file():
        work.mkdir(parents=True, exist_ok=True)
        target = str(bench.REPO / data / 'sentinel_converted')
        bench.run_logged([sys.executable, 'tools/test.py', str(run_dir), str(checkpoint), '--work-dir', str(work),
                          '--show-dir', str(work / 'preds'), '--metrics-json', str(metrics), '--cfg-options',
                          f'test_dataloader.dataset.data_root={target}'], work / 'test.log', threads)
    return float(json.loads(metrics.read_text())['metrics']['mIoU'])


def smooth(values: list[float | None], window: int = SMOOTH) -> list[float | None]:
    """Trailing moving average that skips missing values."""
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1):i + 1] if v is not None]
        out.append(sum(part) / len(part) if part else None)
    return out


def plot(lines: list[dict], title: str, path: Path) -> None:
    """Four panels over training: pseudo-label mIoU (all / confident), confident share, class shares."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    iters = [line['iter'] for line in lines]
    classes = lines[0]['classes']
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
    ax = axes[0]
    for key, label in (('miou', 'all pixels'), ('miou_confident', 'confident pixels')):
        ax.plot(iters, smooth([line[key] for line in lines]), label=label)
    ax.set(title='pseudo-label mIoU vs. true target labels', xlabel='UDA iteration', ylabel='mIoU (%)')
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(iters, smooth([line['confident_share'] for line in lines]), color='k', label='all classes')
    for c, name in enumerate(classes):
        ax.plot(iters, smooth([line['confident_by_class'][c] for line in lines]), lw=0.9, label=name)
    ax.set(title='confident share (max prob >= threshold)', xlabel='UDA iteration', ylim=(0, 1))
    ax.legend(fontsize=7)
    ax = axes[2]
    for c, name in enumerate(classes):
        colour = f'C{c}'
        ax.plot(iters, smooth([line['pseudo_share'][c] for line in lines]), color=colour, label=f'{name} pseudo')
        ax.plot(iters, smooth([line['true_share'][c] for line in lines]), color=colour, ls='--', lw=0.8)
    ax.set(title='class share: pseudo (solid) vs. true (dashed)', xlabel='UDA iteration')
    ax.legend(fontsize=7)
    ax = axes[3]
    for c, name in enumerate(classes):
        ax.plot(iters, smooth([line['iou'][c] for line in lines]), label=name)
    ax.set(title='pseudo-label IoU per class', xlabel='UDA iteration', ylabel='IoU (%)')
    ax.legend(fontsize=7)
    fig.suptitle(f'{title} (moving average over {SMOOTH} iterations; 2 target crops of 128 x 128 each)',
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(series: dict[str, list[dict]], path: Path) -> None:
    """The runs side by side: pseudo-label mIoU, confident share and accuracy of the confident pixels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = (('miou', 'pseudo-label mIoU (%)'), ('confident_share', 'confident share'),
              ('accuracy_confident', 'accuracy of the confident pixels'))
    for ax, (key, title) in zip(axes, panels):
        for name, lines in series.items():
            ax.plot([line['iter'] for line in lines], smooth([line[key] for line in lines]), label=name)
        ax.set(title=title, xlabel='UDA iteration')
        ax.legend(fontsize=8)
    fig.suptitle(f'daspm-warm under target shifts (moving average over {SMOOTH} iterations)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_lines(path: Path) -> list[dict]:
    """The hook's JSON lines."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    """Train (or find) the runs, copy the diagnostics next to their plots, write the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--shifts', nargs='+', default=['default', 'sensor-1'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--iters', type=int, default=bench.DEFAULT_ITERS,
                        help='the benchmark\'s schedule: source-only trains this many iterations')
    parser.add_argument('--uda-factor', type=float, default=0.5,
                        help='UDA iterations as a share of --iters (0.5: daspm-warm; 1.0: the longer schedule)')
    parser.add_argument('--interval', type=int, default=1, help='iterations between two diagnostic lines')
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--work-root', type=Path, default=Path('work_dirs/shift_diagnostics'))
    parser.add_argument('--data-root', type=Path, default=Path('data/shift_diagnostics'))
    parser.add_argument('--out', type=Path, default=Path('benchmarks/results/shift_diagnostics'))
    parser.add_argument('--plot-only', action='store_true', help='only re-plot the JSON lines under --out')
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    row = diagnostic_row(args.uda_factor, args.interval)
    suffix = '' if args.uda_factor == 0.5 else f'-x{args.uda_factor:g}'
    if args.plot_only:
        files = sorted(args.out.glob('*.jsonl'))
        for path in files:
            plot(read_lines(path), path.stem, path.with_suffix('.png'))
        plot_comparison({p.stem: read_lines(p) for p in files}, args.out / 'comparison.png')
        return
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    data = {shift: args.data_root / shift / f'seed{args.seed}' for shift in args.shifts}
    for shift, root in data.items():
        bench.prepare_data(bench.REPO / root, args.seed, shift)
    work = args.work_root / f'seed{args.seed}'
    source_only = next(r for r in bench.benchmark_rows() if r.name == 'source-only')
    so_data = args.data_root / 'default' / f'seed{args.seed}'
    bench.prepare_data(bench.REPO / so_data, args.seed, 'default')
    so = bench.train_and_test(source_only, args.seed, so_data, work / 'source-only', args.iters, 2 * threads, None)

    def job(shift: str) -> dict:
        result = bench.train_and_test(row, args.seed, data[shift], work / shift / row.name, args.iters, threads,
                                      Path(so['checkpoint']))
        run_dir = Path(result['run_dir'])
        shutil.copyfile(run_dir / HOOK_FILE, args.out / f'{shift}{suffix}.jsonl')
        plot(read_lines(args.out / f'{shift}{suffix}.jsonl'), f'{shift}, daspm-warm, {result["iterations"]} UDA '
             f'iterations, seed {args.seed}', args.out / f'{shift}{suffix}.png')
        so_miou = so['miou'] if shift == 'default' else test_checkpoint(
            Path(so['run_dir']), Path(so['checkpoint']), data[shift], work / shift / 'source-only-test', threads)
        return dict(source_only_miou=so_miou, adapted_miou=result['miou'], uda_iterations=result['iterations'],
                    per_class=result['per_class'], train_minutes=round(result['train_minutes'], 1))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summary = dict(zip(args.shifts, pool.map(job, args.shifts)))
    plot_comparison({p.stem: read_lines(p) for p in sorted(args.out.glob('*.jsonl'))}, args.out / 'comparison.png')
    out = args.out / f'summary{suffix}.json'
    out.write_text(json.dumps(dict(seed=args.seed, iters=args.iters, uda_factor=args.uda_factor,
                                   shifts=summary), indent=2) + '\n')
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
