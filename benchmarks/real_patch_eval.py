"""Trained models on the real Sentinel-2 patch, scored against its land-cover mask, side by side.

    .venv/bin/python benchmarks/real_patch_eval.py                        # the runs of `make demo`
    .venv/bin/python benchmarks/real_patch_eval.py --runs source-only=work_dirs/demo/<run> daspm=<run> ...

Each run maps demo/real_target/s2_b2_b3_b4_b8_10m.tif through daspm-map (its config.py and
latest checkpoint); tools/eval_landcover.py scores the maps against demo/real_target/lulc_10m.tif
(vegetation -> green area, artificial surface -> built-up classes). The maps and the scores go
to work_dirs/real_patch_eval/, the scores (landcover_eval.{json,md}) also to
benchmarks/results/real_patch_eval/. Paths are taken relative to the repository root.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from daspm.cli import eval_landcover

REPO = Path(__file__).resolve().parents[1]
PATCH = Path('demo/real_target')
RESULTS = Path('benchmarks/results/real_patch_eval')
# run-directory patterns of `make demo` (scripts/demo.sh): name -> config name in the run's folder name
DEMO_RUNS = {'source-only': 'synthetic_nir_source-only_daformer_mitb0',
             'daspm': 'synthetic_nir_to_real_uda_warm_mic_teacher_daformer_mitb0'}


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
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where the demo\'s runs are')
    parser.add_argument('--out-dir', default='work_dirs/real_patch_eval', help='maps and scores')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    os.chdir(REPO)   # relative paths in the written record, whoever runs it from where
    runs = args.runs or demo_runs(Path(args.work_dir))
    if not runs:
        sys.exit('error: no runs to score: run `make demo` first, or give --runs NAME=RUN_DIR')
    record = eval_landcover.main(['--mask', str(PATCH / 'lulc_10m.tif'), '--image',
                                  str(PATCH / 's2_b2_b3_b4_b8_10m.tif'), '--runs', *runs, '--out-dir', args.out_dir,
                                  '--device', args.device])
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in ('landcover_eval.json', 'landcover_eval.md'):
        shutil.copy(Path(args.out_dir) / name, RESULTS / name)
    return record


if __name__ == '__main__':
    main()
