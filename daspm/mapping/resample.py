"""Read windows of the output grid: the input pixels they need, scaled and resampled like the test pipeline.

For an integer factor (10 m -> 2 m is x5) a window is cut from ``cv2.resize`` of whole input
pixels read with a margin, which gives the values of ``SubPixelResample`` on the whole image
(cv2's kernels only look at neighbours, and the scene edges clamp the same way) up to one unit
in the last place where cv2's vector and scalar code paths round differently. Other factors use
separable weight matrices with cv2's kernels and coordinates (equal to float rounding).
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from rasterio.windows import Window
from tqdm import tqdm

from ..datasets.transforms.subpixel import INTERPOLATIONS
from ..utils.errors import DaspmInputError
from ..utils.raster import nonfinite_mask
from .grid import OutputGrid
from .inputs import SceneSource
from .spec import InputSpec

_MARGIN = 3          # input pixels read around a window: covers the bicubic kernel (2 pixels)
_CUBIC_A = -0.75     # cv2's bicubic coefficient
_RANGE_BLOCK = 1024  # input pixels per side of the blocks read for the value range


def scale_raw(data: np.ndarray, nodata: np.ndarray, spec: InputSpec, dtype: str,
              harmonised: bool = False) -> np.ndarray:
    """LoadGeoTiff's scaling: (raw + offset) / scale, 0 where every band is nodata.

    ``harmonised``: the raw values already carry a product's own offsets (SceneSource.harmonised),
    so the config's offset is not added.
    """
    offset = 0.0 if harmonised else spec.offset
    img = (data + offset) / spec.scale_for(dtype) if offset else data / np.float32(spec.scale_for(dtype))
    if nodata.any():
        img[:, nodata] = 0.0
    return img


def read_scaled(source: SceneSource, window: Window, spec: InputSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled input (bands, h, w) of a scene window, its nodata mask and its non-finite pixels.

    Pixels with a NaN/Inf band are nodata too (scale_raw fills them, so no NaN reaches the model or
    the resampling kernels); ``nonfinite`` keeps those the source did not already call nodata
    (``--nodata nan`` makes NaN ordinary nodata), for the count in the map's record.
    """
    data, nodata = source.read(window)
    nonfinite = nonfinite_mask(data) & ~nodata
    nodata = nodata | nonfinite
    return scale_raw(data, nodata, spec, source.dtype, source.harmonised), nodata, nonfinite


