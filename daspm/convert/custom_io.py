"""Reading, checking and writing one image (and its mask) of a custom dataset: the custom format's worker.

A labelled pair becomes ``img_dir/<name>.tif`` (the image as GeoTIFF) and ``ann_dir/<name>.tif``
(uint8 train ids, 255 = ignore, the image's georeference); an unlabelled target image only the
first. Both are written under temporary names and renamed when complete, the image first, so an
existing ``ann_dir`` file always means a finished pair.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from affine import Affine
from rasterio.enums import ColorInterp

from daspm.classes import IGNORE_INDEX
from daspm.utils.dataset_layout import ANN_DIR, IMG_DIR
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, ground_sample_distance, open_raster, write_geotiff

from .class_stats import count_classes
from .custom_classes import COLOUR, ID, ClassTable, map_to_train_ids, pack_rgb
from .jobs import ImageJob
from .outputs import is_done, listing, quiet_georeference, write_annotation

_TIFF_DRIVER = 'GTiff'


# -- reading one image and one mask ---------------------------------------------------------------


def _alpha_band(src: Any) -> int | None:
    """1-based index of a trailing alpha band (RGBA PNG, grey + alpha), else None."""
    if src.count in (2, 4) and src.colorinterp[-1] == ColorInterp.alpha:
        return src.count
    return None


def _georeference(crs: Any, transform: Affine) -> dict[str, Any]:
    """Whether a raster is georeferenced, and its GSD in metres when its CRS is projected."""
    if crs is None or transform == Affine.identity():
        return dict(georeferenced=False, geographic=False, gsd=None)
    if crs.is_geographic:
        return dict(georeferenced=True, geographic=True, gsd=None)
    try:
        gsd = ground_sample_distance(transform) * crs.linear_units_factor[1]
    except Exception:  # a CRS without linear units (rasterio raises CRSError or ValueError)
        gsd = None
    return dict(georeferenced=True, geographic=False, gsd=gsd)


def read_image_info(path: str | os.PathLike) -> dict[str, Any]:
    """Bands (without alpha), data type, size and georeference of an image; fewer than 3 bands raise."""
    with quiet_georeference(), open_raster(path) as src:
        alpha = _alpha_band(src)
        bands = src.count - (1 if alpha else 0)
        names = src.descriptions[:bands]
        info = dict(dtype=src.dtypes[0], bands=bands, band_names=list(names) if all(names) else None,
                    alpha=alpha, height=src.height, width=src.width, driver=src.driver)
        info.update(_georeference(src.crs, src.transform))
    if bands < 3:
        raise DaspmInputError(
            f'{path}: {bands} band(s); images need 3 or more bands (RGB or multispectral): export it as RGB')
    return info


def _high_value(path: str | os.PathLike, bands: int, shape: tuple[int, int]) -> float | None:
    """The largest per-band 99th percentile of an image, on a decimated read (sets the scale of non-8-bit data)."""
    step = max(1, max(shape) // 512)
    out_shape = (bands, max(1, shape[0] // step), max(1, shape[1] // step))
    with quiet_georeference(), open_raster(path) as src:
        data = src.read(list(range(1, bands + 1)), out_shape=out_shape, masked=True)
    highs = [float(np.percentile(band.compressed(), 99)) for band in data if band.count()]
    return max(highs) if highs else None


def _same_grid(image: Any, mask: Any) -> bool:
    """False only when both are georeferenced and their grids differ by more than half a pixel."""
    if image.crs is None or mask.crs is None or Affine.identity() in (image.transform, mask.transform):
        return True
    if image.crs != mask.crs:
        return False
    return image.transform.almost_equals(mask.transform, precision=0.5 * abs(image.transform.a))


def read_mask(path: str | os.PathLike, table: ClassTable, image_path: str | os.PathLike,
              shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """Mask values as int64 (ids, or packed colours) and the valid pixels (alpha > 0, or None)."""
    with quiet_georeference(), open_raster(path) as src, open_raster(image_path) as img:
        if (src.height, src.width) != shape:
            raise DaspmInputError(
                f'{path}: mask is {src.width}x{src.height} pixels but its image {image_path} is '
                f'{shape[1]}x{shape[0]}; a mask must have its image\'s size (resample it with nearest neighbour)')
        if not _same_grid(img, src):
            raise DaspmInputError(
                f'{path}: georeferenced on another grid than its image {image_path}; reproject the mask with '
                'nearest neighbour onto the image grid')
        alpha = _alpha_band(src)
        count = src.count - (1 if alpha else 0)
        data = src.read(list(range(1, count + 1)))
        valid = src.read(alpha) > 0 if alpha else None
        colormap = None
        if count == 1 and table.kind == COLOUR:
            try:
                colormap = src.colormap(1)
            except ValueError:  # no colour table
                colormap = None
    if not np.issubdtype(data.dtype, np.integer):
        raise DaspmInputError(f'{path}: mask values are {data.dtype}; masks hold integer ids or 8-bit RGB colours')
    if table.kind == ID:
        if count == 1 or (count == 3 and (data[0] == data[1]).all() and (data[1] == data[2]).all()):
            return data[0].astype(np.int64), valid
        raise DaspmInputError(
            f'{path}: mask has {count} bands of colours but {table.path} lists integer ids; write the classes '
            'as "#RRGGBB" colours, or give masks with one band of ids')
    if count >= 3:
        if data.dtype != np.uint8:
            raise DaspmInputError(f'{path}: colour masks must be 8-bit RGB, this one is {data.dtype}')
        return pack_rgb(data[0], data[1], data[2]), valid
    if colormap:
        # A palette PNG: the pixel holds an index into its colour table.
        lut = np.zeros(max(int(data.max()) + 1, max(colormap) + 1), np.int64)
        for index, rgba in colormap.items():
            lut[index] = int(pack_rgb(*rgba[:3]))
        return lut[data[0]], valid
    raise DaspmInputError(
        f'{path}: mask has one band of ids but {table.path} lists colours; write the classes as integer ids')


# -- writing one pair -----------------------------------------------------------------------------


def _image_as_geotiff(src_path: Path, dst: Path, info: dict[str, Any]) -> None:
    """Copy a GeoTIFF byte for byte; write anything else (PNG, JPEG, alpha) as a GeoTIFF without alpha."""
    if info['driver'] == _TIFF_DRIVER and info['alpha'] is None:
        with atomic_output(dst) as tmp:
            shutil.copyfile(src_path, tmp)
        return
    with quiet_georeference(), open_raster(src_path) as src:
        data = src.read(list(range(1, info['bands'] + 1)))
        crs, transform, nodata = src.crs, src.transform, src.nodata
    with quiet_georeference():
        write_geotiff(dst, data, crs=crs, transform=transform, nodata=nodata,
                      band_descriptions=info['band_names'])


def _write_ann(path: Path, train_ids: np.ndarray, image_path: Path, table: ClassTable) -> None:
    with quiet_georeference(), open_raster(image_path) as src:
        crs, transform = src.crs, src.transform
    write_annotation(path, train_ids, crs, transform, table.names, table.palette)


def _label_counts(path: Path, num_classes: int) -> tuple[dict[int, int], int]:
    """Class pixel counts and ignored pixels of a converted label; other values mean a stale file."""
    with quiet_georeference(), open_raster(path) as src:
        hist = np.bincount(src.read(1).ravel(), minlength=256)
    if hist[num_classes:IGNORE_INDEX].any():
        raise DaspmInputError(f'{path}: holds values that are not train ids 0..{num_classes - 1}; it was '
                              'converted with another classes.json: pass --overwrite')
    return {c: int(hist[c]) for c in range(num_classes) if hist[c]}, int(hist[IGNORE_INDEX])


def convert_one(job: ImageJob) -> dict[str, Any]:
    """Worker: check and convert one image (+ mask), or count a finished one; unknown mask values are returned."""
    image, out = Path(job.image), Path(job.out)
    info = read_image_info(image)
    result: dict[str, Any] = dict(name=job.name, image=job.image, mask=job.mask, info=info, skipped=False,
                                  counts={}, ignored=0, unknown={})
    result['high'] = None if info['dtype'] == 'uint8' else _high_value(image, info['bands'],
                                                                      (info['height'], info['width']))
    img_out = out / IMG_DIR / f'{job.name}.tif'
    if job.mask is None:
        if job.resume and is_done([image], [img_out]):
            return dict(result, skipped=True)
        _image_as_geotiff(image, img_out, info)
        return result
    assert job.table is not None
    mask, ann_out = Path(job.mask), out / ANN_DIR / f'{job.name}.tif'
    num_classes = len(job.table.names)
    if job.resume and is_done([image, mask], [img_out, ann_out]):
        counts, ignored = _label_counts(ann_out, num_classes)
        return dict(result, skipped=True, counts=counts, ignored=ignored)
    values, valid = read_mask(mask, job.table, image, (info['height'], info['width']))
    if info['alpha']:
        with quiet_georeference(), open_raster(image) as src:
            opaque = src.read(info['alpha']) > 0
        valid = opaque if valid is None else valid & opaque
    train_ids, unknown = map_to_train_ids(values, job.table, valid)
    if unknown:
        return dict(result, unknown=unknown)  # nothing written: the whole conversion stops
    # The image first: an existing ann_dir file then always has its image.
    _image_as_geotiff(image, img_out, info)
    _write_ann(ann_out, train_ids, image, job.table)
    return dict(result, counts=count_classes(train_ids, num_classes), ignored=int((train_ids == IGNORE_INDEX).sum()))


def unknown_values_error(results: Sequence[dict[str, Any]], table: ClassTable, mask_dir: Path) -> DaspmInputError:
    """One error naming every unknown mask value with its pixel count and files, largest first."""
    found: dict[int, list[Any]] = {}
    for r in results:
        rel = Path(r['mask']).relative_to(mask_dir).as_posix()
        for value, n in r['unknown'].items():
            entry = found.setdefault(value, [0, []])
            entry[0] += n
            entry[1].append(rel)
    order = sorted(found, key=lambda v: (-found[v][0], v))
    shown = [f'{table.format_value(v)} ({found[v][0]:,} px in {len(found[v][1])} file(s): {listing(found[v][1], 3)})'
             for v in order[:10]]
    bad = sum(1 for r in results if r['unknown'])
    msg = (f'{mask_dir}: mask values that are neither a class nor ignored in {table.path}: ' + '; '.join(shown))
    if len(order) > 10:
        rest = sum(found[v][0] for v in order[10:])
        msg += f'; and {len(order) - 10} more values ({rest:,} px)'
    msg += (f'; add each to a class or to "ignore" in {table.path} and run the command again '
            f'({bad} mask(s) were not converted, the {len(results) - bad} others were and are kept)')
    if len(order) > 20:
        msg += ('; this many distinct values usually means masks saved lossily (JPEG) or resized with '
                'interpolation: export them as PNG with nearest-neighbour resampling')
    return DaspmInputError(msg)


__all__ = ['convert_one', 'read_image_info', 'read_mask', 'unknown_values_error']
