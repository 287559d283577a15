"""How close the generator's target is to Sentinel-2: the real anchor, the ranges, the measurement.

The anchor is the real L1C patch of tests/fixtures/s2_eolearn_patch (Slovenia, summer, mostly
forest), measured by :func:`real_patch_statistics`; its forest and grassland numbers are kept in
ANCHOR (a test checks them against the file). RANGES are the documented acceptance ranges per
processing level and class (docs/synthetic_dataset.md#calibrated-spectra---spectra-sentinel2):
green area at L1C within the anchor's forest..grassland span widened by TOLERANCE (NDVI by
NDVI_TOLERANCE, texture by a factor TEXTURE_FACTOR), at L2A within published surface
reflectance ranges of vegetation; water and the man-made classes within published ranges.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from daspm.classes import DASPM_CLASSES

from .generate import make_tile
from .sensors import FACTOR, REFLECTANCE_SCALE
from .spectra import SpectralProfile
from .statistics import MIXED, ClassStatistics, mosaic, per_class, pure_classes

BAND_NAMES: tuple[str, ...] = ('B2', 'B3', 'B4', 'B8')
# Land-cover codes of the real patch's mask (eo-learn LULC); 0 = no data.
REAL_CLASSES: dict[int, str] = {1: 'cultivated land', 2: 'forest', 3: 'grassland', 4: 'shrubland',
                                8: 'artificial surface'}
# Measured by real_patch_statistics(tests/fixtures/s2_eolearn_patch/...): L1C mean B2, B3, B4, B8,
# mean NDVI, mean 3 x 3 local std of B4 and B8.
ANCHOR: dict[str, dict[str, float]] = {
    'forest': {'B2': 0.0780, 'B3': 0.0616, 'B4': 0.0375, 'B8': 0.2123, 'NDVI': 0.6927,
               'texture B4': 0.0017, 'texture B8': 0.0211},
    'grassland': {'B2': 0.0867, 'B3': 0.0802, 'B4': 0.0541, 'B8': 0.2848, 'NDVI': 0.6776,
                  'texture B4': 0.0043, 'texture B8': 0.0169},
}
TOLERANCE = 0.30          # relative, per band mean
NDVI_TOLERANCE = 0.10     # absolute
TEXTURE_FACTOR = 2.0      # texture within [span / 2, span * 2]
Range = tuple[float, float]


def _anchor_span(quantity: str, widen: float = 0.0, factor: float = 1.0) -> Range:
    """The forest..grassland span of an anchor quantity, widened (relative, absolute or by a factor)."""
    low = min(a[quantity] for a in ANCHOR.values())
    high = max(a[quantity] for a in ANCHOR.values())
    if quantity == 'NDVI':
        return round(low - widen, 4), round(high + widen, 4)
    return round(low * (1 - widen) / factor, 4), round(high * (1 + widen) * factor, 4)


def _ratio_span() -> Range:
    """B4 / B3 (red below green) of the anchor's forest..grassland, widened like the band means."""
    ratios = [a['B4'] / a['B3'] for a in ANCHOR.values()]
    return round(min(ratios) * (1 - TOLERANCE), 4), round(max(ratios) * (1 + TOLERANCE), 4)


_MAN_MADE = {'NDVI': (-0.15, 0.30)}
RANGES: dict[str, dict[str, dict[str, Range]]] = {
    'L1C': {
        'green area': {**{b: _anchor_span(b, TOLERANCE) for b in BAND_NAMES},
                       'NDVI': _anchor_span('NDVI', NDVI_TOLERANCE),
                       'B4/B3': _ratio_span(), 'texture B4': _anchor_span('texture B4', factor=TEXTURE_FACTOR),
                       'texture B8': _anchor_span('texture B8', factor=TEXTURE_FACTOR)},
        'urban area': {**_MAN_MADE, **{b: (0.06, 0.35) for b in BAND_NAMES}},
        'roads': {**_MAN_MADE, **{b: (0.05, 0.20) for b in BAND_NAMES}},
        'impervious surface': {**_MAN_MADE, **{b: (0.06, 0.35) for b in BAND_NAMES}},
        'water': {'B8': (0.0, 0.035), 'NDVI': (-1.0, 0.0)},
    },
    'L2A': {
        'green area': {'B2': (0.02, 0.05), 'B3': (0.04, 0.09), 'B4': (0.02, 0.06), 'B8': (0.25, 0.45),
                       'NDVI': (0.70, 0.90), 'B4/B3': (0.3, 0.9)},
        'urban area': {**_MAN_MADE, **{b: (0.05, 0.35) for b in BAND_NAMES}},
        'roads': {**_MAN_MADE, **{b: (0.04, 0.15) for b in BAND_NAMES}},
        'impervious surface': {**_MAN_MADE, **{b: (0.05, 0.35) for b in BAND_NAMES}},
        'water': {'B8': (0.0, 0.03), 'NDVI': (-1.0, 0.0)},
    },
}


def quantities(stats: ClassStatistics) -> dict[str, float]:
    """The checked numbers of one class: band means, NDVI, B4 / B3, texture of B4 and B8."""
    out = {b: float(v) for b, v in zip(BAND_NAMES, stats.mean)}
    out['NDVI'] = float(stats.ndvi_mean)
    out['B4/B3'] = out['B4'] / out['B3']
    out['texture B4'], out['texture B8'] = float(stats.local_std[2]), float(stats.local_std[3])
    return out


def outside_ranges(stats: dict[str, ClassStatistics], level: str) -> list[str]:
    """One line per checked number outside its RANGES entry (empty: everything within)."""
    problems = []
    for name, checks in RANGES[level].items():
        if name not in stats:
            problems.append(f'{level} {name}: no pure 10 m pixel')
            continue
        values = quantities(stats[name])
        for quantity, (low, high) in checks.items():
            value = values[quantity]
            if not low <= value <= high:  # NaN (no texture window) fails too
                problems.append(f'{level} {name} {quantity} = {value:.4f}, outside [{low}, {high}]')
    return problems


def real_patch_statistics(image_path: Path, mask_path: Path) -> dict[str, ClassStatistics]:
    """Per-class statistics of a real L1C patch (B2, B3, B4, B8 x 10000) with an eo-learn LULC mask."""
    with rasterio.open(image_path) as src:
        image = src.read().astype(np.float32) / REFLECTANCE_SCALE
    with rasterio.open(mask_path) as src:
        mask = src.read(1).astype(np.int64)
    classes = np.where(mask == 0, MIXED, mask)
    return per_class(image, classes, REAL_CLASSES)


def rendered_statistics(spectra: str | SpectralProfile, *, seed: int = 0, tiles: int = 8, tile_size: int = 160,
                        shift: str = 'default') -> dict[str, ClassStatistics]:
    """Per-class statistics of the target tiles 0..tiles-1 over their pure 10 m pixels (all 25 labels one class)."""
    images, classes = [], []
    for index in range(tiles):
        tile = make_tile(seed, 'sentinel', index, tile_size, shift, spectra)
        images.append(tile.image.astype(np.float32) / REFLECTANCE_SCALE)
        classes.append(pure_classes(tile.labels, FACTOR))
    image, class_map = mosaic(images, classes)
    return per_class(image, class_map, dict(enumerate(DASPM_CLASSES)))


__all__ = ['ANCHOR', 'BAND_NAMES', 'NDVI_TOLERANCE', 'RANGES', 'REAL_CLASSES', 'TEXTURE_FACTOR', 'TOLERANCE',
           'outside_ranges', 'quantities', 'real_patch_statistics', 'rendered_statistics']
