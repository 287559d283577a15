"""Show a sharp source image the way a coarser target sensor sees the same ground (sub-pixel augmentation).

The target of sub-pixel mapping is a 10 m image resampled onto the 2 m label grid: the ground
was blurred by the sensor's point-spread function, integrated over each 10 m detector footprint
and interpolated back. A model trained only on sharp 2 m source images never saw that. This
transform renders source images through the same three steps, with the blur taken from the
target sensor's published specification rather than from any dataset:

- **PSF.** A Gaussian whose modulation transfer function at the sensor's Nyquist frequency
  ``1 / (2 * sensor_gsd)`` equals ``mtf_at_nyquist``: ``MTF(f) = exp(-2 pi^2 sigma^2 f^2)``, so
  ``sigma = sqrt(-ln(MTF) / (2 pi^2)) * 2 * sensor_gsd``. Sentinel-2 MSI requires an MTF at
  Nyquist between 0.15 and 0.30 for its 10 m bands (ESA, Sentinel-2 mission requirements, also
  in the MSI user handbook); each call draws it uniformly from that range.
- **Integration.** Mean over each ``sensor_gsd`` footprint, with the footprint grid at a random
  offset (the 10 m grid falls anywhere on the ground).
- **Resampling** back to the image's grid with the target pipeline's interpolation, clipped to
  the input's range as ``SubPixelResample`` does.

Labels are not touched: the model learns to predict the 2 m classes from 10 m-like pixels.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...utils.errors import DaspmInputError
from .subpixel import INTERPOLATIONS, subpixel_factor

# Sentinel-2 MSI, 10 m bands: MTF at the Nyquist frequency between 0.15 and 0.30.
SENTINEL2_10M_MTF_AT_NYQUIST = (0.15, 0.30)


def gaussian_psf_sigma(mtf_at_nyquist: float, sensor_gsd: float) -> float:
    """Std (in metres) of the Gaussian PSF whose MTF at ``1 / (2 sensor_gsd)`` is ``mtf_at_nyquist``."""
    if not 0.0 < mtf_at_nyquist < 1.0:
        raise ValueError(f'mtf_at_nyquist must lie in (0, 1), got {mtf_at_nyquist}')
    return math.sqrt(-math.log(mtf_at_nyquist) / (2 * math.pi ** 2)) * 2 * sensor_gsd


def simulate_coarse_sensor(img: np.ndarray, factor: int, sigma_px: float, offset: tuple[int, int] = (0, 0),
                           interpolation: str = 'bicubic') -> np.ndarray:
    """PSF blur, ``factor`` x ``factor`` footprint means from ``offset``, resampled back to ``img``'s grid.

    ``img`` is (H, W, C) float; ``sigma_px`` the PSF std in pixels of ``img``. The returned image
    has ``img``'s shape and dtype and lies within its per-band range.
    """
    height, width = img.shape[:2]
    work = img.astype(np.float32, copy=False)
    if work.ndim == 2:
        work = work[..., None]
    if sigma_px > 0:
        work = cv2.GaussianBlur(work, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px, borderType=cv2.BORDER_REFLECT_101)
        work = work.reshape(height, width, -1)
    dy, dx = (int(o) % factor for o in offset)
    # footprint grid starts `dy, dx` pixels before the image: pad so the padded size is a multiple
    pad_bottom = -(height + dy) % factor
    pad_right = -(width + dx) % factor
    padded = cv2.copyMakeBorder(work, dy, pad_bottom, dx, pad_right, cv2.BORDER_REFLECT_101)
    padded = padded.reshape(padded.shape[0], padded.shape[1], -1)
    ph, pw, bands = padded.shape
    coarse = padded.reshape(ph // factor, factor, pw // factor, factor, bands).mean(axis=(1, 3))
    fine = cv2.resize(coarse, (pw, ph), interpolation=INTERPOLATIONS[interpolation])
    fine = fine.reshape(ph, pw, bands)[dy:dy + height, dx:dx + width]
    low = img.reshape(-1, bands).min(axis=0)
    high = img.reshape(-1, bands).max(axis=0)
    out = np.clip(fine, low, high).astype(img.dtype, copy=False)
    return out.reshape(img.shape)


@TRANSFORMS.register_module()
class SimulateCoarseSensor(BaseTransform):
    """Render the image as a ``sensor_gsd`` sensor would, on the image's own grid (see module docstring).

    Args:
        sensor_gsd: ground sample distance of the simulated sensor in metres (Sentinel-2: 10).
        mtf_at_nyquist: the sensor's MTF at its Nyquist frequency, a value or a (low, high) range
            drawn uniformly per image (default: Sentinel-2 MSI's 10 m requirement, 0.15-0.30).
        prob: probability of simulating the sensor for an image (else it passes unchanged).
        interpolation: how the coarse image returns to the grid; the target pipeline's
            ``SubPixelResample`` interpolation (bicubic by default).

    Put it after ``SubPixelResample`` (the image is then on the output grid, whose GSD it reads
    from ``results['gsd']``) and before any random resize or crop, so the footprint has its
    physical size. Nodata pixels are filled with the mean of the valid ones before blurring, so
    fill values do not bleed into the image; they stay masked in the label.
    """

    def __init__(self, sensor_gsd: float = 10.0,
                 mtf_at_nyquist: float | Sequence[float] = SENTINEL2_10M_MTF_AT_NYQUIST,
                 prob: float = 1.0, interpolation: str = 'bicubic') -> None:
        low, high = (mtf_at_nyquist, mtf_at_nyquist) if np.isscalar(mtf_at_nyquist) else tuple(mtf_at_nyquist)
        for value in (low, high):
            gaussian_psf_sigma(value, sensor_gsd)  # validates the range
        if low > high:
            raise ValueError(f'mtf_at_nyquist range must be (low, high), got {mtf_at_nyquist}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must lie in [0, 1], got {prob}')
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}')
        self.sensor_gsd = float(sensor_gsd)
        self.mtf_range = (float(low), float(high))
        self.prob = float(prob)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Simulate the sensor on ``results['img']`` with probability ``prob``."""
        if self.prob < 1.0 and np.random.rand() >= self.prob:
            return results
        gsd = results.get('gsd')
        if gsd is None:
            raise DaspmInputError(
                f'{results.get("img_path")}: pixel size unknown, so the {self.sensor_gsd:g} m sensor cannot be '
                'simulated; put SimulateCoarseSensor after SubPixelResample in the pipeline')
        factor = subpixel_factor(self.sensor_gsd, gsd)
        if factor < 1 or factor != int(factor):
            raise DaspmInputError(
                f'{results.get("img_path")}: the {self.sensor_gsd:g} m sensor is not a whole multiple of the '
                f'image grid ({gsd:g} m); simulate a sensor whose GSD is an integer multiple of out_gsd')
        factor = int(factor)
        mtf = float(np.random.uniform(*self.mtf_range))
        sigma_px = gaussian_psf_sigma(mtf, self.sensor_gsd) / gsd
        offset = tuple(int(v) for v in np.random.randint(0, factor, size=2))
        img = results['img']
        nodata = results.get('img_nodata_mask')
        if nodata is not None and nodata.any() and not nodata.all():
            img = img.copy()
            img[nodata] = img[~nodata].mean(axis=0)
        results['img'] = simulate_coarse_sensor(img, factor, sigma_px, offset, self.interpolation)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sensor_gsd={self.sensor_gsd}, mtf_at_nyquist={self.mtf_range}, '
                f'prob={self.prob}, interpolation={self.interpolation!r})')
