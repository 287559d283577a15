"""Adaptation benchmark on synthetic Gaofen -> Sentinel data: several data and training seeds.

Trains every run of the table below on ``--seeds`` (seed s: the dataset generated with
``--seed s`` and training seed s, so both the data and the training vary), tests each final
checkpoint on the seed's 18 target test tiles and reports target mIoU and per-class IoU as
mean +- std over seeds, and the share of the source-only -> oracle gap each run closes
(computed per seed, then averaged; and pooled: mean gain / mean gap over those seeds):

    .venv/bin/python benchmarks/adaptation_synthetic.py [--seeds 0 1 2] [--iters 400] [--jobs 2] [--runs all]

Writes ``benchmarks/results/adaptation_synthetic.json`` and ``.png`` (``--out``). Finished runs
are kept under ``--work-root`` and skipped when the command is run again, so an interrupted
benchmark resumes, and ``--runs`` adds rows to an existing one.

The runs (experiment 4 of experiments.py plus those that depend on the seed or the schedule):
- ``source-only``, ``oracle`` (trained on the target labels), ``daspm`` (DACS + ClassMix + RCS +
  FD, the repo's synthetic recipe "as published", from random weights), ``daspm-mic`` (with
  masked image consistency);
- ``daspm-warm``: the same recipe for half the schedule from the seed's source-only checkpoint
  (teacher and FD model included), standing in for the reference's ImageNet start: DASPM as
  ``make demo`` trains it; ``daspm-warm-mic``: the same with MIC;
- one lever each on top of ``daspm``: ``daspm-s2sim`` (source images rendered as Sentinel-2 10 m
  sees them), ``daspm-pixel-weight`` (per-pixel pseudo-weights); on top of ``daspm-warm``:
  ``daspm-warm-fd-ratio-0.5`` (FD mask cells need a 50 % majority instead of 75 %; experiment 4's
  ``daspm-fd-ratio-0.5``) and ``daspm-warm-longer`` (the longer schedule: the full schedule of
  UDA after source-only, 800 iterations in all; a 2x schedule from scratch would take 27 min a
  seed on 2 cores, and this one has an exact control);
- ``daspm-tuned``: warm start, sensor simulation and per-pixel weights together (``TUNED``);
  ``daspm-tuned-mic``: the same with MIC;
- controls: ``source-only-s2sim`` (the sensor simulation without adaptation);
  ``source-only-warm`` and ``source-only-warm-longer`` (source-only continued from the same
  checkpoint on the same schedule as the warm rows, the source loss alone: what the warm rows'
  extra iterations give without adaptation); ``source-only-longer`` and ``source-only-2x``
  (one source-only schedule as long in all as ``daspm-warm`` or ``daspm-warm-longer``);
  ``oracle-warm`` and ``oracle-warm-longer``: the oracle's loss on the warm rows' start and
  schedule, their ceiling. Each row
  that trains longer than source-only is also reported against its control, as a gain and as a
  share of the gap from the control to the ceiling (``oracle-warm`` where it ran, else ``oracle``).

Every dataset has 32 source and 48 target tiles (320 x 320 on the 2 m grid) split
50 / 12.5 / 37.5 %: 16 source and 24 target training tiles, 18 target test tiles. The network
is DAFormer on a MiT-B0-sized encoder without ImageNet weights, crop 128, batch 2 + 2.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from daspm.cli.train import load_experiments

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = load_experiments(REPO / 'experiments.py')

NUM_SOURCE, NUM_TARGET = 32, 48
DEFAULT_ITERS = 400  # make demo trains the daspm-warm row of seed 0 with this schedule (scripts/demo.sh)
GENERATOR_ARGS = ['--num-source', str(NUM_SOURCE), '--num-target', str(NUM_TARGET), '--splits', '0.5,0.125,0.375']
CLASSES = ('green area', 'urban area', 'roads', 'impervious surface', 'water')
# experiment 4's run names -> the benchmark's row names
# DASPM with the levers that helped on average (warm start, sensor simulation, per-pixel weights)
TUNED = 'configs/daspm/synthetic_uda_warm_s2sim_pixel_daformer_mitb0.py'
# the same plus MIC: MIC's gain measured on top of the tuned method, not only on top of the published one
TUNED_MIC = 'configs/daspm/synthetic_uda_warm_s2sim_pixel_mic_daformer_mitb0.py'
# the rows run by default: the protocol (source-only, DASPM as published, DASPM as the demo
# trains it, MIC on it, the oracle) and the control of the warm rows; --runs all adds the levers
CORE_ROWS = ('source-only', 'daspm', 'oracle', 'daspm-warm', 'daspm-warm-mic', 'source-only-warm')
ROW_NAMES = {'daspm-full': 'daspm', 'daspm-rcs-fd-mic': 'daspm-mic', 'target-oracle': 'oracle'}


@dataclass(frozen=True)
class Row:
    """One row of the benchmark: a config and options, run once per seed."""

    name: str
    config: str
    options: dict = field(default_factory=dict)
    iters_factor: float = 1.0   # share of --iters this run trains
    warm_start: bool = False    # start from the same seed's source-only checkpoint


def benchmark_rows() -> list[Row]:
    """Experiment 4's runs, then the warm start, the longer schedule and the tuned combination."""
    rows = [Row(ROW_NAMES.get(run.name, run.name), run.config, dict(run.options))
            for run in EXPERIMENTS.experiment_runs(4)]
    uda = next(r for r in rows if r.name == 'daspm')
    mic = next(r for r in rows if r.name == 'daspm-mic')
    source_only = next(r for r in rows if r.name == 'source-only')
    fd_ratio = next(r for r in rows if r.name == 'daspm-fd-ratio-0.5')
    # the FD-ratio lever is measured on the warm start (13.6 min a seed less than from random weights)
    rows.remove(fd_ratio)
    oracle = next(r for r in rows if r.name == 'oracle')
    rows += [
        Row('source-only-longer', source_only.config, iters_factor=1.5),
        Row('daspm-warm', uda.config, iters_factor=0.5, warm_start=True),
        Row('daspm-warm-mic', mic.config, dict(mic.options), iters_factor=0.5, warm_start=True),
        Row('daspm-warm-fd-ratio-0.5', uda.config, dict(fd_ratio.options), iters_factor=0.5, warm_start=True),
        # the longer schedule on the warm start: 400 UDA iterations after the 400 source-only ones,
        # with its equal-iteration control
        Row('daspm-warm-longer', uda.config, iters_factor=1.0, warm_start=True),
        Row('source-only-2x', source_only.config, iters_factor=2.0),
        # the exact controls of the warm rows: the same start and schedule, the source loss only
        Row('source-only-warm', source_only.config, iters_factor=0.5, warm_start=True),
        Row('source-only-warm-longer', source_only.config, iters_factor=1.0, warm_start=True),
        # the ceiling of the warm rows: the oracle's loss on the same start and schedule
        Row('oracle-warm', oracle.config, iters_factor=0.5, warm_start=True),
        Row('oracle-warm-longer', oracle.config, iters_factor=1.0, warm_start=True),
        Row('daspm-tuned', TUNED, iters_factor=0.5, warm_start=True),
        Row('daspm-tuned-mic', TUNED_MIC, iters_factor=0.5, warm_start=True),
    ]
    return rows


