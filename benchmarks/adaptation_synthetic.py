"""Adaptation benchmark on the embedded synthetic Gaofen -> Sentinel data.

Trains source-only, full DASPM (DACS + ClassMix + RCS + FD) and the target oracle with the same
encoder, schedule and seed (experiment 2 of experiments.py), tests each final checkpoint on the
target test split and prints target mIoU, per-class IoU and the share of the
source-only -> oracle gap that DASPM closes:

    .venv/bin/python benchmarks/adaptation_synthetic.py [--work-root work_dirs/benchmark]

The benchmark uses its own synthetic dataset (``--data``, generated on first use): 32 source and
48 target tiles split 50/12.5/37.5 %, i.e. 16 source and 24 target training tiles and 18 target
test tiles. The default dataset of the demo has only 4 target test tiles, too few to tell
methods apart (validation mIoU of one run moved by 4 points between checkpoints).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from daspm.cli.train import load_experiments

REPO = Path(__file__).resolve().parents[1]
experiment_runs = load_experiments(REPO / 'experiments.py').experiment_runs

DATA = Path('data/synthetic_benchmark')
NUM_SOURCE, NUM_TARGET = 32, 48
GENERATOR_ARGS = ['--num-source', str(NUM_SOURCE), '--num-target', str(NUM_TARGET), '--splits', '0.5,0.125,0.375']
CLASSES = ('green area', 'urban area', 'roads', 'impervious surface', 'water')


def run(cmd: list[str], log: Path) -> float:
    """Run a command from the repo root, logging its output; return its wall time."""
    start = time.perf_counter()
    with log.open('w') as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log}')
    return time.perf_counter() - start


def pseudo_weight_summary(run_dir: Path) -> dict | None:
    """Mean logged pseudo-weight over each third of a UDA run (None for runs without one).

    The pseudo-weight is the share of target pixels the teacher predicts with confidence >= the
    threshold; it scales the whole target part of the mixed loss, so it shows how much the
    target actually contributed to training.
    """
    logs = sorted(run_dir.glob('*/vis_data/scalars.json'))
    if not logs:
        return None
    values = [(rec['step'], rec['pseudo_weight']) for line in logs[-1].read_text().splitlines()
              if line.strip() and 'pseudo_weight' in (rec := json.loads(line))]
    if not values:
        return None
    last = values[-1][0]
    thirds = [[w for step, w in values if i * last / 3 < step <= (i + 1) * last / 3] for i in range(3)]
    return dict(thirds=[sum(t) / len(t) if t else float('nan') for t in thirds],
                max=max(w for _, w in values))


def prepare_data(data: Path) -> None:
    """Generate and convert the benchmark's synthetic data when it is not there yet."""
    py = sys.executable
    manifest = data / 'synthetic_dataset.json'
    if manifest.is_file():
        params = json.loads(manifest.read_text()).get('parameters', {})
        if (params.get('num_source'), params.get('num_target')) != (NUM_SOURCE, NUM_TARGET):
            raise SystemExit(f'{data} holds a different synthetic dataset ({params.get("num_source")} + '
                             f'{params.get("num_target")} tiles); pass another --data or remove it')
    else:
        subprocess.run([py, 'tools/make_synthetic_dataset.py', str(data), *GENERATOR_ARGS, '--quiet'],
                       cwd=REPO, check=True)
    for tool, domain in (('gaofen2m.py', 'gaofen'), ('sentinel10m.py', 'sentinel')):
        subprocess.run([py, f'tools/convert_datasets/{tool}', str(data / domain), '--nproc', '2'],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def data_root_options(config: str, data: Path) -> list[str]:
    """``cfg-options`` pointing every dataset of ``config`` at the benchmark data under ``data``."""
    from mmengine.config import Config

    source, target = str(data / 'gaofen_converted'), str(data / 'sentinel_converted')
    train = Config.fromfile(str(REPO / config)).train_dataloader.dataset
    options = [f'val_dataloader.dataset.data_root={target}', f'test_dataloader.dataset.data_root={target}']
    if train.type == 'UDADataset':
        options += [f'train_dataloader.dataset.source.data_root={source}',
                    f'train_dataloader.dataset.target.data_root={target}']
    else:
        root = source if train.type == 'GaofenDataset' else target
        options.append(f'train_dataloader.dataset.data_root={root}')
    return options


def main() -> None:
    """Train and test the three runs, then print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-root', default='work_dirs/benchmark')
    parser.add_argument('--data', type=Path, default=DATA, help='benchmark dataset (generated if missing)')
    args = parser.parse_args()
    prepare_data(REPO / args.data)
    py = sys.executable
    results = {}
    for spec in experiment_runs(2):
        exp_dir = Path(args.work_root) / spec.name
        exp_dir.mkdir(parents=True, exist_ok=True)
        options = [f'{k}={"None" if v is None else v}' for k, v in spec.options.items()]
        options += data_root_options(spec.config, args.data)
        train_s = run([py, 'run_experiments.py', '--config', spec.config, '--work-root', str(exp_dir),
                       '--exp-name', 'runs', '--cfg-options', *options],
                      exp_dir / 'train.log')
        run_dir = sorted((exp_dir / 'runs').iterdir())[-1]
        run(['sh', 'test.sh', str(run_dir)], exp_dir / 'test.log')
        metrics = json.loads((run_dir / 'metrics.json').read_text())['metrics']
        results[spec.name] = dict(metrics=metrics, train_minutes=train_s / 60, run_dir=str(run_dir),
                                  pseudo_weight=pseudo_weight_summary(run_dir))
        print(f'{spec.name}: target mIoU {metrics["mIoU"]:.2f} ({train_s / 60:.1f} min training)', flush=True)
    header = f'{"run":<15}{"mIoU":>7}' + ''.join(f'{c[:10]:>12}' for c in CLASSES) + f'{"train min":>11}'
    print('\n' + header)
    for name, res in results.items():
        m = res['metrics']
        print(f'{name:<15}{m["mIoU"]:>7.2f}' + ''.join(f'{(m.get(f"IoU.{c}") or float("nan")):>12.2f}' for c in CLASSES)
              + f'{res["train_minutes"]:>11.1f}')
    source, full, oracle = (results[n]['metrics']['mIoU'] for n in ('source-only', 'daspm-full', 'target-oracle'))
    for name, res in results.items():
        if res['pseudo_weight']:
            thirds = ', '.join(f'{w:.3f}' for w in res['pseudo_weight']['thirds'])
            print(f'{name}: mean pseudo-weight per third of training {thirds} (max {res["pseudo_weight"]["max"]:.3f})')
    gap = oracle - source
    closed = (full - source) / gap if gap > 0 else float('nan')
    print(f'\nsource-only -> oracle gap: {gap:.2f} mIoU; DASPM closes {closed * 100:.1f}% of it')
    out = Path(args.work_root) / 'adaptation_results.json'
    out.write_text(json.dumps(dict(results=results, gap=gap, closed_share=closed), indent=2))
    print(f'results: {out}')


if __name__ == '__main__':
    main()
