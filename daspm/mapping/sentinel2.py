"""Sentinel-2 L1C / L2A products as mappers download them: a ``.SAFE`` folder or its ``.zip``.

The product's metadata (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``) gives the level, the processing
baseline, the quantification value and, from baseline 04.00 on, an offset per band
(``RADIO_ADD_OFFSET`` / ``BOA_ADD_OFFSET``): reflectance = (DN + offset) / quantification. Its
``Special_Values`` name the DNs that are no measurement: NODATA (0) and SATURATED (65535). The band
files are JPEG 2000 under ``GRANULE/*/IMG_DATA`` (L2A: ``R10m/T32TQM_20220101T101431_B04_10m.jp2``,
L1C: ``T32TQM_20220101T101431_B04.jp2``); each band is taken at its native (finest) resolution.
A zip is read in place through GDAL's ``/vsizip/``.

GDAL's own SENTINEL2 driver is not used for the pixels: it exposes one subdataset per resolution
(10 / 20 / 60 m) and needs the granule metadata, while the mapper takes single bands at their
native resolution onto one grid. The few metadata values needed are read with ElementTree.

Quality masks: the L2A scene classification (SCL, 20 m) and, for L1C from baseline 04.00, the
raster cloud mask ``QI_DATA/MSK_CLASSI_B00.jp2`` (60 m; bands: opaque clouds, cirrus, snow/ice).
Older L1C products only have vector (GML) cloud masks, which are not read.
"""
from __future__ import annotations

import re
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Sequence
from xml.etree import ElementTree

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..utils.errors import DaspmInputError
from ..utils.raster import normalize_band_name, open_raster, pixel_size

# band_id in the metadata -> band name (the order of the Spectral_Information list)
S2_BAND_IDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12')
# native resolution of each band (metres); L1C stores every band once, at this resolution
L1C_RESOLUTION = {'B1': 60, 'B2': 10, 'B3': 10, 'B4': 10, 'B5': 20, 'B6': 20, 'B7': 20, 'B8': 10, 'B8A': 20,
                  'B9': 60, 'B10': 60, 'B11': 20, 'B12': 20}
METADATA_FILES = {'MTD_MSIL1C.XML': 'L1C', 'MTD_MSIL2A.XML': 'L2A'}
# Scene classification classes (L2A SCL) left out of the map by default
SCL_CLASSES = {0: 'no data', 1: 'saturated or defective', 2: 'dark area pixels', 3: 'cloud shadows',
               4: 'vegetation', 5: 'not vegetated', 6: 'water', 7: 'unclassified',
               8: 'cloud medium probability', 9: 'cloud high probability', 10: 'thin cirrus', 11: 'snow'}
DEFAULT_MASK_CLASSES = (0, 1, 3, 8, 9, 10, 11)
# L1C MSK_CLASSI_B00 bands and the SCL classes they stand for (a class in the mask set selects the band)
L1C_MASK_BANDS = {1: ('opaque clouds', (8, 9)), 2: ('cirrus', (10,)), 3: ('snow and ice', (11,))}
TARGET_QUANTIFICATION = 10000.0  # products without offsets store reflectance x 10000
# the format's special values, taken where the metadata does not list them
DEFAULT_SPECIAL_VALUES = {'NODATA': 0.0, 'SATURATED': 65535.0}

_BAND_FILE = re.compile(r'_(B\d{2}|B8A)(?:_(\d{2})m)?\.jp2$', re.IGNORECASE)
_SCL_FILE = re.compile(r'_SCL_(\d{2})m\.jp2$', re.IGNORECASE)
_MTD = re.compile(r'^MTD_MSI\w+\.xml$', re.IGNORECASE)


