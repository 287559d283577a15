"""Small GeoTIFF helpers on top of rasterio: safe opening, band names, georeference, grid arithmetic, atomic writing."""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from .errors import DaspmInputError


def is_gdal_virtual(path: str | os.PathLike) -> bool:
    """A GDAL virtual file path such as ``/vsizip//data/S2_product.zip/...`` (kept a string: Path drops '//')."""
    return isinstance(path, str) and path.startswith('/vsi')


@contextmanager
def open_raster(path: str | os.PathLike) -> Iterator[rasterio.DatasetReader]:
    """Open a raster for reading; a missing or unreadable file raises DaspmInputError naming it.

    GDAL virtual paths (``/vsizip/...``, e.g. a band inside a zipped Sentinel-2 product) are opened as given.
    """
    if not is_gdal_virtual(path):
        path = Path(path)
        if not path.exists():
            raise DaspmInputError(f'{path}: file not found; check the path (and the dataset root in the config)')
    try:
        src = rasterio.open(path)
    except RasterioIOError as err:
        raise DaspmInputError(
            f'{path}: not a readable raster ({err}); re-export it as GeoTIFF') from None
    with src:
        yield src


def pixel_size(transform: Affine) -> tuple[float, float]:
    """Pixel width and height (positive, in CRS units) of a north-up or rotated geotransform."""
    return float(np.hypot(transform.a, transform.d)), float(np.hypot(transform.b, transform.e))


def ground_sample_distance(transform: Affine) -> float:
    """Mean of pixel width and height: the GSD used to derive sub-pixel factors."""
    xres, yres = pixel_size(transform)
    return (xres + yres) / 2.0


def resampled_transform(transform: Affine, in_shape: Sequence[int], out_shape: Sequence[int]) -> Affine:
    """Geotransform of the same bounds laid on a grid of ``out_shape`` (rows, cols) pixels."""
    in_h, in_w = in_shape[:2]
    out_h, out_w = out_shape[:2]
    return transform @ Affine.scale(in_w / out_w, in_h / out_h)


def subpixel_shape(in_shape: Sequence[int], factor: float) -> tuple[int, int]:
    """Shape of the fine grid for a scale ``factor`` (fine pixels per coarse pixel)."""
    return int(round(in_shape[0] * factor)), int(round(in_shape[1] * factor))


def nonfinite_mask(data: np.ndarray) -> np.ndarray:
    """(H, W) True where any band of a (bands, H, W) array is NaN or infinite: no band of that pixel can be trusted.

    Callers treat these pixels as nodata, whose values they replace by a fill before any use.
    """
    if data.dtype.kind != 'f':
        return np.zeros(data.shape[1:], bool)
    return ~np.isfinite(data).all(axis=0)


class WriteProblem(NamedTuple):
    """Why no file can be made in a folder."""

    folder: Path          # the nearest existing folder on the way
    not_a_folder: bool    # ``folder`` is a file
    reason: str           # the system's reason a new file was refused ('' when not_a_folder)


def folder_write_problem(folder: str | os.PathLike) -> WriteProblem | None:
    """Why no file can be made in ``folder``, or None.

    The nearest existing folder on the way must be a folder and accept a new file (tried with a
    nameless temporary file, so this holds for root and read-only file systems too); missing
    folders below it are made later.
    """
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return WriteProblem(existing, True, '')
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        return WriteProblem(existing, False, err.strerror or str(err))
    return None


def check_writable(path: str | os.PathLike, option: str = '--out') -> None:
    """Raise DaspmInputError (one line) if a file cannot be written at ``path``."""
    path = Path(path)
    if path.is_dir():
        raise DaspmInputError(f'{option} {path} is a folder; give a file name such as {path / "map.tif"}')
    problem = folder_write_problem(path.parent)
    if problem is not None and problem.not_a_folder:
        raise DaspmInputError(f'{option} {path}: {problem.folder} is a file, not a folder; choose another path')
    if problem is not None:
        raise DaspmInputError(f'{option} {path}: cannot write in {problem.folder} ({problem.reason}); '
                              'choose a folder you can write to, or fix its permissions')


# atomic_output's temporary names: .<stem>.<pid>-<random><suffix>.part (+ '.stream.tif', GDAL's
# '.aux.xml', ...). Names without the pid come from runs before the pid was added to them.
_PARTIAL_RANDOM = '[a-z0-9_]+'


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    An interrupted write therefore never leaves a file that looks finished; a killed one leaves
    a hidden ``.part`` file that remove_stale_partials(path) finds. A folder that cannot be made
    or written to raises DaspmInputError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.stem}.{os.getpid()}-', suffix=path.suffix + '.part',
                                   dir=path.parent)
    except OSError as err:
        raise DaspmInputError(f'{path}: cannot write in {path.parent} ({err.strerror or err}); '
                              'choose a folder you can write to, or fix its permissions') from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def stale_partials(path: str | os.PathLike) -> list[Path]:
    """Temporary files that killed runs of atomic_output left for ``path`` (not those of a live process).

    Only names atomic_output gives for this very ``path`` match (``map.tif`` never matches the
    partial files of ``map.v2.tif`` or ``other.tif``); a file whose process still runs is kept.
    """
    path = Path(path)
    pattern = re.compile(rf'\.{re.escape(path.stem)}\.(?:(\d+)-)?{_PARTIAL_RANDOM}'
                         rf'{re.escape(path.suffix)}\.part(?:\..+)?')
    if not path.parent.is_dir():
        return []
    stale = []
    for candidate in sorted(path.parent.iterdir()):
        match = pattern.fullmatch(candidate.name)
        if match and candidate.is_file() and not _process_alive(match.group(1)):
            stale.append(candidate)
    return stale


