"""The example of docs/composites_and_stac.md: two generated dates of one tile, their maps, the composite, the count.

    python tools/composite_example.py [--work-dir work_dirs/composite_example]
        [--figure docs/images/composite_example.png]

Writes two Sentinel-2 L2A products of tile T32TQM ten days apart (one landscape, 7% darker on the
second date) with clouds in different places
(daspm.synthetic.sentinel2_product), maps each date alone and both as a composite through the
Python API with STAC items, and draws one PNG: each date's true-colour input and map, the
composite and the count of clear dates. The model is a nearest-colour classifier (a per-pixel
predictor, as the mapper accepts any callable with ``num_classes``): no checkpoint to train or
download, and classes that follow the generated reflectance, so the pictures show the mechanics.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

try:
    import torch

    from daspm.mapping import input_spec, map_scene_to_files
    from daspm.mapping.composite import composite_to_files, count_path
    from daspm.mapping.stac import write_stac
    from daspm.classes import DASPM_CLASSES, DASPM_PALETTE
    from daspm.synthetic.sentinel2_product import synthetic_reflectance, write_product
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

SPEC = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
SIZE = 60                                           # 10 m pixels: 300 x 300 px at 2 m
DATES = (('20220101T101431', (6, 6, 30, 36), 1.0), ('20220111T101431', (30, 24, 54, 54), 0.93))  # sensing, cloud, gain
NO_DATA = (54, 0, 60, 18)                           # outside the swath on both dates


class NearestColour:
    """Per-pixel classifier: logits fall with the distance of the (B4, B3, B2) input to one colour per class."""

    num_classes = len(DASPM_CLASSES)
    classes, palette = DASPM_CLASSES, DASPM_PALETTE
    centres = torch.tensor([[0.5, 1.1, 0.5], [1.2, 0.6, 0.6], [0.8, 0.8, 0.8], [1.2, 1.2, 1.3], [0.5, 0.5, 1.2]])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return -8.0 * ((images[:, None] - self.centres[None, :, :, None, None]) ** 2).sum(2)


def _read(path: Path) -> np.ndarray:
    import rasterio
    with rasterio.open(path) as src:
        return src.read(1)


def _true_colour(product: Path) -> np.ndarray:
    """B4 B3 B2 of a product at 10 m, stretched for display."""
    import rasterio
    bands = []
    for name in ('B04', 'B03', 'B02'):
        with rasterio.open(next(product.rglob(f'*_{name}_10m.jp2'))) as src:
            bands.append(src.read(1).astype(np.float32))
    rgb = np.stack(bands, axis=-1)
    return np.clip((rgb - 1000) / 4000, 0, 1)


def figure(path: Path, products: list[Path], maps: list[Path], composite: Path, count: Path) -> Path:
    """One row per date (input, map), then the composite and the count."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from daspm.utils.colors import colorize

    fig, axes = plt.subplots(2, 3, figsize=(9.6, 6.6))
    for row, (product, map_path) in enumerate(zip(products, maps)):
        axes[row, 0].imshow(_true_colour(product))
        axes[row, 0].set_title(f'date {row + 1} ({DATES[row][0][:8]}): input, clouds')
        axes[row, 1].imshow(colorize(_read(map_path), DASPM_PALETTE))
        axes[row, 1].set_title(f'date {row + 1}: map (black = nodata)')
    axes[0, 2].imshow(colorize(_read(composite), DASPM_PALETTE))
    axes[0, 2].set_title('composite (mean rule)')
    shown = axes[1, 2].imshow(_read(count), cmap=ListedColormap(['#202020', '#8c8c8c', '#f0f0f0']), vmin=-0.5,
                              vmax=2.5)
    axes[1, 2].set_title('clear dates per pixel')
    fig.colorbar(shown, ax=axes[1, 2], ticks=[0, 1, 2], fraction=0.046)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=np.array(c) / 255, label=n) for n, c in zip(DASPM_CLASSES, DASPM_PALETTE)]
    fig.legend(handles=handles, loc='lower center', ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> Path:
    """Generate, map and draw."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/composite_example')
    parser.add_argument('--figure', default='docs/images/composite_example.png')
    args = parser.parse_args(argv)
    work = Path(args.work_dir)
    if work.exists():
        shutil.rmtree(work)
    land = synthetic_reflectance(SIZE, seed=1)   # one landscape, a little darker on the second date
    products = [write_product(work / f'date{n + 1}', 'L2A', '04.00', SIZE, cloud_block=cloud, nodata_block=NO_DATA,
                              reflectance={b: v * gain for b, v in land.items()}, bands=('B2', 'B3', 'B4'),
                              sensing=sensing)
                for n, (sensing, cloud, gain) in enumerate(DATES)]
    options = dict(window_size=128, overlap=32, progress=False)
    maps = []
    for n, product in enumerate(products):
        maps.append(work / 'maps' / f'date{n + 1}.tif')
        result = map_scene_to_files([product], NearestColour(), SPEC, maps[-1], **options)
        write_stac(maps[-1], result.outputs)
    composite = work / 'maps' / 'composite.tif'
    result = composite_to_files(products, NearestColour(), SPEC, composite,
                                probabilities=work / 'maps' / 'composite_probabilities.tif', **options)
    write_stac(composite, result.outputs)
    print('\n'.join(result.notes))
    out = figure(Path(args.figure), products, maps, composite, count_path(composite))
    print(f'figure: {out}')
    return out


if __name__ == '__main__':
    main()