@dataclass(frozen=True)
class Sentinel2Product:
    """What the mapper needs from a Sentinel-2 product: bands, radiometry and quality masks."""

    path: Path                          # the .SAFE folder or the .zip, as given
    level: str                          # 'L1C' or 'L2A'
    baseline: str                       # processing baseline, e.g. '04.00'
    quantification: float               # DN per unit reflectance (10000)
    offsets: dict[str, float]           # band name -> added to the DN before dividing (-1000 from 04.00)
    nodata: float | None                # the NODATA special value of the band files (0)
    saturated: float | None             # the SATURATED special value (65535): no measurement either
    bands: dict[str, str]               # band name ('B4') -> file (a GDAL path) at its native resolution
    scl: str | None = None              # L2A scene classification (20 m)
    cloud_mask: str | None = None       # L1C MSK_CLASSI_B00.jp2 (baseline >= 04.00)
    gml_cloud_mask: str | None = None   # L1C before 04.00: vector cloud mask (not read)
    metadata_file: str = ''
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Product name without .zip / .SAFE (output names in batch mapping)."""
        return product_name(self.path)

    def radiometry(self, band: str) -> tuple[float, float]:
        """(offset, gain) turning DNs of ``band`` into reflectance x 10000 as products without offsets store it."""
        return self.offsets.get(band, 0.0), TARGET_QUANTIFICATION / self.quantification


def product_name(path: str | Path) -> str:
    """'S2A_MSIL2A_x.SAFE.zip' / 'S2A_MSIL2A_x.zip' / 'S2A_MSIL2A_x.SAFE' -> 'S2A_MSIL2A_x'."""
    name = Path(path).name
    for suffix in ('.zip', '.SAFE', '.safe'):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return name


def is_product(path: Path) -> bool:
    """A .zip, or a folder with a Sentinel-2 metadata file (MTD_MSI*.xml) at its top."""
    if path.is_file():
        return path.suffix.lower() == '.zip'
    return path.is_dir() and any(_MTD.match(p.name) for p in path.iterdir() if p.is_file())


class _Listing:
    """The files of a product folder or zip, as POSIX paths relative to the product root, and their GDAL paths."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_file():
            try:
                with zipfile.ZipFile(path) as archive:
                    names = [n for n in archive.namelist() if not n.endswith('/')]
            except zipfile.BadZipFile:
                raise DaspmInputError(f'{path}: not a readable zip file; download the product again') from None
            metadata = sorted((n for n in names
                               if _MTD.match(PurePosixPath(n).name) and len(PurePosixPath(n).parts) <= 2),
                              key=lambda n: PurePosixPath(n).name.upper() not in METADATA_FILES)
            # the zip holds one folder, NAME.SAFE/, with the product in it
            self.root = str(PurePosixPath(metadata[0]).parent) if metadata else ''
            prefix = f'{self.root}/' if self.root not in ('', '.') else ''
            self.files = [n[len(prefix):] for n in names if n.startswith(prefix)]
            self._gdal_prefix = f'/vsizip/{path.resolve()}/{prefix}'
        else:
            self.root = ''
            self.files = [p.relative_to(path).as_posix() for p in sorted(path.rglob('*')) if p.is_file()]
            self._gdal_prefix = f'{path}/'

    def gdal_path(self, relative: str) -> str:
        """What rasterio.open takes for a file of the product (/vsizip/... inside a zip)."""
        return self._gdal_prefix + relative

    def read_text(self, relative: str) -> bytes:
        """Bytes of a (small) file of the product."""
        if self.path.is_file():
            prefix = f'{self.root}/' if self.root not in ('', '.') else ''
            with zipfile.ZipFile(self.path) as archive:
                return archive.read(prefix + relative)
        return (self.path / relative).read_bytes()


def _local(tag: str) -> str:
    return tag.rsplit('}', 1)[-1]


