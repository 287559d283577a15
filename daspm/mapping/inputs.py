"""Scene inputs: one multi-band raster (GeoTIFF, VRT, ...), a product of one file per band, or an array.

Every source exposes the configured bands on one reference grid (the finest of the selected
bands) and reads windows of it as raw values plus a nodata mask, so the mapper never holds
more than a window of the scene. A Sentinel-2 product (.SAFE folder or .zip, see sentinel2.py)
is a band-files source whose values are harmonised with the product's offsets and whose quality
mask (clouds, ...) leaves pixels out of the map.
"""
from __future__ import annotations

import re
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from ..datasets.transforms.subpixel import INTERPOLATIONS
from ..utils.errors import DaspmInputError
from ..utils.raster import (georeference, is_gdal_virtual, normalize_band_name, open_raster, pixel_size,
                             resolve_band_indexes)
from .sentinel2 import DEFAULT_MASK_CLASSES, is_product, quality_mask, read_product
from .spec import InputSpec

RASTER_SUFFIXES = {'.tif', '.tiff', '.jp2', '.vrt', '.img'}
# Sentinel-2 band order: band indexes in a config refer to this order for one-file-per-band products.
S2_BAND_ORDER = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12')
# 'B04', 'b8a', 'B11' delimited by non-alphanumerics (so tile ids such as T33TWB do not match).
_BAND_IN_NAME = re.compile(r'(?<![A-Z0-9])B(\d{1,2}A?)(?![A-Z0-9])')
# 'area' is a filter for shrinking, and coarse bands are only ever enlarged: not offered here.
_BAND_RESAMPLING = {name: INTERPOLATIONS[name] for name in ('nearest', 'bilinear', 'bicubic')}


def band_name_from_filename(path: str | Path) -> str | None:
    """Band name in a file name ('T33TWM_20230801_B04_10m.jp2' -> 'B4'); None if there is none."""
    hits = {normalize_band_name('B' + m) for m in _BAND_IN_NAME.findall(Path(path).stem.upper())}
    if len(hits) > 1:
        raise DaspmInputError(f'{path}: the file name names several bands ({sorted(hits)}); '
                              'give one file per band, named like T33TWM_20230801_B04_10m.jp2')
    return hits.pop() if hits else None


def _band_sort_key(name: str) -> tuple[int, str]:
    return (S2_BAND_ORDER.index(name), '') if name in S2_BAND_ORDER else (len(S2_BAND_ORDER), name)


class SceneSource:
    """A georeferenced scene: the selected bands on one grid, read window by window."""

    label: str                 # for messages (file or directory)
    width: int
    height: int
    crs: rasterio.crs.CRS
    transform: Affine
    dtype: str
    band_names: list[str]      # of the selected bands, in model order
    files: Sequence[Path | str] = ()  # the files read (empty for in-memory sources; str: GDAL /vsizip/ paths)
    # True when read() already returns reflectance x 10000 with a product's own offsets applied:
    # the config's LoadGeoTiff offset (which describes its training files) is then not added again
    harmonised: bool = False
    notes: Sequence[str] = ()   # what was found / applied, for the log
    product = None              # the sentinel2.Sentinel2Product read, if the input is one

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Raw values (bands, h, w) as float32 and the nodata mask (h, w) of an in-scene integer window."""
        raise NotImplementedError

    @property
    def has_exclusion(self) -> bool:
        """Whether the source has a quality mask (read_exclusion returns arrays)."""
        return False

    def read_exclusion(self, window: Window) -> np.ndarray | None:
        """(h, w) bool, True where a quality mask (clouds...) leaves valid pixels out of the map; None if none."""
        return None

    @property
    def count(self) -> int:
        """Number of selected bands (model input channels)."""
        return len(self.band_names)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the scene CRS."""
        return rasterio.transform.array_bounds(self.height, self.width, self.transform)

    def gsd(self, nominal_gsd: float | None = None) -> float:
        """Ground sample distance in metres (``nominal_gsd`` for a geographic CRS)."""
        return georeference(self.crs, self.transform, nominal_gsd, self.label)['gsd']

    def close(self) -> None:
        """Release open files."""

    def __enter__(self) -> 'SceneSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_georeferenced(crs, transform: Affine, label: str) -> None:
    if crs is None or transform == Affine.identity():
        raise DaspmInputError(
            f'{label} has no CRS / geotransform (not georeferenced), so no georeferenced map can be made; '
            'assign them (e.g. gdal_edit.py -a_srs EPSG:32633 -a_ullr ...) or map a GeoTIFF/VRT that has them')


