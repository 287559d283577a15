"""Score a class map against a coarse land-cover mask (e.g. the eo-learn patch's 10 m LULC).

    evaluate_map(map, mask)
      mask_on_grid   (rasterio reproject, nearest: each map pixel takes the mask pixel its centre lies in)
      -> confusion   (mask class x predicted class counts; mask 0 and map 255 left out)
      -> recalls     (per group: share of its pixels predicted as one of its expected classes)

A land-cover mask does not name the project's classes, so its classes are grouped and each group
names the classes it should come out as: vegetation -> green area, artificial surface -> urban
area, roads or impervious surface, water -> water. Recall per group is what such a mask can
measure; precision cannot (a 10 m "artificial surface" pixel holds gardens too).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject

from ..classes import DASPM_CLASSES, IGNORE_INDEX
from ..utils.errors import DaspmInputError
from ..utils.raster import open_raster

MASK_NODATA = 0
# the eo-learn land-cover codes (its README); 0 is no data
LANDCOVER_CLASSES: dict[int, str] = {
    0: 'no data', 1: 'cultivated land', 2: 'forest', 3: 'grassland', 4: 'shrubland', 5: 'water', 6: 'wetlands',
    7: 'tundra', 8: 'artificial surface', 9: 'bare land', 10: 'snow and ice'}


@dataclass(frozen=True)
class Group:
    """Mask classes scored together and the predicted train ids that count as right for them."""

    name: str
    mask_classes: tuple[int, ...]
    expected: tuple[int, ...]


GROUPS: tuple[Group, ...] = (
    Group('vegetation', (1, 2, 3, 4, 6), (0,)),        # -> green area
    Group('built-up', (8,), (1, 2, 3)),                # -> urban area, roads, impervious surface
    Group('water', (5,), (4,)),                        # -> water
)


@dataclass
class LandcoverScore:
    """One map scored against the mask."""

    name: str
    map_path: str
    classes: list[str]             # predicted class names (columns of ``counts``)
    counts: np.ndarray             # (len(LANDCOVER_CLASSES), len(classes)) pixels of the map grid
    mask_nodata_pixels: int        # map pixels with data where the mask has none (or lies outside the mask)
    map_nodata_pixels: int         # map pixels without a prediction (255) over the mask

    def recalls(self) -> dict[str, dict[str, Any]]:
        """Per group: its pixels, those predicted as expected, and their share (None for a group absent here)."""
        out = {}
        for group in GROUPS:
            rows = self.counts[list(group.mask_classes)]
            pixels = int(rows.sum())
            hits = int(rows[:, [c for c in group.expected if c < len(self.classes)]].sum())
            out[group.name] = dict(pixels=pixels, hits=hits, recall=hits / pixels if pixels else None,
                                   expected=[self.classes[c] for c in group.expected if c < len(self.classes)])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: recalls, and the confusion table of the mask classes present (counts and row shares)."""
        table = {}
        for code, row in enumerate(self.counts):
            total = int(row.sum())
            if total:
                table[LANDCOVER_CLASSES[code]] = dict(
                    pixels=total, counts=dict(zip(self.classes, map(int, row))),
                    shares={c: round(float(v) / total, 4) for c, v in zip(self.classes, row)})
        return dict(map=self.map_path, recall=self.recalls(), confusion=table,
                    ignored=dict(mask_nodata=self.mask_nodata_pixels, map_nodata=self.map_nodata_pixels))


def map_classes(src: rasterio.DatasetReader) -> list[str]:
    """Class names of a map written by the mapper / demo (CLASS_NAMES tag), else the project's classes."""
    names = src.tags().get('CLASS_NAMES')
    return names.split(',') if names else list(DASPM_CLASSES)


def mask_on_grid(mask_path: str | Path, shape: tuple[int, int], transform: Affine, crs) -> np.ndarray:
    """The land-cover mask on a map's grid by nearest neighbour (0 outside the mask); codes checked."""
    with open_raster(mask_path) as src:
        if src.count != 1 or src.crs is None:
            raise DaspmInputError(f'{mask_path}: a land-cover mask is one georeferenced band of class codes '
                                  f'(this file has {src.count} band(s), CRS {src.crs}); pass the LULC GeoTIFF')
        mask = src.read(1)
        mask_transform, mask_crs = src.transform, src.crs
    unknown = np.setdiff1d(np.unique(mask), list(LANDCOVER_CLASSES))
    if unknown.size:
        raise DaspmInputError(f'{mask_path}: holds codes {unknown[:10].tolist()} outside the land-cover table '
                              f'0..{max(LANDCOVER_CLASSES)}; pass the eo-learn LULC mask (0 = no data)')
    out = np.zeros(shape, np.uint8)
    reproject(mask, out, src_transform=mask_transform, src_crs=mask_crs, dst_transform=transform, dst_crs=crs,
              resampling=Resampling.nearest, src_nodata=None, dst_nodata=MASK_NODATA)
    return out


