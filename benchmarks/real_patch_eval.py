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
             'daspm': 'synthetic_nir_to_real_uda_warm_mic_daformer_mitb0'}


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


def plot(record: dict, out_dir: Path, path: Path) -> None:
    """The patch (false colour B8/B4/B3), its land-cover mask in the project's colours and each map."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    import rasterio

    from daspm.classes import DASPM_PALETTE

    palette = np.array([*DASPM_PALETTE, *[(0, 0, 0)] * (256 - len(DASPM_PALETTE))], np.uint8)
    palette[255] = (255, 255, 255)
    with rasterio.open(PATCH / 's2_b2_b3_b4_b8_10m.tif') as src:
        bands = src.read([4, 3, 2]).astype(np.float32)
    with rasterio.open(PATCH / 'lulc_10m.tif') as src:
        mask = src.read(1)
    expected = np.full(mask.shape, 255, np.uint8)  # the mask's groups as the classes they should become
    expected[np.isin(mask, (1, 2, 3, 4, 6))] = 0   # vegetation -> green area
    expected[mask == 8] = 1                        # artificial surface -> urban area (built-up)
    expected[mask == 5] = 4                        # water
    panels = [('real patch, B8/B4/B3', np.clip(bands.transpose(1, 2, 0) / 3500.0, 0, 1)),
              ('land-cover mask as classes', palette[expected])]
    for name in record['maps']:
        with rasterio.open(out_dir / f'{name}_map.tif') as src:
            panels.append((name, palette[src.read(1)]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, interpolation='nearest')
        ax.set_title(title, fontsize=9)
        ax.axis('off')
    fig.suptitle('green: green area, red: urban area (artificial surface in the mask); white: no data', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    plot(record, Path(args.out_dir), RESULTS / 'maps.png')
    return record


if __name__ == '__main__':
    main()
