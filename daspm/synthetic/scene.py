"""Procedural urban label layouts on the 2 m grid: roads, blocks of buildings, yards, parks, water.

Class ids are the DASPM train ids 0..4 (green area, urban area, roads, impervious surface, water);
the writer adds 1 to store RAW codes. Distances are in 2 m pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

GREEN, URBAN, ROAD, IMPERVIOUS, WATER = 0, 1, 2, 3, 4
NUM_CLASSES = 5

# cv2 draws polygons in fixed point: 4 fractional bits keep widths exact to 1/16 pixel, which
# matters for the 1-3 px alleys.
_SHIFT = 4
_ONE = 1 << _SHIFT

# District types set the road spacing and what the blocks hold. Their mix, together with the
# block recipes below, gives the long-tailed class shares documented in docs/synthetic_dataset.md.
_DISTRICTS: dict[str, dict] = {
    'dense': dict(weight=0.55, spacing=(125, 190), drop=0.15, river=0.75, lakes=0.70,
                  blocks={'residential': 0.57, 'commercial': 0.26, 'park': 0.08, 'plaza': 0.03,
                          'vegetation': 0.06}),
    'suburban': dict(weight=0.35, spacing=(140, 220), drop=0.25, river=0.75, lakes=0.70,
                     blocks={'residential': 0.55, 'vegetation': 0.20, 'park': 0.10, 'commercial': 0.15}),
    'green belt': dict(weight=0.10, spacing=(170, 260), drop=0.40, river=0.70, lakes=0.70,
                       blocks={'vegetation': 0.45, 'park': 0.25, 'residential': 0.30}),
}


@dataclass
class SceneLayout:
    """A label map plus the object ids and road paint the renderer needs."""

    labels: np.ndarray      # (H, W) uint8 class ids 0..4
    instances: np.ndarray   # (H, W) int32 object ids >= 1; all pixels of one id share one class
    lane_marks: np.ndarray  # (H, W) bool: painted marks, only on road pixels
    district: str


class _Painter:
    """Painter's-algorithm canvas: later shapes overwrite class and object id together."""

    def __init__(self, size: int) -> None:
        self.labels = np.full((size, size), GREEN, np.uint8)
        self.instances = np.ones((size, size), np.int32)  # id 1 = background vegetation
        self.next_id = 2

    def new_id(self) -> int:
        """Reserve a fresh object id."""
        self.next_id += 1
        return self.next_id - 1

    def polygon(self, pts: np.ndarray, cls: int, inst: int | None = None) -> int:
        """Fill a polygon given as (N, 2) float x, y pixel coordinates."""
        inst = self.new_id() if inst is None else inst
        fixed = [np.round(np.asarray(pts) * _ONE).astype(np.int32)]
        cv2.fillPoly(self.labels, fixed, int(cls), lineType=cv2.LINE_8, shift=_SHIFT)
        cv2.fillPoly(self.instances, fixed, int(inst), lineType=cv2.LINE_8, shift=_SHIFT)
        return inst

    def mask(self, mask: np.ndarray, cls: int, inst: int | None = None) -> int:
        """Paint every pixel of a boolean mask."""
        inst = self.new_id() if inst is None else inst
        self.labels[mask] = cls
        self.instances[mask] = inst
        return inst


