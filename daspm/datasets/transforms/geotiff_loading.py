"""Load GeoTIFF images and labels with rasterio, keeping their georeferencing in the sample."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from rasterio.errors import NotGeoreferencedWarning

from ...classes import IGNORE_INDEX
from ...utils.errors import DaspmInputError
from ...utils.raster import georeference, nonfinite_mask, open_raster, resolve_band_indexes

# Scale used by scale='auto': the value that maps to 1.0. uint16 follows the Sentinel-2
# convention (reflectance x 10000); other integer types use their full range.
_AUTO_SCALE = {'uint8': 255.0, 'uint16': 10000.0, 'int16': 10000.0}

GEO_META_KEYS = ('crs', 'geo_transform', 'gsd', 'band_names', 'subpixel_factor')


@TRANSFORMS.register_module()
class LoadGeoTiff(BaseTransform):
    """Read ``img_path`` with rasterio: select/order bands, scale to float, keep CRS/transform/GSD.

    Nodata pixels (every band masked, or any band NaN/Inf) are set to 0 and listed in
    ``img_nodata_mask``; LoadGeoTiffAnnotations sets the label to ignore there. A file with no
    finite pixel at all is refused.

    Args:
        bands: 1-based band indexes or band names (matched against band descriptions); None = all.
        scale: divisor mapping raw values to ~[0, 1]; 'auto' uses the dtype (uint8: 255,
            uint16/int16: 10000 as for Sentinel-2 reflectance, float: 1).
        offset: added to raw values before scaling (e.g. -1000 for Sentinel-2 L2A baseline >= 04.00).
        nominal_gsd: GSD (metres) assumed when the file is not georeferenced (PNG/JPG).
        num_bands: if given, the file must have exactly this many bands.
    """

    def __init__(self, bands: Sequence[int | str] | None = None, scale: float | str = 'auto',
                 offset: float = 0.0, nominal_gsd: float | None = None, num_bands: int | None = None) -> None:
        self.bands = list(bands) if bands is not None else None
        self.scale = scale
        self.offset = float(offset)
        self.nominal_gsd = nominal_gsd
        self.num_bands = num_bands

    def check_file(self, path: str) -> None:
        """Fail early, with a clear message, if ``path`` cannot deliver the configured bands."""
        with open_raster(path) as src:
            self.check_band_count(src.count, path)
            resolve_band_indexes(self.bands, src.descriptions, path)

    def check_band_count(self, count: int, path: str) -> None:
        """Raise if a file of ``count`` bands cannot be what ``num_bands`` asks for (scene mapping too)."""
        if self.num_bands is not None and count != self.num_bands:
            raise DaspmInputError(
                f'{path} has {count} band(s) but the config expects {self.num_bands} '
                f'(LoadGeoTiff num_bands={self.num_bands}, bands={self.bands}); '
                'use a product with the same bands as the training data or fix the config')

    def scale_for(self, dtype: str) -> float:
        """Divisor mapping raw values of ``dtype`` to ~[0, 1] ('auto' follows the dtype)."""
        if self.scale != 'auto':
            return float(self.scale)
        return _AUTO_SCALE.get(dtype, 1.0)

    def transform(self, results: dict) -> dict:
        """Load the image as float32 (H, W, C) and add georeferencing keys."""
        path = results['img_path']
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with open_raster(path) as src:
                self.check_band_count(src.count, path)
                indexes = resolve_band_indexes(self.bands, src.descriptions, path)
                masked = src.read(indexes, masked=True)
                dtype = src.dtypes[0]
                crs = src.crs
                transform = src.transform
                descriptions = [src.descriptions[i - 1] or f'band {i}' for i in indexes]
        img = (masked.data.astype(np.float32) + self.offset) / self.scale_for(dtype)
        # NaN/Inf (float tiles, or values beyond float32) are nodata: filled below, so the network
        # never sees them, and ignored in the label (apply_image_nodata_to_label)
        nonfinite = nonfinite_mask(img)
        if nonfinite.all():
            raise DaspmInputError(
                f'{path}: every pixel is NaN or infinite in the bands {descriptions}; re-export the image '
                'with finite values (nodata as a nodata value), or remove it from the dataset')
        nodata = np.ma.getmaskarray(masked).all(axis=0)
        nodata |= nonfinite
        if nodata.any():
            img[:, nodata] = 0.0
            results['img_nodata_mask'] = nodata
        results['img'] = np.ascontiguousarray(img.transpose(1, 2, 0))
        results['img_shape'] = img.shape[1:]
        results['ori_shape'] = img.shape[1:]
        results['band_names'] = descriptions
        results.update(georeference(crs, transform, self.nominal_gsd, path))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(bands={self.bands}, scale={self.scale}, offset={self.offset}, '
                f'nominal_gsd={self.nominal_gsd}, num_bands={self.num_bands})')


@TRANSFORMS.register_module()
class LoadGeoTiffAnnotations(BaseTransform):
    """Read the single-band label ``seg_map_path``: nodata -> ignore, values checked against the classes."""

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` (uint8, ignore 255) to the sample."""
        path = results['seg_map_path']
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with open_raster(path) as src:
                if src.count != 1:
                    raise DaspmInputError(
                        f'{path} has {src.count} bands; labels must be single-band class ids: '
                        'convert the dataset with tools/convert_datasets/')
                label = src.read(1, masked=True)
                results['label_geo_transform'] = tuple(src.transform)[:6]
        seg = label.data.astype(np.int64)
        seg[np.ma.getmaskarray(label)] = IGNORE_INDEX
        if results.get('label_map'):
            # mmseg's label_map (a config training on a subset of the classes) maps dataset ids to
            # the model's ids, so the range check below is on the mapped ids, not the stored ones
            original = seg.copy()
            for old_id, new_id in results['label_map'].items():
                seg[original == old_id] = new_id
        num_classes = results.get('num_classes')
        if num_classes is not None:
            _check_label_values(seg, num_classes, path)
        seg = seg.astype(np.uint8)
        results['gt_seg_map'] = seg
        results.setdefault('seg_fields', []).append('gt_seg_map')
        apply_image_nodata_to_label(results)
        return results


def _check_label_values(seg: np.ndarray, num_classes: int, path: str) -> None:
    """Raise if the label holds ids outside 0..num_classes-1 and the ignore index."""
    if seg.min() < 0 or seg.max() > IGNORE_INDEX:
        bad = np.unique(seg[(seg < 0) | (seg > IGNORE_INDEX)])
    else:
        counts = np.bincount(seg.ravel(), minlength=IGNORE_INDEX + 1)
        bad = np.flatnonzero(counts[num_classes:IGNORE_INDEX]) + num_classes
    if len(bad):
        raise DaspmInputError(
            f'{path} holds label values {bad[:10].tolist()} outside the class table '
            f'(0..{num_classes - 1}, {IGNORE_INDEX} = ignore); convert raw labels to train ids with '
            'tools/convert_datasets/gaofen2m.py or sentinel10m.py')


def apply_image_nodata_to_label(results: dict) -> None:
    """Where the image has no valid data, the label cannot be learned: set it to ignore."""
    mask = results.get('img_nodata_mask')
    seg = results.get('gt_seg_map')
    if mask is not None and seg is not None and mask.shape == seg.shape:
        seg[mask] = IGNORE_INDEX