def _texts(root: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _first_text(root: ElementTree.Element, name: str) -> str | None:
    hits = _texts(root, name)
    return hits[0].text.strip() if hits and hits[0].text else None


def read_product(path: str | Path) -> Sentinel2Product:
    """Parse a Sentinel-2 .SAFE folder or .zip; DaspmInputError naming what is missing and the fix."""
    path = Path(path)
    if not path.exists():
        raise DaspmInputError(f'{path}: file not found; check the path')
    listing = _Listing(path)
    top = [f for f in listing.files if '/' not in f]
    metadata = [f for f in top if _MTD.match(f)]
    levels = [METADATA_FILES[f.upper()] for f in metadata if f.upper() in METADATA_FILES]
    if not levels:
        found = ', '.join(metadata) or 'no MTD_MSI*.xml'
        raise DaspmInputError(
            f'{path} is not a Sentinel-2 L1C or L2A product (found {found}; expected MTD_MSIL1C.xml or '
            'MTD_MSIL2A.xml at the top of the .SAFE folder); download the L1C or L2A product (the whole '
            '.SAFE folder or its zip), or pass band files / a GeoTIFF instead')
    level = levels[0]
    metadata_file = next(f for f in metadata if f.upper() in METADATA_FILES)
    try:
        root = ElementTree.fromstring(listing.read_text(metadata_file))
    except ElementTree.ParseError as err:
        raise DaspmInputError(f'{path}: {metadata_file} is not valid XML ({err}); download the product again') from None
    baseline = _first_text(root, 'PROCESSING_BASELINE') or '00.00'
    quant_tag = 'QUANTIFICATION_VALUE' if level == 'L1C' else 'BOA_QUANTIFICATION_VALUE'
    # products of Sen2Cor 2.4 (2017) name it L2A_BOA_QUANTIFICATION_VALUE
    quant_text = _first_text(root, quant_tag) or _first_text(root, f'L2A_{quant_tag}')
    if quant_text is None:
        raise DaspmInputError(f'{path}: {metadata_file} has no {quant_tag}; the product metadata is incomplete, '
                              'download the product again')
    names = {e.get('bandId'): normalize_band_name(e.get('physicalBand'))
             for e in _texts(root, 'Spectral_Information') if e.get('bandId') is not None}
    offset_tag = 'RADIO_ADD_OFFSET' if level == 'L1C' else 'BOA_ADD_OFFSET'
    offsets = {}
    for element in _texts(root, offset_tag):
        band_id = element.get('band_id')
        name = names.get(band_id) or (S2_BAND_IDS[int(band_id)] if band_id and band_id.isdigit()
                                      and int(band_id) < len(S2_BAND_IDS) else None)
        if name:
            offsets[name] = float(element.text)
    special = dict(DEFAULT_SPECIAL_VALUES)
    for element in _texts(root, 'Special_Values'):
        text = (_first_text(element, 'SPECIAL_VALUE_TEXT') or '').upper()
        if text in special:
            special[text] = float(_first_text(element, 'SPECIAL_VALUE_INDEX') or special[text])
    bands, granules = _band_files(listing, level)
    if len(granules) > 1:
        raise DaspmInputError(
            f'{path} holds {len(granules)} tiles (GRANULE/{sorted(granules)[0]}, ...): an old multi-tile product; '
            'map one tile at a time (pass its IMG_DATA band files) or download the single-tile product')
    if not bands:
        raise DaspmInputError(f'{path}: no band files (GRANULE/*/IMG_DATA/*_B04*.jp2, ...) in the {level} product; '
                              'the download is incomplete: download the product again')
    notes = [f'{level} product, processing baseline {baseline}, quantification {float(quant_text):g}, '
             + (f'offsets {sorted(set(offsets.values()))} applied' if any(offsets.values()) else 'no band offsets')]
    scl = cloud = gml = None
    if level == 'L2A':
        scl_files = sorted((int(m.group(1)), f) for f in listing.files if (m := _SCL_FILE.search(f))
                           and '/IMG_DATA/' in f)
        scl = listing.gdal_path(scl_files[0][1]) if scl_files else None
    else:
        qi = [f for f in listing.files if '/QI_DATA/' in f]
        raster = [f for f in qi if PurePosixPath(f).name.upper() == 'MSK_CLASSI_B00.JP2']
        vector = [f for f in qi if PurePosixPath(f).name.upper() == 'MSK_CLOUDS_B00.GML']
        cloud = listing.gdal_path(raster[0]) if raster else None
        gml = listing.gdal_path(vector[0]) if vector else None
    return Sentinel2Product(path=path, level=level, baseline=baseline, quantification=float(quant_text),
                            offsets=offsets, nodata=special['NODATA'], saturated=special['SATURATED'], bands=bands,
                            scl=scl, cloud_mask=cloud, gml_cloud_mask=gml,
                            metadata_file=listing.gdal_path(metadata_file), notes=notes)


def _band_files(listing: _Listing, level: str) -> tuple[dict[str, str], set[str]]:
    """Band name -> GDAL path of its native-resolution file, and the granules holding band files."""
    found: dict[str, list[tuple[int, str]]] = {}
    granules = set()
    for relative in listing.files:
        parts = PurePosixPath(relative).parts
        if len(parts) < 4 or parts[0] != 'GRANULE' or 'IMG_DATA' not in parts:
            continue
        match = _BAND_FILE.search(parts[-1])
        if not match:
            continue
        band = normalize_band_name(match.group(1))
        res = int(match.group(2)) if match.group(2) else L1C_RESOLUTION.get(band, 60)
        found.setdefault(band, []).append((res, relative))
        granules.add(parts[1])
    chosen = {}
    for band, files in found.items():
        # the native resolution (L2A also holds e.g. B02 at 20 and 60 m, B01 resampled to 20 m), else the finest
        native = [f for res, f in files if res == L1C_RESOLUTION.get(band)]
        chosen[band] = listing.gdal_path(native[0] if native else min(files)[1])
    return chosen, granules


class QualityMask:
    """Pixels a product's quality layer leaves out of the map (clouds, shadows, snow...), on a reference grid.

    ``rules`` are (band index, values): a pixel is masked where the band holds one of the values
    (None: any non-zero value). The layer may be coarser (SCL 20 m, MSK_CLASSI 60 m: nearest, i.e.
    each reference pixel takes the mask pixel it lies in) or finer (masked if any part is).
    """

    def __init__(self, path: str, rules: Sequence[tuple[int, Sequence[int] | None]], ref_transform: Affine,
                 ref_crs, ref_shape: tuple[int, int], description: str) -> None:
        self.path, self.rules, self.description = path, list(rules), description
        self._stack = ExitStack()
        self._src = self._stack.enter_context(open_raster(path))
        try:
            self._set_factor(ref_transform, ref_crs, ref_shape)
        except Exception:
            self.close()
            raise

    def _set_factor(self, ref_transform: Affine, ref_crs, ref_shape: tuple[int, int]) -> None:
        src = self._src
        res, ref_res = pixel_size(src.transform)[0], pixel_size(ref_transform)[0]
        coarser = res >= ref_res
        ratio = res / ref_res if coarser else ref_res / res
        factor = int(round(ratio))
        shift = max(abs(src.transform.c - ref_transform.c), abs(src.transform.f - ref_transform.f))
        if (src.crs != ref_crs or abs(ratio - factor) > 1e-3 or shift > 0.01 * min(res, ref_res)
                or max(self.rules)[0] > src.count):
            raise DaspmInputError(
                f'{self.path} ({self.description}) does not lie on the grid of the bands (CRS, upper-left corner, '
                'pixel size an integer multiple) or lacks a band; map with --no-mask, or download the product again')
        self.coarse_factor = factor if coarser else 1
        self.fine_factor = 1 if coarser else factor
        self.ref_shape = ref_shape

    def _flag(self, data: np.ndarray) -> np.ndarray:
        masked = np.zeros(data.shape[1:], bool)
        for i, (_, values) in enumerate(self.rules):
            masked |= (data[i] != 0) if values is None else np.isin(data[i], list(values))
        return masked

    def read(self, window: Window) -> np.ndarray:
        """(h, w) bool: True where the quality layer masks the reference-grid pixels of ``window``."""
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        indexes = [band for band, _ in self.rules]
        src = self._src
        if self.fine_factor > 1:
            k = self.fine_factor
            data = src.read(indexes, window=Window(c0 * k, r0 * k, w * k, h * k), boundless=True, fill_value=0)
            return self._flag(data).reshape(h, k, w, k).any(axis=(1, 3))
        k = self.coarse_factor
        cr0, cc0 = r0 // k, c0 // k
        cr1, cc1 = min(-(-(r0 + h) // k), src.height), min(-(-(c0 + w) // k), src.width)
        flags = self._flag(src.read(indexes, window=Window(cc0, cr0, cc1 - cc0, cr1 - cr0)))
        fine = flags.repeat(k, axis=0).repeat(k, axis=1)
        rows, cols = slice(r0 - cr0 * k, r0 - cr0 * k + h), slice(c0 - cc0 * k, c0 - cc0 * k + w)
        need_r, need_c = rows.stop - fine.shape[0], cols.stop - fine.shape[1]
        if need_r > 0 or need_c > 0:  # a mask ending before the band grid does: repeat its edge
            fine = np.pad(fine, ((0, max(need_r, 0)), (0, max(need_c, 0))), mode='edge')
        return fine[rows, cols]

    def close(self) -> None:
        """Close the mask file."""
        self._stack.close()


def quality_mask(product: Sentinel2Product, mask_classes: Sequence[int] | None, ref_transform: Affine, ref_crs,
                 ref_shape: tuple[int, int]) -> tuple[QualityMask | None, str]:
    """The product's quality mask for ``mask_classes`` (SCL ids; None or empty: no mask) and a note for the log."""
    classes = sorted(set(int(c) for c in mask_classes or ()))
    if not classes:
        return None, 'mask: none applied (--no-mask)'
    unknown = [c for c in classes if c not in SCL_CLASSES]
    if unknown:
        raise DaspmInputError(f'--mask-classes {unknown}: not Sentinel-2 scene classification classes (0..11: '
                              + ', '.join(f'{k} {v}' for k, v in SCL_CLASSES.items()) + ')')
    if product.level == 'L2A':
        if product.scl is None:
            return None, (f'mask: none applied ({product.path} has no SCL_20m.jp2 scene classification under '
                          'GRANULE/*/IMG_DATA)')
        names = ', '.join(f'{c} {SCL_CLASSES[c]}' for c in classes)
        mask = QualityMask(product.scl, [(1, classes)], ref_transform, ref_crs, ref_shape, 'scene classification')
        return mask, f'mask: SCL classes {names} ({PurePosixPath(product.scl).name})'
    bands = [(band, name) for band, (name, scl) in L1C_MASK_BANDS.items() if set(scl) & set(classes)]
    if product.cloud_mask is None:
        if product.gml_cloud_mask is not None:
            return None, (f'mask: none applied (L1C baseline {product.baseline} has only the vector cloud mask '
                          f'{PurePosixPath(product.gml_cloud_mask).name}, which is not read; the raster '
                          'MSK_CLASSI_B00.jp2 exists from baseline 04.00)')
        return None, f'mask: none applied ({product.path} has no cloud mask (QI_DATA/MSK_CLASSI_B00.jp2))'
    if not bands:
        return None, f'mask: none applied (the L1C cloud mask has no layer for SCL classes {classes})'
    mask = QualityMask(product.cloud_mask, [(band, None) for band, _ in bands], ref_transform, ref_crs, ref_shape,
                       'L1C cloud mask')
    return mask, (f'mask: L1C cloud mask layers {", ".join(name for _, name in bands)} '
                  f'({PurePosixPath(product.cloud_mask).name})')
