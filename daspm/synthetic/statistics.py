"""Per-class statistics of a 10 m four-band image (B2, B3, B4, B8): means, spread, NDVI, 10 m texture.

The same measure runs on a real Sentinel-2 patch with a land-cover mask and on the generator's
target tiles, so that the two can be compared number for number (benchmarks/generator_calibration.py,
docs/synthetic_dataset.md#calibrated-spectra---spectra-sentinel2).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

MIXED = -1  # class map value of pixels that belong to no single class (mixed 10 m pixels, nodata)
TEXTURE_WINDOW = 3  # side of the window of the local standard deviation, in 10 m pixels


@dataclass(frozen=True)
class ClassStatistics:
    """Statistics of one class over its pixels; band values are reflectance (B2, B3, B4, B8)."""

    pixels: int
    mean: tuple[float, float, float, float]
    std: tuple[float, float, float, float]
    ndvi_mean: float
    ndvi_std: float
    texture_pixels: int
    local_std: tuple[float, float, float, float]   # mean 3 x 3 local std, windows inside the class

    def as_dict(self) -> dict:
        """Plain JSON values, rounded to 4 decimals."""
        out = asdict(self)
        return {k: [round(float(x), 4) for x in v] if isinstance(v, tuple) else
                (round(float(v), 4) if isinstance(v, float) else v) for k, v in out.items()}


def pure_classes(labels: np.ndarray, factor: int) -> np.ndarray:
    """Coarse class map (h, w) from fine labels (h * factor, w * factor): the class where all agree, else MIXED."""
    h, w = labels.shape[0] // factor, labels.shape[1] // factor
    blocks = labels[:h * factor, :w * factor].reshape(h, factor, w, factor).transpose(0, 2, 1, 3).reshape(h, w, -1)
    first = blocks[..., 0].astype(np.int64)
    return np.where((blocks == blocks[..., :1]).all(-1), first, MIXED)


def local_std(image: np.ndarray, window: int = TEXTURE_WINDOW) -> np.ndarray:
    """Standard deviation of each band in a ``window`` x ``window`` neighbourhood (mirror at the edges)."""
    img = image.astype(np.float64)
    size = (1, window, window)
    mean = ndimage.uniform_filter(img, size, mode='mirror')
    square = ndimage.uniform_filter(img * img, size, mode='mirror')
    return np.sqrt(np.maximum(square - mean * mean, 0.0))


def interior(classes: np.ndarray, cls: int, window: int = TEXTURE_WINDOW) -> np.ndarray:
    """Pixels whose whole ``window`` x ``window`` neighbourhood is ``cls`` (texture inside, not at borders)."""
    inside = ndimage.minimum_filter((classes == cls).astype(np.uint8), window, mode='constant', cval=0)
    return inside > 0


def class_statistics(image: np.ndarray, classes: np.ndarray, cls: int) -> ClassStatistics | None:
    """Statistics of class ``cls`` in a (4, h, w) reflectance image; None when no pixel has it."""
    mask = classes == cls
    if not mask.any():
        return None
    values = image[:, mask].astype(np.float64)
    ndvi = (values[3] - values[2]) / np.maximum(values[3] + values[2], 1e-6)
    inside = interior(classes, cls)
    texture = local_std(image)[:, inside].mean(1) if inside.any() else np.full(4, np.nan)
    return ClassStatistics(pixels=int(mask.sum()), mean=tuple(values.mean(1)), std=tuple(values.std(1)),
                           ndvi_mean=float(ndvi.mean()), ndvi_std=float(ndvi.std()),
                           texture_pixels=int(inside.sum()), local_std=tuple(texture))


def per_class(image: np.ndarray, classes: np.ndarray, names: dict[int, str]) -> dict[str, ClassStatistics]:
    """``class_statistics`` of every named class present in ``classes``, by name."""
    out = {}
    for cls, name in names.items():
        stats = class_statistics(image, classes, cls)
        if stats is not None:
            out[name] = stats
    return out


def mosaic(images: list[np.ndarray], classes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Tiles side by side with one MIXED column between them, so that no texture window spans two tiles."""
    height = max(c.shape[0] for c in classes)
    image_parts, class_parts = [], []
    for image, cls in zip(images, classes):
        pad = ((0, height - cls.shape[0]), (0, 1))
        image_parts.append(np.pad(image.astype(np.float32), ((0, 0), *pad)))
        class_parts.append(np.pad(cls.astype(np.int64), pad, constant_values=MIXED))
    return np.concatenate(image_parts, axis=2), np.concatenate(class_parts, axis=1)


__all__ = ['ClassStatistics', 'MIXED', 'TEXTURE_WINDOW', 'class_statistics', 'interior', 'local_std', 'mosaic',
           'per_class', 'pure_classes']
