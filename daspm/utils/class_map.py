"""Class-id maps as GeoTIFFs that GIS software shows at once (colour table, class-name tags)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from affine import Affine

from ..classes import IGNORE_INDEX
from .colors import colormap_table
from .raster import write_geotiff

CLASS_BAND_DESCRIPTION = 'land-use class'


def class_map_tags(classes: Sequence[str]) -> dict[str, str]:
    """GeoTIFF tags naming the classes: ``CLASS_<id>`` for each, and ``CLASS_NAMES`` comma-separated."""
    tags = {f'CLASS_{i}': name for i, name in enumerate(classes)}
    tags['CLASS_NAMES'] = ','.join(classes)
    return tags


def write_class_map(path: str | Path, class_map: np.ndarray, *, crs: str | None,
                    geo_transform: Sequence[float] | Affine | None, classes: Sequence[str],
                    palette: Sequence[Sequence[int]]) -> Path:
    """Write uint8 class ids (255 = nodata) with an embedded colour table and class-name tags."""
    transform = geo_transform if isinstance(geo_transform, Affine) else \
        Affine(*geo_transform) if geo_transform is not None else Affine.identity()
    return write_geotiff(path, class_map.astype(np.uint8), crs=crs, transform=transform,
                         nodata=IGNORE_INDEX, band_descriptions=[CLASS_BAND_DESCRIPTION],
                         colormap=colormap_table(palette), tags=class_map_tags(classes))
