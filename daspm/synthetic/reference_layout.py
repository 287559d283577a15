"""The synthetic data in the published DASPM layout: ``image/`` + ``label/``, 8-bit RGB on the label grid.

The reference project's users get ``data/gaofen/{image,label}/*.tif`` (no split files) and
``data/sentinel/{image,label}/*.tif`` with ``train.txt``/``val.txt``/``test.txt`` beside them,
both domains as 8-bit 3-band RGB and the Sentinel images already on the 2 m label grid. This
module writes the same tiles as the default layout in that form, so that the reference's
commands can be tried on synthetic data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from affine import Affine

# IMAGE_DIR / LABEL_DIR: the published layout's folders, under the names this module always exported.
from daspm.utils.dataset_layout import RAW_IMAGE_DIR as IMAGE_DIR, RAW_LABEL_DIR as LABEL_DIR, SPLITS

from . import writer
from .sensors import FACTOR, SENTINEL_BANDS

DASPM_LAYOUT = 'daspm'
REFERENCE_LAYOUT = 'reference'
#: --layout choices: the default (images/, labels/, splits/) and the published one
LAYOUTS: tuple[str, ...] = (DASPM_LAYOUT, REFERENCE_LAYOUT)
#: Sentinel-2 bands that become red, green, blue
RGB_SOURCE_BANDS: tuple[str, ...] = ('B4', 'B3', 'B2')
RGB_BAND_NAMES: tuple[str, ...] = ('red', 'green', 'blue')
#: reflectance x 10000 mapped to 255: reflectance 0.3 is white, as the 10 m configs scale it
STRETCH_MAX_DN = 3000.0
#: domains that come with split files in the published layout (the source trains on everything)
DOMAINS_WITH_SPLITS: tuple[str, ...] = ('sentinel',)


def sentinel_rgb_on_label_grid(image: np.ndarray, factor: int = FACTOR,
                               bands: Sequence[str] = SENTINEL_BANDS) -> np.ndarray:
    """(3, h*factor, w*factor) uint8 RGB from a (bands, h, w) uint16 reflectance tile: B4,B3,B2, bicubic, DN/3000*255."""
    rgb = image[[list(bands).index(b) for b in RGB_SOURCE_BANDS]].astype(np.float32)
    height, width = rgb.shape[1:]
    # cv2 maps pixel centres ((x + 0.5) / factor - 0.5), so the fine grid covers the same bounds.
    fine = cv2.resize(np.ascontiguousarray(rgb.transpose(1, 2, 0)), (width * factor, height * factor),
                      interpolation=cv2.INTER_CUBIC)
    stretched = np.clip(np.rint(fine * (255.0 / STRETCH_MAX_DN)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(stretched.transpose(2, 0, 1))


def sentinel_tags(haze: Mapping[str, Any]) -> dict[str, str]:
    """GeoTIFF tags of a published-layout Sentinel image (what it was made from)."""
    return {'SENSOR': 'synthetic Sentinel-2-like MSI, 8-bit RGB on the 2 m label grid',
            'GSD_M': '2', 'SOURCE_GSD_M': '10', 'SOURCE_BANDS': ','.join(RGB_SOURCE_BANDS),
            'RESAMPLING': f'bicubic x{FACTOR}',
            'STRETCH': f'reflectance x 10000 / {STRETCH_MAX_DN:g} * 255, clipped to 0..255',
            **{f'HAZE_{k.upper()}': str(v) for k, v in haze.items()}}


def write_tile(domain_dir: Path, domain: str, name: str, image: np.ndarray, labels: np.ndarray, *,
               crs: Any, label_transform: Affine, tags: Mapping[str, str]) -> None:
    """Write one tile as ``image/<name>.tif`` + ``label/<name>.tif``, both on the 2 m label grid."""
    if domain == 'sentinel':
        image = sentinel_rgb_on_label_grid(image)
    writer.write_image(domain_dir / IMAGE_DIR / f'{name}.tif', image, crs=crs, transform=label_transform,
                       bands=RGB_BAND_NAMES, tags=tags)
    writer.write_label(domain_dir / LABEL_DIR / f'{name}.tif', labels, crs=crs, transform=label_transform)


def write_splits(domain_dir: Path, domain: str, splits: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Split files directly in the domain folder, for the target only; return the sizes written."""
    if domain not in DOMAINS_WITH_SPLITS:
        return {}
    for split in SPLITS:
        writer.write_text(domain_dir / f'{split}.txt', ''.join(f'{n}\n' for n in splits.get(split, [])))
    return {split: len(splits.get(split, [])) for split in SPLITS}


def image_spec(domain: str, tile_size: int, gsd_m: float) -> dict[str, Any]:
    """Manifest entry of a domain's images in the published layout."""
    spec: dict[str, Any] = dict(dtype='uint8', bands=list(RGB_BAND_NAMES), shape=[tile_size, tile_size],
                                gsd_m=gsd_m, nodata=None)
    if domain == 'sentinel':
        spec.update(source_bands=list(RGB_SOURCE_BANDS), resampling=f'bicubic x{FACTOR} from the 10 m render',
                    stretch=f'reflectance x 10000 / {STRETCH_MAX_DN:g} * 255, clipped to 0..255')
    return spec


__all__ = ['LAYOUTS', 'REFERENCE_LAYOUT', 'DASPM_LAYOUT', 'IMAGE_DIR', 'LABEL_DIR', 'RGB_SOURCE_BANDS',
           'RGB_BAND_NAMES', 'STRETCH_MAX_DN', 'DOMAINS_WITH_SPLITS', 'sentinel_rgb_on_label_grid',
           'sentinel_tags', 'write_tile', 'write_splits', 'image_spec']
