"""Where each synthetic tile lies: UTM 50N, north-up, source and target tiles in separate areas."""
from __future__ import annotations

from affine import Affine
from rasterio.crs import CRS

from .sensors import COARSE_GSD_M, FINE_GSD_M

CRS_EPSG = 32650  # WGS 84 / UTM zone 50N (eastern China, where Gaofen-2 and Sentinel-2 overlap)
TILES_PER_ROW = 8  # fixed, so that a tile's place never depends on how many tiles are made
# Upper-left corner of the source area; the target area lies east of it, beyond a 20 km gap.
AREA_ORIGIN_M = (400_000.0, 4_460_000.0)
AREA_GAP_M = 20_000.0
DOMAIN_AREAS: dict[str, int] = {'gaofen': 0, 'sentinel': 1}


def crs() -> CRS:
    """The projected CRS of every tile."""
    return CRS.from_epsg(CRS_EPSG)


def tile_pitch_m(tile_size: int) -> float:
    """Distance between neighbouring tile corners: the tile plus a gap of half a tile (10 m aligned)."""
    extent = tile_size * FINE_GSD_M
    gap = max(COARSE_GSD_M, round(extent / 2 / COARSE_GSD_M) * COARSE_GSD_M)
    return extent + gap


def tile_origin(domain: str, index: int, tile_size: int) -> tuple[float, float]:
    """Upper-left corner (easting, northing) of tile ``index`` of ``domain`` ('gaofen' | 'sentinel')."""
    pitch = tile_pitch_m(tile_size)
    area_x = AREA_ORIGIN_M[0] + DOMAIN_AREAS[domain] * (TILES_PER_ROW * pitch + AREA_GAP_M)
    row, col = divmod(index, TILES_PER_ROW)
    return area_x + col * pitch, AREA_ORIGIN_M[1] - row * pitch


def tile_transform(domain: str, index: int, tile_size: int, gsd_m: float) -> Affine:
    """North-up geotransform of a tile at pixel size ``gsd_m`` (2 m labels/Gaofen, 10 m Sentinel)."""
    x0, y0 = tile_origin(domain, index, tile_size)
    return Affine(gsd_m, 0.0, x0, 0.0, -gsd_m, y0)
