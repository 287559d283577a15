"""Resample imagery onto the fine output grid so both domains share one scale (sub-pixel mapping)."""
from __future__ import annotations

import cv2
import numpy as np
from affine import Affine
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...utils.errors import DaspmInputError
from ...utils.raster import resampled_transform, subpixel_shape
from .geotiff_loading import apply_image_nodata_to_label

# Interpolation names of the config -> cv2 flags; scene mapping reads windows with the same table.
INTERPOLATIONS = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
                   'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA}


def subpixel_factor(in_gsd: float, out_gsd: float) -> float:
    """Fine pixels per coarse pixel; snapped to an integer when within 1% (9.99 m -> 2 m is x5)."""
    factor = in_gsd / out_gsd
    nearest = round(factor)
    if nearest >= 1 and abs(factor - nearest) <= 0.01 * nearest:
        return float(nearest)
    return factor


def valid_range(img: np.ndarray, nodata: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-band min and max of an (H, W, C) image over its pixels with data (all pixels if none has).

    Nodata pixels hold a fill value (0), not a reflectance: counted, they would widen the clip range
    and a nodata block would change the pixels far from it.
    """
    pixels = img.reshape(-1, img.shape[-1])
    if nodata is not None and nodata.shape == img.shape[:2] and not nodata.all():
        pixels = pixels[~nodata.ravel()]
    return pixels.min(axis=0), pixels.max(axis=0)


@TRANSFORMS.register_module()
class SubPixelResample(BaseTransform):
    """Resample ``img`` from its GSD (from the file, or LoadGeoTiff's nominal_gsd) to ``out_gsd``.

    Images use ``interpolation`` (bicubic by default, clipped to the range of the input's pixels
    with data so cubic overshoot does not invent reflectances); labels on a coarser grid use
    nearest neighbour.
    The geotransform is updated so a prediction on the fine grid keeps the input's bounds.
    """

    def __init__(self, out_gsd: float, interpolation: str = 'bicubic') -> None:
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}')
        self.out_gsd = float(out_gsd)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Resample image (and nodata mask, and a coarse label) to the output grid."""
        in_gsd = results.get('gsd')
        if in_gsd is None:
            raise DaspmInputError(
                f'{results.get("img_path")}: not georeferenced, so its pixel size is unknown; '
                'set nominal_gsd in the LoadGeoTiff step of the config')
        factor = subpixel_factor(in_gsd, self.out_gsd)
        img = results['img']
        in_shape = img.shape[:2]
        out_shape = subpixel_shape(in_shape, factor)
        if out_shape != tuple(in_shape):
            resized = cv2.resize(img, (out_shape[1], out_shape[0]),
                                 interpolation=INTERPOLATIONS[self.interpolation])
            if resized.ndim == 2:
                resized = resized[..., None]
            low, high = valid_range(img, results.get('img_nodata_mask'))
            results['img'] = np.clip(resized, low, high).astype(img.dtype, copy=False)
            if 'img_nodata_mask' in results:
                results['img_nodata_mask'] = cv2.resize(
                    results['img_nodata_mask'].astype(np.uint8), (out_shape[1], out_shape[0]),
                    interpolation=cv2.INTER_NEAREST).astype(bool)
        results['img_shape'] = out_shape
        results['ori_shape'] = out_shape
        results['subpixel_factor'] = factor
        if results.get('geo_transform') is not None:
            fine = resampled_transform(Affine(*results['geo_transform']), in_shape, out_shape)
            results['geo_transform'] = tuple(fine)[:6]
        results['gsd'] = in_gsd * in_shape[1] / out_shape[1]
        self._fit_label(results, out_shape)
        return results

    @staticmethod
    def _fit_label(results: dict, out_shape: tuple[int, int]) -> None:
        seg = results.get('gt_seg_map')
        if seg is None:
            return
        if seg.shape != out_shape:
            if seg.shape[0] > out_shape[0] or seg.shape[1] > out_shape[1]:
                raise DaspmInputError(
                    f'{results.get("seg_map_path")}: label is {seg.shape[0]}x{seg.shape[1]} pixels but the '
                    f'image on the {results["gsd"]:g} m output grid is {out_shape[0]}x{out_shape[1]}; '
                    'labels must lie on the output grid (or a coarser one) over the same bounds')
            results['gt_seg_map'] = cv2.resize(seg, (out_shape[1], out_shape[0]),
                                               interpolation=cv2.INTER_NEAREST)
        apply_image_nodata_to_label(results)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(out_gsd={self.out_gsd}, interpolation={self.interpolation!r})'