def _open_dataset(path: Path | str, stack: ExitStack) -> rasterio.DatasetReader:
    """Open ``path`` (a file or a GDAL /vsizip/ path) for the lifetime of ``stack`` with open_raster's clear errors."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        return stack.enter_context(open_raster(path))


@contextmanager
def naming_read_failures(label: str, advice: str = 'download or copy it again') -> Iterator[None]:
    """A file that breaks while being read (a damaged download, a truncated copy) is named in one line."""
    try:
        yield
    except RasterioError as err:
        cause = str(err.__cause__ or err).splitlines()[0]   # GDAL's own reason, not "see previous exception"
        raise DaspmInputError(f'{label}: reading failed ({cause}); the file is damaged: {advice}') from None


def _as_path(path: Path | str) -> Path | str:
    """A Path, except GDAL virtual paths, which must stay strings ('/vsizip//abs/...' keeps its '//')."""
    return path if is_gdal_virtual(path) else Path(path)


def _read_masked(src: rasterio.DatasetReader, indexes: list[int], window: Window, nodata: float | None,
                 saturated: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read ``indexes`` of a window as float32 with a per-band validity mask (True = no data: the
    nodata value, the file's mask, or a product's ``saturated`` value)."""
    all_valid = (nodata is None and saturated is None
                 and all(src.mask_flag_enums[i - 1] == [MaskFlags.all_valid] for i in indexes))
    if all_valid:
        # no nodata value, mask or alpha: skip reading masks
        data = src.read(indexes, window=window, out_dtype='float32')
        return data, np.zeros(data.shape, bool)
    masked = src.read(indexes, window=window, masked=True)
    data = masked.data.astype(np.float32, copy=False)
    band_mask = np.ma.getmaskarray(masked)
    if nodata is not None:
        # NaN equals nothing, itself included: --nodata nan has to be looked for as NaN
        band_mask = band_mask | (np.isnan(data) if np.isnan(nodata) else data == np.float32(nodata))
    if saturated is not None:
        band_mask = band_mask | (data == np.float32(saturated))
    return data, band_mask