class _Frame:
    """The rotated street-grid frame: u, v axes at angle ``theta`` around the tile centre."""

    def __init__(self, size: int, theta: float) -> None:
        self.size = size
        self.centre = (size - 1) / 2.0
        self.cos, self.sin = math.cos(theta), math.sin(theta)

    def to_image(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(N, 2) x, y image coordinates of frame points."""
        x = self.centre + u * self.cos - v * self.sin
        y = self.centre + u * self.sin + v * self.cos
        return np.stack([x, y], axis=-1)

    def pixel_uv(self) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates of every pixel centre."""
        yy, xx = np.mgrid[0:self.size, 0:self.size].astype(np.float32)
        dx, dy = xx - self.centre, yy - self.centre
        return dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos


@dataclass
class _Block:
    """A street block: rectangle [u0, u1] x [v0, v1] of the frame between road edges."""

    frame: _Frame
    u0: float
    v0: float
    u1: float
    v1: float

    @property
    def width(self) -> float:
        return self.u1 - self.u0

    @property
    def height(self) -> float:
        return self.v1 - self.v0

    def rect(self, a0: float, b0: float, a1: float, b1: float, rot: float = 0.0) -> np.ndarray:
        """Polygon of a block-local rectangle, optionally rotated (radians) about its centre."""
        ca, cb = (a0 + a1) / 2.0, (b0 + b1) / 2.0
        ha, hb = (a1 - a0) / 2.0, (b1 - b0) / 2.0
        corners = np.array([[-ha, -hb], [ha, -hb], [ha, hb], [-ha, hb]])
        c, s = math.cos(rot), math.sin(rot)
        a = ca + corners[:, 0] * c - corners[:, 1] * s
        b = cb + corners[:, 0] * s + corners[:, 1] * c
        return self.frame.to_image(self.u0 + a, self.v0 + b)

    def blob(self, outline: np.ndarray, ca: float, cb: float, radius: float) -> np.ndarray:
        """Polygon of an irregular rounded shape (pond, lake) centred at block-local (ca, cb)."""
        phi = np.linspace(0.0, 2.0 * math.pi, len(outline), endpoint=False)
        a = ca + radius * outline[:, 0] * np.cos(phi)
        b = cb + radius * outline[:, 1] * np.sin(phi)
        return self.frame.to_image(self.u0 + a, self.v0 + b)

    def visible(self) -> bool:
        """Whether any part of the block can fall inside the tile."""
        corners = self.frame.to_image(np.array([self.u0, self.u1, self.u1, self.u0]),
                                      np.array([self.v0, self.v0, self.v1, self.v1]))
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        return bool(hi[0] >= -1 and hi[1] >= -1 and lo[0] <= self.frame.size and lo[1] <= self.frame.size)


def _blob_outline(rng: np.random.Generator, points: int = 40) -> np.ndarray:
    """Relative radii (N, 2) of a wobbly ellipse: a few random low harmonics on a unit circle."""
    phi = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    r = np.ones_like(phi)
    for k in (2, 3, 5):
        r += rng.uniform(0.0, 0.5 / k) * np.cos(k * phi + rng.uniform(0, 2 * math.pi))
    return np.stack([r, r * rng.uniform(0.6, 1.0)], axis=1)


def _alley(p: _Painter, rng: np.random.Generator, blk: _Block, along_a: bool, pos: float) -> None:
    """A 1-3 px lane across the whole block: narrower than one 10 m pixel, hence sub-pixel."""
    half = rng.uniform(1.0, 3.0) / 2.0
    if along_a:
        p.polygon(blk.rect(-1, pos - half, blk.width + 1, pos + half), ROAD)
    else:
        p.polygon(blk.rect(pos - half, -1, pos + half, blk.height + 1), ROAD)


def _building(p: _Painter, rng: np.random.Generator, blk: _Block, a0: float, b0: float, a1: float, b1: float,
              yard: float = 0.0) -> None:
    """One building, sometimes slightly rotated, optionally on a paved yard."""
    rot = rng.normal(0.0, math.radians(6)) if rng.random() < 0.25 else 0.0
    if yard > 0:
        p.polygon(blk.rect(a0 - yard, b0 - yard, a1 + yard, b1 + yard, rot), IMPERVIOUS)
    p.polygon(blk.rect(a0, b0, a1, b1, rot), URBAN)


def _residential(p: _Painter, rng: np.random.Generator, blk: _Block) -> None:
    """Rows of slab buildings with gardens or paved courtyards, sometimes split by alleys."""
    p.polygon(blk.rect(0, 0, blk.width, blk.height), GREEN if rng.random() < 0.92 else IMPERVIOUS)
    along_a = rng.random() < 0.5  # slabs parallel to the u or the v street
    length_ax, depth_ax = (blk.width, blk.height) if along_a else (blk.height, blk.width)
    setback = rng.uniform(1.5, 4.0)
    depth, length = rng.uniform(8.0, 14.0), rng.uniform(16.0, 40.0)
    row_gap, gap = rng.uniform(3.5, 9.0), rng.uniform(2.0, 6.0)
    yard = rng.uniform(1.0, 2.0) if rng.random() < 0.25 else 0.0
    alley_prob = rng.uniform(0.0, 0.45)

    def place(la0: float, db0: float, la1: float, db1: float) -> None:
        if along_a:
            _building(p, rng, blk, la0, db0, la1, db1, yard)
        else:
            _building(p, rng, blk, db0, la0, db1, la1, yard)

    d = setback
    while d + depth <= depth_ax - setback:
        dep = depth * rng.uniform(0.85, 1.15)
        a = setback + rng.uniform(0.0, gap)
        while True:
            ln = length * rng.uniform(0.7, 1.3)
            if a + ln > length_ax - setback:
                break
            if rng.random() > 0.06:  # an empty lot stays garden
                place(a, d, a + ln, d + dep)
            a += ln + gap * rng.uniform(0.6, 1.4)
        next_d = d + dep + row_gap * rng.uniform(0.8, 1.2)
        if rng.random() < alley_prob and next_d + depth <= depth_ax - setback:
            _alley(p, rng, blk, along_a, (d + dep + next_d) / 2.0)
        d = next_d


def _commercial(p: _Painter, rng: np.random.Generator, blk: _Block) -> None:
    """Large buildings on parking lots or lawns, laid on a coarse lot grid."""
    p.polygon(blk.rect(0, 0, blk.width, blk.height), IMPERVIOUS if rng.random() < 0.3 else GREEN)
    cell = rng.uniform(32.0, 60.0)
    na, nb = max(1, int(blk.width // cell)), max(1, int(blk.height // cell))
    ca, cb = blk.width / na, blk.height / nb
    for i in range(na):
        for j in range(nb):
            r = rng.random()
            fa, fb = rng.uniform(0.6, 0.92, size=2)
            a0, b0 = i * ca + ca * (1 - fa) / 2, j * cb + cb * (1 - fb) / 2
            if r < 0.8:
                _building(p, rng, blk, a0, b0, a0 + ca * fa, b0 + cb * fb,
                          yard=rng.uniform(1.0, 3.0) if rng.random() < 0.3 else 0.0)
            elif r < 0.88:
                p.polygon(blk.rect(a0, b0, a0 + ca * fa, b0 + cb * fb), IMPERVIOUS)  # parking lot
            else:
                p.polygon(blk.rect(a0, b0, a0 + ca * fa, b0 + cb * fb), GREEN)
    if rng.random() < 0.3:
        _alley(p, rng, blk, rng.random() < 0.5, rng.uniform(0.3, 0.7) * blk.height)


def _park(p: _Painter, rng: np.random.Generator, blk: _Block) -> None:
    """Vegetation with a pond, a plaza, footpaths and a pavilion."""
    p.polygon(blk.rect(0, 0, blk.width, blk.height), GREEN)
    side = min(blk.width, blk.height)
    if rng.random() < 0.45:
        p.polygon(blk.blob(_blob_outline(rng), rng.uniform(0.3, 0.7) * blk.width,
                           rng.uniform(0.3, 0.7) * blk.height, rng.uniform(0.12, 0.25) * side), WATER)
    for _ in range(rng.integers(0, 3)):  # footpaths (paved, so impervious)
        pos = rng.uniform(0.2, 0.8)
        half = rng.uniform(0.75, 1.25)
        if rng.random() < 0.5:
            p.polygon(blk.rect(0, pos * blk.height - half, blk.width, pos * blk.height + half), IMPERVIOUS)
        else:
            p.polygon(blk.rect(pos * blk.width - half, 0, pos * blk.width + half, blk.height), IMPERVIOUS)
    if rng.random() < 0.4:
        sa, sb = rng.uniform(8.0, 20.0, size=2)
        a0, b0 = rng.uniform(0, max(blk.width - sa, 1)), rng.uniform(0, max(blk.height - sb, 1))
        p.polygon(blk.rect(a0, b0, a0 + sa, b0 + sb), IMPERVIOUS)
    if rng.random() < 0.3:
        s = rng.uniform(4.0, 8.0)
        a0, b0 = rng.uniform(0, max(blk.width - s, 1)), rng.uniform(0, max(blk.height - s, 1))
        _building(p, rng, blk, a0, b0, a0 + s, b0 + s * rng.uniform(0.7, 1.3))


def _plaza(p: _Painter, rng: np.random.Generator, blk: _Block) -> None:
    """A paved civic square with a landmark building and planted islands."""
    p.polygon(blk.rect(0, 0, blk.width, blk.height), IMPERVIOUS)
    for _ in range(rng.integers(1, 4)):
        sa, sb = rng.uniform(0.15, 0.35) * blk.width, rng.uniform(0.15, 0.35) * blk.height
        a0, b0 = rng.uniform(0, blk.width - sa), rng.uniform(0, blk.height - sb)
        p.polygon(blk.rect(a0, b0, a0 + sa, b0 + sb), GREEN)
    if rng.random() < 0.7:
        fa, fb = rng.uniform(0.25, 0.5, size=2)
        a0, b0 = blk.width * (1 - fa) / 2, blk.height * (1 - fb) / 2
        _building(p, rng, blk, a0, b0, a0 + fa * blk.width, b0 + fb * blk.height)


def _vegetation(p: _Painter, rng: np.random.Generator, blk: _Block) -> None:
    """Undeveloped or agricultural land with scattered houses and country lanes."""
    p.polygon(blk.rect(0, 0, blk.width, blk.height), GREEN)
    n_houses = rng.poisson(blk.width * blk.height / 700.0)
    for _ in range(n_houses):
        sa, sb = rng.uniform(5.0, 10.0, size=2)
        a0, b0 = rng.uniform(2, max(blk.width - sa - 2, 3)), rng.uniform(2, max(blk.height - sb - 2, 3))
        _building(p, rng, blk, a0, b0, a0 + sa, b0 + sb, yard=rng.uniform(1.0, 2.0) if rng.random() < 0.4 else 0.0)
    for _ in range(rng.binomial(2, 0.45)):
        along_a = rng.random() < 0.5
        _alley(p, rng, blk, along_a, rng.uniform(0.15, 0.85) * (blk.height if along_a else blk.width))


_BLOCK_RECIPES: dict[str, Callable[[_Painter, np.random.Generator, _Block], None]] = {
    'residential': _residential, 'commercial': _commercial, 'park': _park, 'plaza': _plaza,
    'vegetation': _vegetation}


def _grid_lines(rng: np.random.Generator, half: float, spacing: tuple[float, float], drop: float
                ) -> list[tuple[float, float]]:
    """Jittered road positions and widths along one frame axis; some lines dropped (superblocks)."""
    lines = []
    pos = -half + rng.uniform(0.0, spacing[1])
    while pos < half:
        if rng.random() >= drop:
            width = rng.uniform(8.0, 11.0) if rng.random() < 0.15 else rng.uniform(5.0, 7.0)
            lines.append((pos, width))
        pos += rng.uniform(*spacing)
    return lines


def _draw_river(p: _Painter, rng: np.random.Generator, size: int) -> None:
    """A meandering river band of varying width with vegetated banks across the whole tile."""
    alpha = rng.uniform(0.0, math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    t = (xx - c) * math.cos(alpha) + (yy - c) * math.sin(alpha)
    s = -(xx - c) * math.sin(alpha) + (yy - c) * math.cos(alpha)
    offset = rng.uniform(-0.35, 0.35) * size
    for lam, amp in ((rng.uniform(250, 600), rng.uniform(10, 60)), (rng.uniform(80, 160), rng.uniform(2, 8))):
        offset = offset + amp * np.sin(2 * math.pi * t / lam + rng.uniform(0, 2 * math.pi))
    width = rng.uniform(30.0, 72.0) * (1 + 0.25 * np.sin(2 * math.pi * t / rng.uniform(150, 400)
                                                         + rng.uniform(0, 2 * math.pi)))
    dist = np.abs(s - offset)
    p.mask(dist < width / 2 + rng.uniform(2.0, 8.0), GREEN)
    p.mask(dist < width / 2, WATER)


def _draw_lakes(p: _Painter, rng: np.random.Generator, frame: _Frame) -> None:
    """One or two irregular lakes with a vegetated shore."""
    size = frame.size
    whole = _Block(frame, -frame.centre, -frame.centre, frame.centre, frame.centre)
    for _ in range(rng.integers(1, 3)):
        radius = rng.uniform(25.0, 60.0)
        ca, cb = rng.uniform(0, size, size=2)
        outline = _blob_outline(rng)  # the shore and the lake share one outline
        p.polygon(whole.blob(outline, ca, cb, radius + rng.uniform(2.0, 6.0)), GREEN)
        p.polygon(whole.blob(outline, ca, cb, radius), WATER)


def make_layout(rng: np.random.Generator, size: int) -> SceneLayout:
    """Draw one procedural urban scene of ``size`` x ``size`` 2 m pixels with object ids."""
    names = list(_DISTRICTS)
    district = names[rng.choice(len(names), p=[_DISTRICTS[n]['weight'] for n in names])]
    cfg = _DISTRICTS[district]
    p = _Painter(size)
    frame = _Frame(size, rng.uniform(-math.pi / 5, math.pi / 5) if rng.random() < 0.7 else 0.0)
    half = 0.75 * size + 30.0  # the rotated grid must cover the tile's corners
    u_lines = _grid_lines(rng, half, cfg['spacing'], cfg['drop'])
    v_lines = _grid_lines(rng, half, cfg['spacing'], cfg['drop'])

    kinds = list(cfg['blocks'])
    kind_p = np.array([cfg['blocks'][k] for k in kinds])
    u_edges = [(-half - 100.0, 0.0)] + u_lines + [(half + 100.0, 0.0)]
    v_edges = [(-half - 100.0, 0.0)] + v_lines + [(half + 100.0, 0.0)]
    for (ua, wa), (ub, wb) in zip(u_edges[:-1], u_edges[1:]):
        for (va, wva), (vb, wvb) in zip(v_edges[:-1], v_edges[1:]):
            blk = _Block(frame, ua + wa / 2, va + wva / 2, ub - wb / 2, vb - wvb / 2)
            if blk.width < 4 or blk.height < 4 or not blk.visible():
                continue
            _BLOCK_RECIPES[kinds[rng.choice(len(kinds), p=kind_p / kind_p.sum())]](p, rng, blk)

    # A tile smaller than a city district meets a river less often (same water share at any size).
    reach = min(1.0, (size + 40.0) / 360.0)
    if rng.random() < cfg['river'] * reach:
        _draw_river(p, rng, size)
    elif rng.random() < cfg['lakes'] * reach:
        _draw_lakes(p, rng, frame)

    # Streets last: they cross rivers on bridges and cut every block edge cleanly.
    uu, vv = frame.pixel_uv()
    roads = [np.zeros((size, size), bool), np.zeros((size, size), bool)]
    marks = [np.zeros((size, size), bool), np.zeros((size, size), bool)]
    for axis, (coord, along, lines) in enumerate(((uu, vv, u_lines), (vv, uu, v_lines))):
        for pos, width in lines:
            dist = np.abs(coord - pos)
            road = dist <= width / 2
            p.mask(road, ROAD)
            roads[axis] |= road
            if width >= 6.0:  # dashed centre line: 1 px wide, 6 m dashes every 18 m
                marks[axis] |= (dist <= 0.5) & (np.mod(along, 9.0) < 3.0)
    # Centre lines stop at crossings, as painted ones do.
    lane_marks = ((marks[0] & ~roads[1]) | (marks[1] & ~roads[0])) & (p.labels == ROAD)
    return SceneLayout(labels=p.labels, instances=p.instances, lane_marks=lane_marks, district=district)


def make_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """Label map (uint8 class ids 0..4) of one procedural urban scene on the 2 m grid."""
    return make_layout(rng, size).labels


def class_counts(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Pixel count per class id (int64)."""
    return np.bincount(labels.ravel(), minlength=num_classes)[:num_classes].astype(np.int64)


__all__ = ['GREEN', 'URBAN', 'ROAD', 'IMPERVIOUS', 'WATER', 'NUM_CLASSES', 'SceneLayout',
           'make_layout', 'make_scene', 'class_counts']
