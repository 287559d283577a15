"""Random smooth fields (correlated noise) shared by the scene and reflectance models."""
from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-correlated noise of correlation length ``sigma`` pixels (float32)."""
    height, width = shape
    # Large correlation lengths are filtered on a coarse grid and upsampled: a direct filter
    # with sigma 30 px costs ~100x more and the result looks the same.
    step = max(1, int(sigma // 2))
    coarse = (math.ceil(height / step) + 2, math.ceil(width / step) + 2)
    white = rng.standard_normal(coarse, dtype=np.float32)
    field = ndimage.gaussian_filter(white, sigma / step, mode='wrap')
    if step > 1:
        field = cv2.resize(field, (coarse[1] * step, coarse[0] * step), interpolation=cv2.INTER_LINEAR)
    field = np.ascontiguousarray(field[step:step + height, step:step + width])
    field -= field.mean()
    std = float(field.std())
    return field / std if std > 0 else field


def planar_gradient(rng: np.random.Generator, shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """A linear ramp of peak-to-peak ``amplitude`` in a random direction, centred on 1 (float32)."""
    height, width = shape
    angle = rng.uniform(0.0, 2.0 * math.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xx / max(width - 1, 1) - 0.5) * math.cos(angle) + (yy / max(height - 1, 1) - 0.5) * math.sin(angle)
    return (1.0 + amplitude * ramp).astype(np.float32)
