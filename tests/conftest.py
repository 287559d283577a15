"""Shared test helpers: tiny GeoTIFFs written with rasterio."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / 'fixtures'
S2_PATCH = FIXTURES / 's2_eolearn_patch'


def write_tif(path: Path, array: np.ndarray, *, gsd: float = 2.0, origin=(500000.0, 4000000.0),
              crs: str | None = 'EPSG:32650', nodata=None, descriptions=None) -> Path:
    """Write a (bands, H, W) or (H, W) array as a north-up GeoTIFF with the given pixel size."""
    data = array[None] if array.ndim == 2 else array
    transform = Affine(gsd, 0, origin[0], 0, -gsd, origin[1]) if crs else Affine.identity()
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, 'w', driver='GTiff', width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data)
        for i, desc in enumerate(descriptions or [], start=1):
            dst.set_band_description(i, desc)
    return path


@pytest.fixture(scope='session', autouse=True)
def _register_daspm():
    """Import the registrations once (mmseg registries are global)."""
    import daspm.register  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


@pytest.fixture(scope='session', autouse=True)
def _format_configs_once():
    """Format each config text with yapf once per session (a pure function of the text).

    mmengine reformats the whole config with yapf at every runner build and checkpoint save
    (about 0.9 s each); the training tests build many runners of the same configs. The cache
    returns the very string yapf would, so no behaviour under test changes.
    """
    import mmengine.config.config as mmengine_config
    format_code = mmengine_config.FormatCode
    cache: dict = {}

    def cached_format_code(text, style_config=None, **kwargs):
        key = (text, repr(style_config), repr(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = format_code(text, style_config=style_config, **kwargs)
        return cache[key]

    mmengine_config.FormatCode = cached_format_code
    yield
    mmengine_config.FormatCode = format_code
