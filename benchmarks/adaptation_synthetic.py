"""Adaptation benchmark on the embedded synthetic Gaofen -> Sentinel data.

Trains source-only, full DASPM (DACS + ClassMix + RCS + FD) and the target oracle with the same
encoder, schedule and seed (experiment 2 of experiments.py), tests each final checkpoint on the
target test split and prints target mIoU, per-class IoU and the share of the
source-only -> oracle gap that DASPM closes:

    .venv/bin/python benchmarks/adaptation_synthetic.py [--work-root work_dirs/benchmark]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from experiments import experiment_runs  # noqa: E402

DATA = Path('data/synthetic')
CLASSES = ('green area', 'urban area', 'roads', 'impervious surface', 'water')


def run(cmd: list[str], log: Path) -> float:
    """Run a command from the repo root, logging its output; return its wall time."""
    start = time.perf_counter()
    with log.open('w') as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log}')
    return time.perf_counter() - start


def prepare_data(data: Path) -> None:
    """Generate and convert the synthetic data when it is not there yet."""
    py = sys.executable
    if not (data / 'synthetic_dataset.json').is_file():
        subprocess.run([py, 'tools/make_synthetic_dataset.py', str(data), '--quiet'], cwd=REPO, check=True)
    for tool, domain in (('gaofen2m.py', 'gaofen'), ('sentinel10m.py', 'sentinel')):
        subprocess.run([py, f'tools/convert_datasets/{tool}', str(data / domain), '--nproc', '2'],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    """Train and test the three runs, then print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-root', default='work_dirs/benchmark')
    args = parser.parse_args()
    prepare_data(REPO / DATA)  # the synthetic configs read data/synthetic/*_converted
    py = sys.executable
    results = {}
    for spec in experiment_runs(2):
        exp_dir = Path(args.work_root) / spec.name
        exp_dir.mkdir(parents=True, exist_ok=True)
        options = [f'{k}={"None" if v is None else v}' for k, v in spec.options.items()]
        train_s = run([py, 'run_experiments.py', '--config', spec.config, '--work-root', str(exp_dir),
                       '--exp-name', 'runs', *(['--cfg-options', *options] if options else [])],
                      exp_dir / 'train.log')
        run_dir = sorted((exp_dir / 'runs').iterdir())[-1]
        run(['sh', 'test.sh', str(run_dir)], exp_dir / 'test.log')
        metrics = json.loads((run_dir / 'metrics.json').read_text())['metrics']
        results[spec.name] = dict(metrics=metrics, train_minutes=train_s / 60, run_dir=str(run_dir))
        print(f'{spec.name}: target mIoU {metrics["mIoU"]:.2f} ({train_s / 60:.1f} min training)', flush=True)
    header = f'{"run":<15}{"mIoU":>7}' + ''.join(f'{c[:10]:>12}' for c in CLASSES) + f'{"train min":>11}'
    print('\n' + header)
    for name, res in results.items():
        m = res['metrics']
        print(f'{name:<15}{m["mIoU"]:>7.2f}' + ''.join(f'{(m.get(f"IoU.{c}") or float("nan")):>12.2f}' for c in CLASSES)
              + f'{res["train_minutes"]:>11.1f}')
    source, full, oracle = (results[n]['metrics']['mIoU'] for n in ('source-only', 'daspm-full', 'target-oracle'))
    gap = oracle - source
    closed = (full - source) / gap if gap > 0 else float('nan')
    print(f'\nsource-only -> oracle gap: {gap:.2f} mIoU; DASPM closes {closed * 100:.1f}% of it')
    out = Path(args.work_root) / 'adaptation_results.json'
    out.write_text(json.dumps(dict(results=results, gap=gap, closed_share=closed), indent=2))
    print(f'results: {out}')


if __name__ == '__main__':
    main()
