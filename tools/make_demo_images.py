#!/usr/bin/env python
"""Rebuild the demo images in demo/ from the real Sentinel-2 patch in tests/fixtures/.

    python tools/make_demo_images.py [--patch tests/fixtures/s2_eolearn_patch] [--out demo]

Writes two GeoTIFFs of the same ~1 km2 (eo-learn example data, MIT licence, copyright Sinergise):
* ``demo.tif``: 8-bit RGB (B4, B3, B2; reflectance / 3000 stretched to 0..255) resampled x5
  (bicubic) onto the 2 m grid: the format of the published DASPM data, for the
  ``gaofen2sentinel_*`` configs;
* ``demo_s2_10m.tif``: the four 10 m bands B2, B3, B4, B8 as uint16 reflectance x 10000, for the
  ``gaofen2sentinel10m_*`` and synthetic configs.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np
import rasterio
from affine import Affine

FACTOR = 5  # 10 m -> 2 m
REFLECTANCE_WHITE = 3000.0  # reflectance x 10000 that becomes 255 (0.3 reflectance)


def rgb8_on_fine_grid(src_path: Path, out_path: Path) -> None:
    """B4, B3, B2 of ``src_path`` as 8-bit RGB, resampled x5 onto the 2 m grid."""
    with rasterio.open(src_path) as src:
        names = [d.upper().replace('B0', 'B') if d else '' for d in src.descriptions]
        bands = [names.index(b) + 1 for b in ('B4', 'B3', 'B2')]
        data = src.read(bands).astype(np.float32)
        crs, transform = src.crs, src.transform
    h, w = data.shape[1:]
    fine = cv2.resize(data.transpose(1, 2, 0), (w * FACTOR, h * FACTOR), interpolation=cv2.INTER_CUBIC)
    rgb = np.clip(np.rint(fine / REFLECTANCE_WHITE * 255.0), 0, 255).astype(np.uint8).transpose(2, 0, 1)
    profile = dict(driver='GTiff', width=rgb.shape[2], height=rgb.shape[1], count=3, dtype='uint8',
                   crs=crs, transform=transform @ Affine.scale(1 / FACTOR), compress='deflate',
                   photometric='RGB')
    with rasterio.open(out_path, 'w', **profile) as dst:
        dst.write(rgb)
        for i, name in enumerate(('red', 'green', 'blue'), start=1):
            dst.set_band_description(i, name)


def main() -> None:
    """Command-line entry point."""
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--patch', type=Path, default=repo / 'tests/fixtures/s2_eolearn_patch')
    parser.add_argument('--out', type=Path, default=repo / 'demo')
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    src = args.patch / 's2_b2_b3_b4_b8_10m.tif'
    rgb8_on_fine_grid(src, args.out / 'demo.tif')
    shutil.copyfile(src, args.out / 'demo_s2_10m.tif')
    print(f'wrote {args.out / "demo.tif"} and {args.out / "demo_s2_10m.tif"}')


if __name__ == '__main__':
    main()
