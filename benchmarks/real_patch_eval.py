"""Trained models on the real Sentinel-2 patch, scored against its land-cover mask, side by side.

    .venv/bin/python benchmarks/real_patch_eval.py                        # the runs of `make demo`
    .venv/bin/python benchmarks/real_patch_eval.py --runs source-only=work_dirs/demo/<run> daspm=<run> ...

Each run maps demo/real_target/s2_b2_b3_b4_b8_10m.tif through daspm-map (its config.py and
latest checkpoint); tools/eval_landcover.py scores the maps against demo/real_target/lulc_10m.tif
(vegetation -> green area, artificial surface -> built-up classes) and writes
benchmarks/results/real_patch_eval/landcover_eval.{json,md} with the maps beside them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from daspm.cli import eval_landcover

REPO = Path(__file__).resolve().parents[1]
PATCH = REPO / 'demo/real_target'
# run-directory patterns of `make demo` (scripts/demo.sh): name -> config name in the run's folder name
DEMO_RUNS = {'source-only': 'synthetic_source-only_daformer_mitb0',
             'daspm': 'synthetic_uda_warm_rcs_fd_daformer_mitb0'}


def demo_runs(work_dir: Path) -> list[str]:
    """NAME=RUN of the latest demo run of each kind; the kinds not trained yet are reported and left out."""
    found = []
    for name, config in DEMO_RUNS.items():
        runs = sorted(work_dir.glob(f'*_{config}_*'))
        if runs:
            found.append(f'{name}={runs[-1]}')
        else:
            print(f'no {name} run in {work_dir} (train it with `make demo`): left out', file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> dict:
    """Score the runs; returns eval_landcover's JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', metavar='NAME=RUN', help='run directories (default: the demo\'s)')
    parser.add_argument('--work-dir', default=str(REPO / 'work_dirs/demo'), help='where the demo\'s runs are')
    parser.add_argument('--out-dir', default=str(REPO / 'benchmarks/results/real_patch_eval'))
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    runs = args.runs or demo_runs(Path(args.work_dir))
    if not runs:
        sys.exit('error: no runs to score: run `make demo` first, or give --runs NAME=RUN_DIR')
    return eval_landcover.main(['--mask', str(PATCH / 'lulc_10m.tif'), '--image', str(PATCH / 's2_b2_b3_b4_b8_10m.tif'),
                                '--runs', *runs, '--out-dir', args.out_dir, '--device', args.device])


if __name__ == '__main__':
    main()