def value_range(source: SceneSource, spec: InputSpec, aoi: Window,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-band min and max of the scaled input that mapping ``aoi`` reads: SubPixelResample's clip range.

    The AOI is widened by the kernel margin (inside the scene): pixels at its edge are
    interpolated from real neighbours, so they must not be clipped to the AOI's own range.
    Only pixels with data count (subpixel.valid_range); without any, the range is 0..0.
    For the whole scene this is exactly the range SubPixelResample uses.
    """
    low = np.full(source.count, np.inf, np.float32)
    high = np.full(source.count, -np.inf, np.float32)
    r0, c0 = max(int(aoi.row_off) - _MARGIN, 0), max(int(aoi.col_off) - _MARGIN, 0)
    r1 = min(int(aoi.row_off + aoi.height) + _MARGIN, source.height)
    c1 = min(int(aoi.col_off + aoi.width) + _MARGIN, source.width)
    blocks = [(r, c) for r in range(r0, r1, _RANGE_BLOCK) for c in range(c0, c1, _RANGE_BLOCK)]
    for r, c in tqdm(blocks, desc='value range', unit='block', disable=not progress or len(blocks) < 4, leave=False):
        h, w = min(_RANGE_BLOCK, r1 - r), min(_RANGE_BLOCK, c1 - c)
        img, nodata, _ = read_scaled(source, Window(c, r, w, h), spec)
        if nodata.all():
            continue
        pixels = img[:, ~nodata]
        low = np.minimum(low, pixels.min(axis=1))
        high = np.maximum(high, pixels.max(axis=1))
    empty = low > high
    low[empty] = high[empty] = 0.0
    return low, high


def _cubic_weights(fx: np.ndarray) -> np.ndarray:
    """cv2's four bicubic coefficients for fractional offsets ``fx`` -> (n, 4)."""
    a = _CUBIC_A
    x = fx
    w0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    w1 = ((a + 2) * x - (a + 3)) * x * x + 1
    w2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return np.stack([w0, w1, w2, 1 - w0 - w1 - w2], axis=1)


def axis_taps(scene_len: int, aoi_off: int, aoi_len: int, fine_len: int, d0: int, d1: int,
              interpolation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input indexes and weights (n, taps) of fine pixels d0..d1 along one axis, and their nearest index.

    Coordinates follow cv2.resize of the AOI to ``fine_len`` pixels; indexes clamp at the scene
    edges (inside the scene, real neighbours beyond the AOI are used).
    """
    d = np.arange(d0, d1, dtype=np.float64)
    scale = aoi_len / fine_len
    nearest = aoi_off + np.minimum(np.floor(d * scale).astype(np.int64), aoi_len - 1)
    if interpolation == 'nearest':
        return nearest[:, None], np.ones((len(d), 1)), nearest
    if interpolation == 'bicubic':
        fx = (d + 0.5) * scale - 0.5 + aoi_off
        sx = np.floor(fx)
        weights = _cubic_weights(fx - sx)
        idx = sx.astype(np.int64)[:, None] + np.arange(-1, 3)
        return np.clip(idx, 0, scene_len - 1), weights, nearest
    if interpolation == 'bilinear':
        fx = (d + 0.5) * scale - 0.5 + aoi_off
        sx = np.floor(fx)
        fx = fx - sx
    elif interpolation == 'area' and scale <= 1:
        sx = np.floor(d * scale)
        fx = (d + 1) - (sx + 1) / scale
        fx = np.where(fx <= 0, 0.0, fx - np.floor(fx))
        sx = sx + aoi_off
    else:
        raise DaspmInputError(f"interpolation {interpolation!r} with a scale factor below 1 is not supported by "
                              "scene mapping; use 'bilinear' or 'bicubic' in SubPixelResample")
    sx = sx.astype(np.int64)
    below, above = sx < 0, sx >= scene_len - 1
    fx = np.where(below | above, 0.0, fx)
    sx = np.clip(sx, 0, scene_len - 1)
    idx = np.stack([sx, np.minimum(sx + 1, scene_len - 1)], axis=1)
    return idx, np.stack([1 - fx, fx], axis=1), nearest


def _tap_matrix(idx: np.ndarray, weights: np.ndarray, lo: int, hi: int) -> np.ndarray:
    matrix = np.zeros((idx.shape[0], hi - lo), np.float64)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    np.add.at(matrix, (rows, (idx - lo).ravel()), weights.ravel())
    return matrix


class WindowRead(NamedTuple):
    """A window of model input on the output grid and its (h, w) masks."""

    img: np.ndarray               # (bands, h, w) float32 model input (nodata input filled with 0 before resampling)
    nodata: np.ndarray            # no input value: nodata of the source, or a band NaN/Inf
    excluded: np.ndarray | None   # left out by a quality mask (clouds...); None without one
    nonfinite: np.ndarray         # the part of ``nodata`` that is NaN/Inf input


class FineWindowReader:
    """Read (bands, h, w) model input and the nodata mask for windows of an output grid."""

    def __init__(self, source: SceneSource, spec: InputSpec, grid: OutputGrid,
                 clip_range: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.source, self.spec, self.grid = source, spec, grid
        self.interpolation = spec.interpolation
        self.clip_range = clip_range
        self.resampled = (grid.height, grid.width) != (int(grid.aoi.height), int(grid.aoi.width))

    def read(self, y: int, x: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Model input (bands, h, w) float32 and nodata mask (h, w) of output rows y..y+h, columns x..x+w."""
        window = self.read_window(y, x, h, w)
        return window.img, window.nodata

    def read_window(self, y: int, x: int, h: int, w: int) -> WindowRead:
        """Model input and masks of output rows y..y+h, columns x..x+w.

        The masks follow the input pixel each output pixel lies in (nearest), as the nodata mask
        of SubPixelResample does.
        """
        if not self.resampled:
            aoi = self.grid.aoi
            window = Window(aoi.col_off + x, aoi.row_off + y, w, h)
            img, nodata, nonfinite = read_scaled(self.source, window, self.spec)
            return WindowRead(img, nodata, self.source.read_exclusion(window), nonfinite)
        if self.grid.integer_factor:
            return self._read_integer(y, x, h, w, self.grid.integer_factor)
        return self._read_general(y, x, h, w)

    def _clip(self, img: np.ndarray) -> np.ndarray:
        """Clip (h, w, C) like SubPixelResample (cubic overshoot must not invent reflectances)."""
        if self.clip_range is None:
            return img
        return np.clip(img, self.clip_range[0], self.clip_range[1]).astype(np.float32, copy=False)

    def _read_integer(self, y: int, x: int, h: int, w: int, k: int) -> WindowRead:
        aoi, src = self.grid.aoi, self.source
        fy, fx = int(aoi.row_off) * k + y, int(aoi.col_off) * k + x   # scene fine coordinates
        r0, c0 = max(fy // k - _MARGIN, 0), max(fx // k - _MARGIN, 0)
        r1 = min(-(-(fy + h) // k) + _MARGIN, src.height)
        c1 = min(-(-(fx + w) // k) + _MARGIN, src.width)
        window = Window(c0, r0, c1 - c0, r1 - r0)
        img, nodata, nonfinite = read_scaled(src, window, self.spec)
        img = np.ascontiguousarray(img.transpose(1, 2, 0))
        fine = cv2.resize(img, ((c1 - c0) * k, (r1 - r0) * k), interpolation=INTERPOLATIONS[self.interpolation])
        if fine.ndim == 2:
            fine = fine[..., None]
        rows, cols = slice(fy - r0 * k, fy - r0 * k + h), slice(fx - c0 * k, fx - c0 * k + w)
        out = self._clip(fine[rows, cols]).transpose(2, 0, 1)

        def upsample(mask: np.ndarray) -> np.ndarray:
            mask = mask[(rows.start // k):(-(-rows.stop // k)), (cols.start // k):(-(-cols.stop // k))]
            mask = mask.repeat(k, axis=0).repeat(k, axis=1)
            off_r, off_c = rows.start % k, cols.start % k
            return mask[off_r:off_r + h, off_c:off_c + w]

        excluded = src.read_exclusion(window)
        return WindowRead(np.ascontiguousarray(out), upsample(nodata),
                          None if excluded is None else upsample(excluded), upsample(nonfinite))

    def _read_general(self, y: int, x: int, h: int, w: int) -> WindowRead:
        aoi, src, grid = self.grid.aoi, self.source, self.grid
        iy, wy, ny = axis_taps(src.height, int(aoi.row_off), int(aoi.height), grid.height, y, y + h, self.interpolation)
        ix, wx, nx = axis_taps(src.width, int(aoi.col_off), int(aoi.width), grid.width, x, x + w, self.interpolation)
        r0, r1 = int(min(iy.min(), ny.min())), int(max(iy.max(), ny.max())) + 1
        c0, c1 = int(min(ix.min(), nx.min())), int(max(ix.max(), nx.max())) + 1
        window = Window(c0, r0, c1 - c0, r1 - r0)
        img, nodata, nonfinite = read_scaled(src, window, self.spec)
        img = img.astype(np.float64)
        out = _tap_matrix(iy, wy, r0, r1) @ img @ _tap_matrix(ix, wx, c0, c1).T
        out = self._clip(out.astype(np.float32).transpose(1, 2, 0)).transpose(2, 0, 1)
        excluded = src.read_exclusion(window)
        nearest = np.ix_(ny - r0, nx - c0)
        return WindowRead(np.ascontiguousarray(out), nodata[nearest], None if excluded is None else excluded[nearest],
                          nonfinite[nearest])