class RasterSource(SceneSource):
    """One multi-band raster file (GeoTIFF, VRT, JP2...) with bands selected by the config."""

    def __init__(self, path: str | Path, spec: InputSpec, nodata: float | None = None) -> None:
        self.label = str(path)
        self._stack = ExitStack()
        src = _open_dataset(Path(path), self._stack)
        try:
            _check_georeferenced(src.crs, src.transform, self.label)
            spec.loader.check_band_count(src.count, self.label)
            self.indexes = resolve_band_indexes(spec.bands, src.descriptions, self.label)
        except Exception:
            self._stack.close()
            raise
        self._src = src
        self.files = [Path(path)]
        self.nodata = nodata
        self.width, self.height = src.width, src.height
        self.crs, self.transform = src.crs, src.transform
        self.dtype = src.dtypes[self.indexes[0] - 1]
        self.band_names = [src.descriptions[i - 1] or f'band {i}' for i in self.indexes]

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Raw values and nodata mask (pixels where every selected band is masked) of ``window``."""
        data, band_mask = _read_masked(self._src, self.indexes, window, self.nodata)
        return data, band_mask.all(axis=0)

    def close(self) -> None:
        """Close the file."""
        self._stack.close()


class BandFilesSource(SceneSource):
    """A product with one file per band (e.g. Sentinel-2 B02_10m.jp2 ... B11_20m.jp2).

    The reference grid is the one of the finest selected band; coarser bands (20 m, 60 m) are
    resampled by an integer factor (``band_resampling``, bilinear by default), anchored at the
    common upper-left corner, window by window. ``radiometry`` (band -> (offset, gain)) turns raw
    values into (raw + offset) * gain before resampling (a product's own offsets), and
    ``exclusion`` (a callable (transform, crs, shape) -> (sentinel2.QualityMask | None, note),
    called with the reference grid) marks the pixels a quality layer leaves out.
    ``nodata_in_any_band``: a pixel is no data where any band is (a product's NODATA value means
    the band has no measurement there) instead of where every band is. ``saturated``: a product's
    SATURATED value, no data like ``nodata`` (and, harmonised, 0 before resampling as well).
    """

    def __init__(self, files: dict[str, Path | str], spec: InputSpec, nodata: float | None = None,
                 band_resampling: str = 'bilinear', label: str | None = None,
                 radiometry: dict[str, tuple[float, float]] | None = None, exclusion=None,
                 notes: Sequence[str] = (), nodata_in_any_band: bool = False,
                 saturated: float | None = None) -> None:
        if band_resampling not in _BAND_RESAMPLING:
            raise ValueError(f'band_resampling must be one of {sorted(_BAND_RESAMPLING)}, got {band_resampling!r}')
        names = sorted(files, key=_band_sort_key)
        self.label = label or ', '.join(str(files[n]) for n in names)
        indexes = resolve_band_indexes(spec.bands, names, f'{self.label} (bands found: {names})')
        self.band_names = [names[i - 1] for i in indexes]
        self.files = [_as_path(files[n]) for n in self.band_names]
        self.nodata = nodata
        self.nodata_in_any_band = nodata_in_any_band
        self.saturated = saturated
        self.interpolation = _BAND_RESAMPLING[band_resampling]
        self.harmonised = radiometry is not None
        # None: plain band files, whose values go on as they are
        self._radiometry = [None if radiometry is None else radiometry.get(n, (0.0, 1.0)) for n in self.band_names]
        self.notes = list(notes)
        self._exclusion = None
        self._stack = ExitStack()
        try:
            self._bands = [_open_dataset(path, self._stack) for path in self.files]
            self._set_grid()
            if exclusion is not None:
                # built on the reference grid, which is known only now
                self._exclusion, note = exclusion(self.transform, self.crs, (self.height, self.width))
                self.notes.append(note)
                if self._exclusion is not None:
                    self._stack.callback(self._exclusion.close)
        except Exception:
            self._stack.close()
            raise

    def _set_grid(self) -> None:
        for name, src in zip(self.band_names, self._bands):
            _check_georeferenced(src.crs, src.transform, src.name)
            if src.count != 1:
                raise DaspmInputError(f'{src.name} has {src.count} bands; a product given as band files needs '
                                      f'one band per file (this one is taken as {name})')
        ref = min(self._bands, key=lambda s: pixel_size(s.transform)[0])
        self.crs, self.transform = ref.crs, ref.transform
        self.width, self.height = ref.width, ref.height
        self.dtype = ref.dtypes[0]
        res = pixel_size(ref.transform)[0]
        self.factors = []
        for name, src in zip(self.band_names, self._bands):
            ratio = pixel_size(src.transform)[0] / res
            factor = int(round(ratio))
            corner_shift = max(abs(src.transform.c - ref.transform.c), abs(src.transform.f - ref.transform.f))
            if src.crs != ref.crs or abs(ratio - factor) > 1e-3 or corner_shift > 0.01 * res:
                raise DaspmInputError(
                    f'{src.name} ({name}) does not lie on the grid of {ref.name}: band files must share the CRS '
                    'and the upper-left corner, with pixel sizes that are integer multiples (10/20/60 m)')
            self.factors.append(factor)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Raw values on the reference grid (coarse bands resampled) and the nodata mask (all bands, or any)."""
        h, w = int(window.height), int(window.width)
        data = np.empty((len(self._bands), h, w), np.float32)
        nodata = np.full((h, w), not self.nodata_in_any_band)
        for i, (src, k, radiometry) in enumerate(zip(self._bands, self.factors, self._radiometry)):
            if k == 1:
                band, mask = _read_masked(src, [1], window, self.nodata, self.saturated)
                data[i], mask = _harmonise(band[0], radiometry, mask[0]), mask[0]
            else:
                data[i], mask = self._read_coarse(src, k, window, radiometry)
            nodata = (nodata | mask) if self.nodata_in_any_band else (nodata & mask)
        return data, nodata

    @property
    def has_exclusion(self) -> bool:
        """Whether a quality mask is applied."""
        return self._exclusion is not None

    def read_exclusion(self, window: Window) -> np.ndarray | None:
        """Pixels of ``window`` the product's quality mask leaves out (None without a mask)."""
        return None if self._exclusion is None else self._exclusion.read(window)

    def _read_coarse(self, src, k: int, window: Window,
                     radiometry: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A window of a band k times coarser, resampled xk exactly as the whole band would be."""
        r0, c0 = int(window.row_off), int(window.col_off)
        r1, c1 = r0 + int(window.height), c0 + int(window.width)
        # read whole coarse pixels with a margin for the kernel; band edges clamp as in cv2.resize
        cr0, cc0 = max(r0 // k - 2, 0), max(c0 // k - 2, 0)
        cr1, cc1 = min(-(-r1 // k) + 2, src.height), min(-(-c1 // k) + 2, src.width)
        band, mask = _read_masked(src, [1], Window(cc0, cr0, cc1 - cc0, cr1 - cr0), self.nodata, self.saturated)
        # harmonised before resampling, so that products of two baselines give the very same values
        fine = cv2.resize(_harmonise(band[0], radiometry, mask[0]), ((cc1 - cc0) * k, (cr1 - cr0) * k),
                          interpolation=self.interpolation)
        fine_mask = mask[0].repeat(k, axis=0).repeat(k, axis=1)
        rows, cols = slice(r0 - cr0 * k, r1 - cr0 * k), slice(c0 - cc0 * k, c1 - cc0 * k)
        return _take_padded(fine, rows, cols), _take_padded(fine_mask, rows, cols)

    def close(self) -> None:
        """Close the band files."""
        self._stack.close()


def _harmonise(band: np.ndarray, radiometry: tuple[float, float] | None, nodata: np.ndarray) -> np.ndarray:
    """(raw + offset) * gain in place (float32): a product's DNs as reflectance x 10000 without offset
    (``radiometry`` None: plain band files, returned as they are).

    No-data pixels (NODATA, SATURATED) become 0, not offset * gain or 65535 * gain: a coarse band
    is interpolated across them, and -1000 or 6.5 reflectance there would reach the valid pixels
    beside them (-1000 differently for two baselines).
    """
    if radiometry is None:
        return band
    offset, gain = radiometry
    if offset:
        band += np.float32(offset)
    if gain != 1.0:
        band *= np.float32(gain)
    if nodata.any():
        band[nodata] = 0.0
    return band


def _take_padded(array: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """array[rows, cols], repeating the last row/column where a coarse band ends before the grid does."""
    need_r, need_c = rows.stop - array.shape[0], cols.stop - array.shape[1]
    if need_r > 0 or need_c > 0:
        array = np.pad(array, ((0, max(need_r, 0)), (0, max(need_c, 0))), mode='edge')
    return array[rows, cols]


class ArraySource(SceneSource):
    """An in-memory (bands, H, W) array with a geotransform (tests, benchmarks, notebooks)."""

    def __init__(self, array: np.ndarray, transform: Affine, crs, spec: InputSpec | None = None,
                 nodata_mask: np.ndarray | None = None, band_names: Sequence[str] | None = None,
                 label: str = 'in-memory scene') -> None:
        self.label = label
        _check_georeferenced(crs, transform, label)
        names = list(band_names) if band_names is not None else [f'band {i + 1}' for i in range(array.shape[0])]
        indexes = resolve_band_indexes(spec.bands if spec else None, names, label)
        self._array = array
        self._indexes = [i - 1 for i in indexes]
        self._nodata = nodata_mask
        self.band_names = [names[i] for i in self._indexes]
        self.height, self.width = array.shape[1:]
        self.crs = rasterio.crs.CRS.from_user_input(crs)
        self.transform = transform
        self.dtype = str(array.dtype)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """A view of the window as float32 and its nodata mask."""
        rows, cols = window.toslices()
        data = self._array[self._indexes, rows, cols].astype(np.float32, copy=False)
        if self._nodata is None:
            return data, np.zeros(data.shape[1:], bool)
        return data, self._nodata[rows, cols]


def find_band_files(directory: Path) -> dict[str, Path]:
    """Band files under ``directory`` (recursively), the finest file of each band when several exist."""
    found: dict[str, list[Path]] = {}
    for path in sorted(directory.rglob('*')):
        # Sentinel-2 quality masks (QI_DATA/MSK_DETFOO_B04.jp2, ...) name a band but hold no image
        is_mask = path.name.upper().startswith('MSK_') or 'QI_DATA' in (p.upper() for p in path.parts)
        if (path.suffix.lower() in RASTER_SUFFIXES and path.is_file() and not path.name.startswith('.')
                and not is_mask):
            name = band_name_from_filename(path)
            if name:
                found.setdefault(name, []).append(path)
    chosen = {}
    for name, paths in found.items():
        if len(paths) == 1:
            chosen[name] = paths[0]
            continue
        # a Sentinel-2 L2A product holds B02 at 10, 20 and 60 m: take the finest
        by_res = sorted(paths, key=lambda p: _resolution_of(p))
        if _resolution_of(by_res[0]) == _resolution_of(by_res[1]):
            raise DaspmInputError(f'{directory}: band {name} is in several files of the same resolution '
                                  f'({by_res[0]}, {by_res[1]}); keep one or pass the band files explicitly')
        chosen[name] = by_res[0]
    return chosen


def _resolution_of(path: Path) -> float:
    with open_raster(path) as src:
        return pixel_size(src.transform)[0]


def open_scene(inputs: Sequence[str | Path], spec: InputSpec, nodata: float | None = None,
               band_resampling: str = 'bilinear',
               mask_classes: Sequence[int] | None = DEFAULT_MASK_CLASSES) -> SceneSource:
    """Open a Sentinel-2 product (.SAFE folder or .zip), a multi-band raster, a directory of band files
    or a list of band files as a SceneSource.

    ``mask_classes``: scene classification (SCL) classes of a product that become nodata in the
    map (for L1C, the cloud-mask layers standing for them); None or empty: no mask.
    """
    paths = [Path(p) for p in inputs]
    if not paths:
        raise DaspmInputError('no input given: pass a GeoTIFF/VRT, a directory of band files or band files')
    for path in paths:
        if not path.exists():
            raise DaspmInputError(f'{path}: file not found; check the path')
    if len(paths) == 1 and is_product(paths[0]):
        return open_product(paths[0], spec, nodata=nodata, band_resampling=band_resampling,
                            mask_classes=mask_classes)
    if len(paths) == 1 and paths[0].is_file():
        return RasterSource(paths[0], spec, nodata)
    if len(paths) == 1:
        if paths[0].name.upper().endswith('.SAFE'):
            warnings.warn(f'{paths[0]} has no MTD_MSIL1C.xml / MTD_MSIL2A.xml: read as a folder of band files, '
                          'without the product\'s offsets and quality masks')
        files = find_band_files(paths[0])
        if not files:
            raise DaspmInputError(f'{paths[0]}: no band files found (raster files named like '
                                  'T33TWM_20230801_B04_10m.jp2 or B04.tif)')
        label = str(paths[0])
    else:
        files = {}
        for path in paths:
            if path.is_dir():
                raise DaspmInputError(f'{path} is a directory; pass either one directory or band files')
            name = band_name_from_filename(path) or _band_name_from_description(path)
            if name in files:
                raise DaspmInputError(f'band {name} given twice: {files[name]} and {path}')
            files[name] = path
        label = None
    return BandFilesSource(files, spec, nodata=nodata, band_resampling=band_resampling, label=label)


def open_product(path: Path, spec: InputSpec, nodata: float | None = None, band_resampling: str = 'bilinear',
                 mask_classes: Sequence[int] | None = DEFAULT_MASK_CLASSES) -> BandFilesSource:
    """A Sentinel-2 L1C/L2A product as a band-files source: native-resolution bands, harmonised
    radiometry (offsets and quantification of the metadata), the product's nodata value (unless
    ``nodata`` is given) and saturated value (no data in any band makes the pixel no data) and its
    quality mask."""
    product = read_product(path)
    wanted = [normalize_band_name(b) for b in (spec.bands or []) if isinstance(b, str)]
    missing = [b for b in wanted if b not in product.bands]
    if missing:
        raise DaspmInputError(
            f'{path}: the config needs band(s) {missing}, which this {product.level} product has no file for under '
            f'GRANULE/*/IMG_DATA (bands found: {sorted(product.bands, key=_band_sort_key)}); download the complete '
            f'product, or map it with a model trained on the bands it has')
    notes = list(product.notes)
    if spec.offset:
        notes.append(f"the config's offset ({spec.offset:g}) is not added: the product's own offsets harmonise it")

    def exclusion(transform, crs, shape):
        return quality_mask(product, mask_classes, transform, crs, shape)

    radiometry = {band: product.radiometry(band) for band in product.bands}
    source = BandFilesSource(product.bands, spec, nodata=product.nodata if nodata is None else nodata,
                             band_resampling=band_resampling, label=str(path), radiometry=radiometry,
                             saturated=product.saturated,
                             exclusion=exclusion, notes=notes, nodata_in_any_band=True)
    source.notes.append(f'no data where any band holds {source.nodata:g} (NODATA) or {product.saturated:g} '
                        '(SATURATED)')
    source.product = product
    return source


def _band_name_from_description(path: Path) -> str:
    with open_raster(path) as src:
        desc = src.descriptions[0] if src.count == 1 else None
    name = normalize_band_name(desc)
    if not re.fullmatch(r'B\d{1,2}A?', name):
        raise DaspmInputError(f'{path}: cannot tell which band it is; name band files like '
                              'T33TWM_20230801_B04_10m.tif (or set the band description to B4)')
    return name