def confusion(mask: np.ndarray, class_map: np.ndarray, num_classes: int) -> np.ndarray:
    """(mask classes, predicted classes) pixel counts where both have data."""
    both = (mask != MASK_NODATA) & (class_map != IGNORE_INDEX)
    index = mask[both].astype(np.int64) * num_classes + class_map[both]
    return np.bincount(index, minlength=len(LANDCOVER_CLASSES) * num_classes).reshape(-1, num_classes)


def evaluate_map(map_path: str | Path, mask_path: str | Path, name: str | None = None) -> LandcoverScore:
    """Score the class map at ``map_path`` (uint8 ids, 255 = no data, georeferenced) against the mask."""
    with open_raster(map_path) as src:
        if src.crs is None:
            raise DaspmInputError(f'{map_path}: not georeferenced, so it cannot be laid on the mask; map a '
                                  'georeferenced image (the mapper and demo keep the input\'s CRS)')
        class_map = src.read(1)
        classes = map_classes(src)
        mask = mask_on_grid(mask_path, class_map.shape, src.transform, src.crs)
    bad = np.setdiff1d(np.unique(class_map), [*range(len(classes)), IGNORE_INDEX])
    if bad.size:
        raise DaspmInputError(f'{map_path}: holds values {bad[:10].tolist()} that are no class id '
                              f'(0..{len(classes) - 1}, {IGNORE_INDEX} = no data); pass a class map')
    if not (mask != MASK_NODATA).any():
        raise DaspmInputError(f'{map_path} does not overlap the land-cover mask {mask_path} (or the mask is all '
                              'no data there); map the image the mask belongs to')
    return LandcoverScore(
        name=name or Path(map_path).stem, map_path=str(map_path), classes=classes,
        counts=confusion(mask, class_map, len(classes)),
        mask_nodata_pixels=int(((mask == MASK_NODATA) & (class_map != IGNORE_INDEX)).sum()),
        map_nodata_pixels=int(((mask != MASK_NODATA) & (class_map == IGNORE_INDEX)).sum()))


def _share_text(value: float | None) -> str:
    return 'n/a' if value is None else f'{100 * value:.1f} %'


def markdown_report(scores: Sequence[LandcoverScore], mask_path: str | Path) -> str:
    """Recall per group side by side, then each map's confusion table (counts and row shares)."""
    lines = [f'# Class maps against the land-cover mask {mask_path}', '',
             '| group (mask classes) | expected classes | pixels | ' + ' | '.join(s.name for s in scores) + ' |',
             '|---|---|---|' + '---|' * len(scores)]
    recalls = [s.recalls() for s in scores]
    for group in GROUPS:
        first = recalls[0][group.name]
        names = ', '.join(LANDCOVER_CLASSES[c] for c in group.mask_classes)
        lines.append(f'| {group.name} ({names}) | {", ".join(first["expected"])} | {first["pixels"]} | '
                     + ' | '.join(_share_text(r[group.name]['recall']) for r in recalls) + ' |')
    for score in scores:
        lines += ['', f'## {score.name}: mask class x predicted class ({score.map_path})', '',
                  '| mask class | pixels | ' + ' | '.join(score.classes) + ' |',
                  '|---|---|' + '---|' * len(score.classes)]
        for code, row in enumerate(score.counts):
            total = int(row.sum())
            if total:
                cells = ' | '.join(f'{int(v)} ({100 * v / total:.1f} %)' for v in row)
                lines.append(f'| {code} {LANDCOVER_CLASSES[code]} | {total} | {cells} |')
        lines.append(f'\nleft out: {score.mask_nodata_pixels} map pixels where the mask has no data, '
                     f'{score.map_nodata_pixels} mask pixels without a prediction')
    return '\n'.join(lines) + '\n'