def remove_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Delete stale_partials(path); return what was removed."""
    removed = stale_partials(path)
    for partial in removed:
        partial.unlink(missing_ok=True)
    return removed


def _process_alive(pid: str | None) -> bool:
    """Whether process ``pid`` of this machine runs (this one included); False for an unknown pid."""
    if pid is None:
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # it exists but belongs to someone else
    return True


def convert_to_cog(src_path: str | os.PathLike, dst_path: str | os.PathLike, *, overview_resampling: str,
                   overview_count: int, blocksize: int = 256) -> Path:
    """Copy a finished GeoTIFF into a Cloud Optimized GeoTIFF with GDAL's COG driver.

    Tiled, DEFLATE, ``overview_count`` internal overviews made with ``overview_resampling``
    ('MODE' for classes, 'AVERAGE' for continuous values), IFDs before the data (the ghost-area
    layout that COG readers check); colour table, nodata, descriptions and tags are kept.
    """
    from rasterio.shutil import copy as gdal_copy

    options = dict(driver='COG', COMPRESS='DEFLATE', BLOCKSIZE=blocksize, BIGTIFF='IF_SAFER',
                   OVERVIEW_RESAMPLING=overview_resampling)
    if overview_count > 0:
        options['OVERVIEW_COUNT'] = overview_count
    else:
        options['OVERVIEWS'] = 'NONE'
    with rasterio.Env(GDAL_NUM_THREADS='ALL_CPUS'):
        gdal_copy(str(src_path), str(dst_path), **options)
    return Path(dst_path)


def write_geotiff(path: str | os.PathLike, array: np.ndarray, *, crs, transform: Affine,
                  nodata: float | None = None, band_descriptions: Sequence[str] | None = None,
                  colormap: dict[int, Sequence[int]] | None = None,
                  tags: dict[str, str] | None = None) -> Path:
    """Write a (bands, H, W) or (H, W) array as a tiled, DEFLATE-compressed GeoTIFF, atomically."""
    data = array[None] if array.ndim == 2 else array
    count, height, width = data.shape
    profile = dict(driver='GTiff', height=height, width=width, count=count, dtype=data.dtype,
                   crs=crs, transform=transform, nodata=nodata, compress='deflate')
    if height >= 256 and width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_output(path) as tmp:
        with rasterio.open(tmp, 'w', **profile) as dst:
            dst.write(data)
            if band_descriptions:
                for i, desc in enumerate(band_descriptions, start=1):
                    dst.set_band_description(i, desc)
            if colormap is not None:
                dst.write_colormap(1, {int(k): tuple(v) + (255,) * (4 - len(v)) for k, v in colormap.items()})
            if tags:
                dst.update_tags(**tags)
    return Path(path)


def normalize_band_name(name: str | None) -> str:
    """Upper-case band name with Sentinel-2 zero padding removed, so 'B02', 'b2' and 'B2' match."""
    text = (name or '').strip().upper()
    match = re.fullmatch(r'B0*(\d+A?)', text)
    return f'B{match.group(1)}' if match else text


def resolve_band_indexes(bands: Sequence[int | str] | None, descriptions: Sequence[str | None],
                         path: str) -> list[int]:
    """Turn configured bands (1-based indexes or names such as 'B4') into 1-based indexes of ``path``."""
    count = len(descriptions)
    if bands is None:
        return list(range(1, count + 1))
    names = [normalize_band_name(d) for d in descriptions]
    indexes = []
    for band in bands:
        if isinstance(band, str):
            hits = [i + 1 for i, n in enumerate(names) if n == normalize_band_name(band)]
            if not hits:
                raise DaspmInputError(
                    f'{path}: no band named {band!r} (band descriptions: {list(descriptions)}); '
                    'set band descriptions in the file or select bands by 1-based index in the config')
            indexes.append(hits[0])
        else:
            if not 1 <= int(band) <= count:
                raise DaspmInputError(
                    f'{path} has {count} band(s) but the config selects band {band} (bands={list(bands)}); '
                    f'use a product with the bands the model was trained on, or change `bands` in the '
                    f'LoadGeoTiff step of the config')
            indexes.append(int(band))
    return indexes


def georeference(crs: CRS | None, transform: Affine, nominal_gsd: float | None, path: str) -> dict:
    """Metainfo entries for a raster: CRS string, geotransform tuple and GSD in metres (training and mapping)."""
    georeferenced = crs is not None and transform != Affine.identity()
    if not georeferenced:
        return dict(crs=None, geo_transform=None, gsd=nominal_gsd)
    if crs.is_geographic:
        if nominal_gsd is None:
            raise DaspmInputError(
                f'{path} is in a geographic CRS ({crs}), so its pixel size is not in metres; '
                'reproject it to a projected CRS (e.g. UTM) or set nominal_gsd in LoadGeoTiff')
        gsd = nominal_gsd
    else:
        gsd = ground_sample_distance(transform) * crs.linear_units_factor[1]
    return dict(crs=crs.to_string(), geo_transform=tuple(transform)[:6], gsd=gsd)