def run_logged(cmd: list[str], log: Path, threads: int | None) -> None:
    """Run a command from the repo root into ``log``; one clear error if it fails."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with log.open('w') as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log}')


def prepare_data(data: Path, seed: int, shift: str = 'default') -> None:
    """Generate and convert the seed's synthetic dataset (target rendered with ``shift``) when it is not there yet."""
    py = sys.executable
    manifest = data / 'synthetic_dataset.json'
    if manifest.is_file():
        params = json.loads(manifest.read_text()).get('parameters', {})
        found = (params.get('num_source'), params.get('num_target'), params.get('seed'), params.get('shift', 'default'))
        if found != (NUM_SOURCE, NUM_TARGET, seed, shift):
            raise SystemExit(f'{data} holds another synthetic dataset ({params}); remove it or pass another --data-root')
    else:
        subprocess.run([py, 'tools/make_synthetic_dataset.py', str(data), '--seed', str(seed), *GENERATOR_ARGS,
                        '--shift', shift, '--quiet'], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    for tool, domain in (('gaofen2m.py', 'gaofen'), ('sentinel10m.py', 'sentinel')):
        if not (data / f'{domain}_converted').is_dir():
            subprocess.run([py, f'tools/convert_datasets/{tool}', str(data / domain), '--nproc', '2'],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_options(row: Row, data: Path, seed: int, iters: int, warm_checkpoint: Path | None) -> list[str]:
    """``cfg-options`` of one run: data roots, seed, schedule length and the row's own options."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / row.config))
    source, target = str(data / 'gaofen_converted'), str(data / 'sentinel_converted')
    train = cfg.train_dataloader.dataset
    options = {'val_dataloader.dataset.data_root': target, 'test_dataloader.dataset.data_root': target,
               'randomness.seed': seed, 'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
               'param_scheduler.1.end': iters, 'default_hooks.checkpoint.interval': iters}
    if train.type == 'UDADataset':
        options.update({'train_dataloader.dataset.source.data_root': source,
                        'train_dataloader.dataset.target.data_root': target, 'model.seed': seed})
    else:
        options['train_dataloader.dataset.data_root'] = source if train.type == 'GaofenDataset' else target
    if warm_checkpoint is not None:  # the segmentor: DACS's model.model, or a plain config's model
        network = 'model.model' if train.type == 'UDADataset' else 'model'
        options.update({f'{network}.init_cfg.type': 'Pretrained', f'{network}.init_cfg.checkpoint': str(warm_checkpoint)})
    options.update(row.options)
    return [f'{k}={v}' for k, v in options.items()]


def final_checkpoint(run_dir: Path) -> Path:
    """The last checkpoint a run wrote."""
    return Path((run_dir / 'last_checkpoint').read_text().strip())


def train_and_test(row: Row, seed: int, data: Path, work: Path, iters: int, threads: int | None,
                   warm_from: Path | None) -> dict:
    """Train and test one row on one seed (or read the result of an earlier invocation)."""
    result_file = work / 'result.json'
    if result_file.is_file():
        return json.loads(result_file.read_text())
    py = sys.executable
    run_iters = max(1, round(iters * row.iters_factor))
    start = time.perf_counter()
    runs = work / 'runs'
    if runs.is_dir():  # an interrupted earlier attempt: train again from scratch
        subprocess.run(['rm', '-rf', str(runs)], check=True)
    work.mkdir(parents=True, exist_ok=True)
    run_logged([py, 'run_experiments.py', '--config', row.config, '--work-root', str(work), '--exp-name', 'runs',
                '--cfg-options', *run_options(row, data, seed, run_iters, warm_from)], work / 'train.log', threads)
    train_s = time.perf_counter() - start
    run_dir = sorted(runs.iterdir())[-1]
    run_logged(['sh', 'test.sh', str(run_dir)], work / 'test.log', threads)
    metrics = json.loads((run_dir / 'metrics.json').read_text())['metrics']
    result = dict(miou=metrics['mIoU'], per_class={c: metrics.get(f'IoU.{c}') for c in CLASSES},
                  iterations=run_iters, train_minutes=train_s / 60, run_dir=str(run_dir),
                  checkpoint=str(final_checkpoint(run_dir)), pseudo_weight=mean_logged(run_dir, 'pseudo_weight'),
                  fd_mask_share=mean_logged(run_dir, 'fd_mask_share'))
    result_file.write_text(json.dumps(result, indent=2))
    return result


def mean_logged(run_dir: Path, key: str) -> float | None:
    """Mean of a value the training log holds (``pseudo_weight``, ``fd_mask_share``); None if never logged."""
    logs = sorted(run_dir.glob('*/vis_data/scalars.json'))
    if not logs:
        return None
    values = [rec[key] for line in logs[-1].read_text().splitlines()
              if line.strip() and key in (rec := json.loads(line))]
    return statistics.fmean(values) if values else None


def equal_iteration_control(row: Row, rows: list[Row], baseline: str = 'source-only') -> str | None:
    """The ``baseline`` row (source-only, or the oracle) trained as many iterations in all as ``row``,
    if ``row`` trains longer than the baseline and is not one of its kind.

    A warm row's control starts from the same source-only model and runs the same schedule with the
    baseline's loss alone; a row from scratch's control is the baseline with its longer schedule.
    """
    base = next(r for r in rows if r.name == baseline)
    source_only = next(r for r in rows if r.name == 'source-only')
    total = row.iters_factor + (source_only.iters_factor if row.warm_start else 0.0)
    if total == base.iters_factor or row.config == base.config:
        return None
    return next((r.name for r in rows if (r.config, r.options) == (base.config, {})
                 and (r.warm_start, r.iters_factor) == (row.warm_start, row.iters_factor if row.warm_start else total)),
                None)


def summarise(rows: list[Row], seeds: list[int], results: dict, iters: int) -> dict:
    """Mean +- std of mIoU per row, per-class IoU lists and the gap closed per seed."""
    runs = {}
    for row in rows:
        per_seed = [results.get((row.name, s)) for s in seeds]
        if not any(per_seed):
            continue
        miou = [r['miou'] if r else None for r in per_seed]
        # seeds differ by up to 10 mIoU, so rows are compared with source-only of the same seed
        gain, gap = [], []
        for s, value in zip(seeds, miou):
            source, oracle = (results.get((n, s), {}).get('miou') for n in ('source-only', 'oracle'))
            gain.append(value - source if None not in (value, source) else None)
            gap.append(oracle - source if None not in (value, source, oracle) and oracle > source else None)
        closed = [g / d if d is not None else None for g, d in zip(gain, gap)]
        done = [v for v in miou if v is not None]
        done_closed = [c for c in closed if c is not None]
        # pooled: mean gain / mean gap over the seeds where the row, source-only and oracle ran. A
        # seed with a small gap (1.8 mIoU on seed 1) swings the per-seed share by +-100 %; pooled, each
        # seed weighs by its gap.
        pooled = [(g, d) for g, d in zip(gain, gap) if d is not None]
        done_gain = [g for g in gain if g is not None]
        class_gain = per_class_gain(results, row.name, seeds)
        # a row that trains longer than source-only is also measured against source-only trained as
        # long: its gain over source-only is partly more training (the 400-iteration schedule has not
        # converged)
        control = equal_iteration_control(row, rows)
        # the ceiling: the oracle trained as long (from the same source-only model) where it ran
        ceiling = equal_iteration_control(row, rows, 'oracle')
        if ceiling is None or not any((ceiling, s) in results for s in seeds):
            ceiling = 'oracle'
        control_gain, pooled_control = [], []  # per seed; (gain, ceiling - control) where all three ran
        for s, value in zip(seeds, miou):
            base, top = (results.get((n, s), {}).get('miou') for n in (control, ceiling))
            over = value - base if control is not None and None not in (value, base) else None
            control_gain.append(over)
            if over is not None and top is not None:
                pooled_control.append((over, top - base))
        done_control = [g for g in control_gain if g is not None]
        control_gap_sum = sum(d for _, d in pooled_control)
        runs[row.name] = dict(
            config=row.config, options=row.options, iterations=round(iters * row.iters_factor),
            warm_start=row.warm_start, miou=miou,
            miou_mean=statistics.fmean(done), miou_std=statistics.stdev(done) if len(done) > 1 else 0.0,
            per_class={c: [r['per_class'][c] if r else None for r in per_seed] for c in CLASSES},
            gain_over_source_only=gain,
            gain_mean=statistics.fmean(done_gain) if done_gain else None,
            gain_std=statistics.stdev(done_gain) if len(done_gain) > 1 else None,
            gap_closed=closed,
            gap_closed_mean=statistics.fmean(done_closed) if done_closed else None,
            gap_closed_std=statistics.stdev(done_closed) if len(done_closed) > 1 else None,
            gap_closed_pooled=sum(g for g, _ in pooled) / sum(d for _, d in pooled) if pooled else None,
            per_class_gain_mean=class_gain,
            classes_below_source_only=[c for c, g in class_gain.items() if g is not None and g < 0],
            control=control, control_ceiling=ceiling if control is not None else None, gain_over_control=control_gain,
            classes_below_control=([c for c, g in per_class_gain(results, row.name, seeds, control).items()
                                    if g is not None and g < 0] if control is not None else None),
            gain_over_control_mean=statistics.fmean(done_control) if done_control else None,
            # mean gain over the control / mean (ceiling - control)
            gap_closed_over_control_pooled=(sum(g for g, _ in pooled_control) / control_gap_sum
                                            if pooled_control and control_gap_sum > 0 else None),
            pseudo_weight=[r.get('pseudo_weight') if r else None for r in per_seed],
            fd_mask_share=[r.get('fd_mask_share') if r else None for r in per_seed],
            train_minutes=[round(r['train_minutes'], 2) if r else None for r in per_seed])
    return dict(test_tiles=round(NUM_TARGET * 0.375), seeds=seeds, iters=iters,
                command='python benchmarks/adaptation_synthetic.py ' + ' '.join(sys.argv[1:]), runs=runs)


def per_class_gain(results: dict, name: str, seeds: list[int], baseline: str = 'source-only') -> dict[str, float | None]:
    """Per class: mean over seeds of (IoU of ``name`` - IoU of ``baseline``), seeds where both ran.

    A class without IoU on a seed (no pixel of it in the test tiles) is left out of that seed.
    """
    gains: dict[str, float | None] = {}
    for c in CLASSES:
        diffs = [results[(name, s)]['per_class'][c] - results[(baseline, s)]['per_class'][c]
                 for s in seeds if (name, s) in results and (baseline, s) in results
                 and results[(name, s)]['per_class'].get(c) is not None
                 and results[(baseline, s)]['per_class'].get(c) is not None]
        gains[c] = statistics.fmean(diffs) if diffs else None
    return gains


def print_table(summary: dict) -> None:
    """mean +- std mIoU, gap closed and mean per-class IoU of every row."""
    header = (f'{"run":<20}{"seeds":>6}{"mIoU":>15}{"vs source-only":>17}{"gap closed":>17}'
              + ''.join(f'{c[:10]:>12}' for c in CLASSES) + '  classes below source-only')
    print(header)
    for name, run in summary['runs'].items():
        n = ','.join(str(s) for s, v in zip(summary['seeds'], run['miou']) if v is not None)
        gain = (f'{run["gain_mean"]:+.2f} +- {run["gain_std"] or 0:.2f}' if run['gain_mean'] is not None else '')
        gap = (f'{run["gap_closed_mean"] * 100:+.1f} +- {(run["gap_closed_std"] or 0) * 100:.1f}%'
               if run['gap_closed_mean'] is not None else '')
        classes = ''.join(f'{statistics.fmean(v for v in run["per_class"][c] if v is not None):>12.2f}'
                          if any(v is not None for v in run['per_class'][c]) else f'{"":>12}' for c in CLASSES)
        below = ', '.join(run['classes_below_source_only']) if name != 'source-only' else ''
        print(f'{name:<20}{n:>6}{run["miou_mean"]:>8.2f} +- {run["miou_std"]:<4.2f}{gain:>17}{gap:>17}' + classes
              + f'  {below}')


def markdown_table(summary: dict) -> str:
    """The table of the README and the issue notes: mean +- std over seeds, gap closed, per-class change."""
    lines = ['| run | seeds | target mIoU | minus source-only, same seed | gap closed (per seed) | gap closed (pooled) | '
             'minus source-only trained as long (gap closed, pooled) | '
             + ' | '.join(f'{c} (vs source-only)' for c in CLASSES) + ' |',
             '|---|---|---|---|---|---|---|' + '---|' * len(CLASSES)]
    for name, run in summary['runs'].items():
        seeds = ','.join(str(s) for s, v in zip(summary['seeds'], run['miou']) if v is not None)
        gain = f'{run["gain_mean"]:+.2f} ± {run["gain_std"] or 0:.2f}' if name != 'source-only' else ''
        gap = (f'{run["gap_closed_mean"] * 100:+.0f} ± {(run["gap_closed_std"] or 0) * 100:.0f} %'
               if run['gap_closed_mean'] is not None and not name.startswith(('source-only', 'oracle')) else '')
        pooled = (f'{run["gap_closed_pooled"] * 100:+.0f} %'
                  if run['gap_closed_pooled'] is not None and not name.startswith(('source-only', 'oracle')) else '')
        control = ''
        if run.get('gain_over_control_mean') is not None:
            control = f'{run["gain_over_control_mean"]:+.2f} vs {run["control"]}'
            if run['gap_closed_over_control_pooled'] is not None and not name.startswith('oracle'):
                control += f' ({run["gap_closed_over_control_pooled"] * 100:+.0f} % of the gap to {run["control_ceiling"]})'
        cells = []
        for c in CLASSES:
            values = [v for v in run['per_class'][c] if v is not None]
            mean = f'{statistics.fmean(values):.1f}' if values else 'n/a'
            delta = run['per_class_gain_mean'].get(c)
            cells.append(mean if name == 'source-only' or delta is None else f'{mean} ({delta:+.1f})')
        lines.append(f'| {name} | {seeds} | {run["miou_mean"]:.2f} ± {run["miou_std"]:.2f} | {gain} | {gap} | {pooled} | {control} | '
                     + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(summary: dict, path: Path) -> None:
    """Left: target mIoU per row (mean +- std, one dot per seed); right: mIoU minus source-only of the same
    seed, with a red line at the mean gain over source-only trained as long where a row trains longer."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(summary['runs'])
    fig, (left, right) = plt.subplots(1, 2, figsize=(2.0 + 1.5 * len(names), 4.8))
    for i, name in enumerate(names):
        run = summary['runs'][name]
        colour = 'tab:grey' if name.startswith(('source-only', 'oracle')) else 'tab:blue'
        seeds = [s for s, v in zip(summary['seeds'], run['miou']) if v is not None]
        left.bar(i, run['miou_mean'], yerr=run['miou_std'], color=colour, alpha=0.7, capsize=4)
        left.scatter([i] * len(seeds), [v for v in run['miou'] if v is not None], color='black', s=10, zorder=3)
        gains = [g for g in run['gain_over_source_only'] if g is not None]
        if gains and name != 'source-only':
            right.bar(i, statistics.fmean(gains), color=colour, alpha=0.7)
            right.scatter([i] * len(gains), gains, color='black', s=10, zorder=3)
        if run.get('gain_over_control_mean') is not None:  # what is left once the extra iterations are counted
            right.scatter([i], [run['gain_over_control_mean']], color='tab:red', marker='_', s=400, zorder=4,
                          label='minus source-only trained as long (mean)' if not right.get_legend_handles_labels()[0]
                          else None)
    for ax, label in ((left, 'target mIoU (%)'), (right, 'mIoU - source-only of the same seed')):
        ax.set_xticks(range(len(names)), [f'{n}\n(seeds {",".join(str(s) for s, v in zip(summary["seeds"], summary["runs"][n]["miou"]) if v is not None)})'
                                          for n in names], rotation=40, ha='right', fontsize=8)
        ax.set_ylabel(label)
    right.axhline(0.0, color='black', lw=0.8)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=8, loc='upper left')
    fig.suptitle(f'synthetic Gaofen -> Sentinel, {summary["test_tiles"]} target test tiles per seed, '
                 f'{summary["iters"]} iterations', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Train and test every (row, seed), then write the summary JSON and chart."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=DEFAULT_ITERS, help='iterations of a run with iters_factor 1')
    parser.add_argument('--runs', nargs='+', default=list(CORE_ROWS),
                        help=f'rows to run, or "all" (default: {" ".join(CORE_ROWS)}); rows run earlier are '
                             'reported too')
    parser.add_argument('--jobs', type=int, default=2, help='runs trained at once (each gets cores / jobs threads)')
    parser.add_argument('--work-root', type=Path, default=Path('work_dirs/benchmark_adaptation'))
    parser.add_argument('--data-root', type=Path, default=Path('data/synthetic_benchmark'))
    parser.add_argument('--out', type=Path, default=Path('benchmarks/results/adaptation_synthetic.json'))
    parser.add_argument('--markdown', action='store_true', help='also print the table as Markdown')
    parser.add_argument('--report-only', action='store_true',
                        help='train nothing: summarise the runs finished under --work-root (rows and seeds '
                             'without a result are reported as missing)')
    args = parser.parse_args()
    rows = benchmark_rows()
    known = [r.name for r in rows]
    wanted = known if args.runs == ['all'] else args.runs
    if unknown := sorted(set(wanted) - set(known)):
        raise SystemExit(f'unknown run(s) {unknown}; known: {known}')
    selected = [r for r in rows if r.name in wanted]
    if args.report_only:
        selected = []
    for seed in args.seeds if selected else []:
        prepare_data(REPO / args.data_root / f'seed{seed}', seed)
    # one share of the cores per run: torch's default of one thread per core, with several runs at
    # once, makes their OpenMP threads spin against each other (measured: 40x slower iterations)
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    results: dict[tuple[str, int], dict] = {}
    lock = threading.Lock()
    source_only_done = {seed: threading.Event() for seed in args.seeds}
    for row in rows:  # earlier invocations' results
        for seed in args.seeds:
            done = args.work_root / f'seed{seed}' / row.name / 'result.json'
            if done.is_file():
                results[(row.name, seed)] = json.loads(done.read_text())
    for seed in args.seeds:
        if ('source-only', seed) in results:
            source_only_done[seed].set()

    def job(row: Row, seed: int) -> None:
        warm_from = None
        if row.warm_start:
            source_only_done[seed].wait()
            if ('source-only', seed) not in results:
                raise RuntimeError(f'{row.name} seed {seed} needs the source-only run of that seed')
            warm_from = Path(results[('source-only', seed)]['checkpoint'])
        work = args.work_root / f'seed{seed}' / row.name
        try:
            result = train_and_test(row, seed, args.data_root / f'seed{seed}', work, args.iters, threads, warm_from)
        finally:
            if row.name == 'source-only':
                source_only_done[seed].set()
        with lock:
            results[(row.name, seed)] = result
            print(f'{row.name} seed {seed}: target mIoU {result["miou"]:.2f} '
                  f'({result["train_minutes"]:.1f} min)', flush=True)

    # source-only first (warm starts wait for it), then the rows in table order, seed by seed
    order = sorted(((r, s) for s in args.seeds for r in selected), key=lambda rs: (rs[0].name != 'source-only',
                                                                                     rs[1], known.index(rs[0].name)))
    pending = [(r, s) for r, s in order if (r.name, s) not in results]
    for seed in args.seeds:  # no source-only run coming for a seed: its warm starts fail at once
        if ('source-only', seed) not in {(r.name, s) for r, s in pending}:
            source_only_done[seed].set()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(job, r, s) for r, s in pending]:
            future.result()
    summary = summarise(rows, args.seeds, results, args.iters)
    print_table(summary)
    if args.markdown:
        print(markdown_table(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + '\n')
    plot(summary, args.out.with_suffix('.png'))
    print(f'results: {args.out} and {args.out.with_suffix(".png")}')


if __name__ == '__main__':
    main()
