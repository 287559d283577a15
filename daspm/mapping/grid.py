"""The output grid (AOI snapped to input pixels, x factor) and the sliding windows laid on it."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from affine import Affine
from rasterio.windows import Window, from_bounds

from ..utils.errors import DaspmInputError
from ..utils.raster import resampled_transform, subpixel_shape
from .inputs import SceneSource

_SNAP_TOL = 1e-6  # pixel fraction below which a bbox edge counts as on a pixel edge


@dataclass(frozen=True)
class OutputGrid:
    """The map's pixel grid: the AOI (input pixels) laid on ``factor`` x finer pixels."""

    aoi: Window          # integer window of the input scene
    factor: float        # fine pixels per input pixel
    height: int
    width: int
    transform: Affine
    crs: object

    @property
    def integer_factor(self) -> int | None:
        """The factor as an int when it is one (the exact, cv2-identical resampling path)."""
        return int(self.factor) if float(self.factor).is_integer() else None


def _snap_out(value: float, up: bool) -> int:
    near = round(value)
    if abs(value - near) < _SNAP_TOL:
        return int(near)
    return math.ceil(value) if up else math.floor(value)


def resolve_aoi(source: SceneSource, bbox: Sequence[float] | None = None,
                window: Sequence[int] | None = None) -> Window:
    """Integer window of the scene for ``--bbox`` (CRS units, snapped outwards) or ``--window``; default all."""
    if bbox is not None and window is not None:
        raise DaspmInputError('give either --bbox or --window, not both')
    scene = Window(0, 0, source.width, source.height)
    if bbox is None and window is None:
        return scene
    if bbox is not None:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if not (maxx > minx and maxy > miny):
            raise DaspmInputError(f'--bbox {minx:g} {miny:g} {maxx:g} {maxy:g}: expected minx miny maxx maxy '
                                  'with minx < maxx and miny < maxy')
        win = from_bounds(minx, miny, maxx, maxy, transform=source.transform)
        c0, r0 = _snap_out(win.col_off, False), _snap_out(win.row_off, False)
        c1 = _snap_out(win.col_off + win.width, True)
        r1 = _snap_out(win.row_off + win.height, True)
        what = f'--bbox {minx:g} {miny:g} {maxx:g} {maxy:g}'
    else:
        c0, r0, width, height = (int(v) for v in window)
        if width <= 0 or height <= 0:
            raise DaspmInputError(f'--window {c0} {r0} {width} {height}: width and height must be positive')
        c1, r1 = c0 + width, r0 + height
        what = f'--window {c0} {r0} {width} {height}'
    cc0, rr0, cc1, rr1 = max(c0, 0), max(r0, 0), min(c1, source.width), min(r1, source.height)
    if cc1 <= cc0 or rr1 <= rr0:
        left, bottom, right, top = source.bounds
        raise DaspmInputError(
            f'{what} lies outside the scene {source.label} ({source.width}x{source.height} pixels, bounds '
            f'{left:.2f} {bottom:.2f} {right:.2f} {top:.2f} in {source.crs}); give an area inside it')
    if (cc0, rr0, cc1, rr1) != (c0, r0, c1, r1):
        warnings.warn(f'{what} extends beyond the scene {source.label}; mapping only the part inside it')
    return Window(cc0, rr0, cc1 - cc0, rr1 - rr0)


def output_grid(source: SceneSource, aoi: Window, factor: float) -> OutputGrid:
    """The fine grid over ``aoi``: same CRS and bounds, pixel size divided by ``factor``."""
    in_shape = (int(aoi.height), int(aoi.width))
    height, width = subpixel_shape(in_shape, factor)
    aoi_transform = source.transform @ Affine.translation(aoi.col_off, aoi.row_off)
    transform = resampled_transform(aoi_transform, in_shape, (height, width))
    return OutputGrid(aoi=aoi, factor=float(factor), height=height, width=width,
                      transform=transform, crs=source.crs)


def window_starts(total: int, size: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``size`` covering ``total`` with at least ``overlap``, evenly spread.

    Even spacing (instead of a fixed stride with the last window pushed back to the edge) keeps
    every overlap close to ``overlap``, which bounds the blending state carried between rows.
    """
    if total <= size:
        return [0]
    count = math.ceil((total - overlap) / (size - overlap))  # >= 2 since total > size
    span = total - size
    return [(k * span) // (count - 1) for k in range(count)]


def blend_ramp(size: int, overlap: int) -> np.ndarray:
    """1-D window weight: linear ramps over ``overlap`` pixels at both ends, 1 inside, never 0."""
    t = np.arange(size, dtype=np.float64)
    ramp = np.minimum(t + 1, size - t) / (overlap + 1)
    return np.clip(ramp, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class WindowPlan:
    """Windows (all of one size) laid row by row over an output grid of ``height`` x ``width``."""

    height: int
    width: int
    ys: list[int]
    xs: list[int]
    win_h: int
    win_w: int
    overlap: int

    @property
    def count(self) -> int:
        """Number of windows."""
        return len(self.ys) * len(self.xs)

    def weights(self) -> np.ndarray:
        """(win_h, win_w) blending weight of every window (separable ramps)."""
        return np.outer(blend_ramp(self.win_h, self.overlap), blend_ramp(self.win_w, self.overlap))

    def carry_rows(self) -> int:
        """Largest overlap between consecutive window rows: the rows of state kept between them."""
        return max([a + self.win_h - b for a, b in zip(self.ys, self.ys[1:])], default=0)


def plan_windows(height: int, width: int, size: int, overlap: int) -> WindowPlan:
    """Windows of ``size`` output pixels (smaller only where the grid is) overlapping by >= ``overlap``."""
    if size < 16:
        raise DaspmInputError(f'--window-size {size}: use at least 16 output pixels (e.g. 512)')
    if not 0 <= overlap <= size // 2:
        raise DaspmInputError(f'--overlap {overlap}: must be >= 0 and at most half the window size ({size // 2})')
    win_h, win_w = min(size, height), min(size, width)
    return WindowPlan(height=height, width=width, ys=window_starts(height, win_h, overlap),
                      xs=window_starts(width, win_w, overlap), win_h=win_h, win_w=win_w, overlap=overlap)
