"""Surface reflectance of a scene in four bands (blue, green, red, NIR) on the 2 m grid.

Every object gets a spectrum mixed from its class's named endmember materials, then textures
add the within-object structure a sensor sees: tree crowns, roof edges, cast shadows, lane
marks, parked cars, turbid plumes. Values are surface reflectance in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .fields import smooth_noise
from .scene import GREEN, IMPERVIOUS, NUM_CLASSES, ROAD, URBAN, WATER, SceneLayout

BANDS: tuple[str, ...] = ('blue', 'green', 'red', 'nir')
CENTRE_WAVELENGTHS_NM: tuple[float, ...] = (490.0, 560.0, 665.0, 842.0)


@dataclass(frozen=True)
class Material:
    """A named endmember: reflectance in (blue, green, red, NIR) and how often objects use it."""

    name: str
    reflectance: tuple[float, float, float, float]
    weight: float


MaterialTable = dict[int, tuple[Material, ...]]  # class id -> its endmembers

# Typical laboratory / field spectra at the four band centres, rounded (the ``default`` spectra;
# spectra.py holds a table calibrated to Sentinel-2). Vegetation: low red, red-edge jump to high
# NIR; water: NIR near zero; man-made surfaces: flat-ish spectra. In every table the first green
# material is the canopy that tree crowns blend towards, the second water material the turbid margin.
MATERIALS: MaterialTable = {
    GREEN: (Material('dense tree canopy', (0.030, 0.060, 0.035, 0.45), 0.35),
            Material('irrigated lawn', (0.045, 0.095, 0.060, 0.38), 0.30),
            Material('shrubs and mixed vegetation', (0.040, 0.075, 0.055, 0.32), 0.20),
            Material('dry sparse grass', (0.075, 0.105, 0.125, 0.26), 0.15)),
    URBAN: (Material('grey concrete roof', (0.170, 0.180, 0.190, 0.230), 0.30),
            Material('red clay tiles', (0.070, 0.090, 0.200, 0.280), 0.15),
            Material('blue painted steel sheet', (0.200, 0.170, 0.120, 0.140), 0.15),
            Material('dark bitumen roof', (0.050, 0.055, 0.060, 0.080), 0.15),
            Material('white membrane roof', (0.360, 0.380, 0.390, 0.420), 0.10),
            Material('weathered concrete roof', (0.110, 0.120, 0.130, 0.160), 0.15)),
    ROAD: (Material('fresh asphalt', (0.045, 0.050, 0.055, 0.070), 0.35),
           Material('aged asphalt', (0.095, 0.105, 0.115, 0.140), 0.50),
           Material('concrete carriageway', (0.150, 0.160, 0.170, 0.200), 0.15)),
    IMPERVIOUS: (Material('light concrete pavement', (0.160, 0.180, 0.200, 0.240), 0.35),
                 Material('paving stones', (0.100, 0.110, 0.140, 0.180), 0.30),
                 Material('asphalt parking', (0.080, 0.090, 0.100, 0.120), 0.25),
                 Material('sports surface', (0.080, 0.100, 0.160, 0.200), 0.10)),
    WATER: (Material('clear deep water', (0.035, 0.035, 0.018, 0.008), 0.40),
            Material('turbid sediment-laden water', (0.060, 0.080, 0.070, 0.030), 0.40),
            Material('algal eutrophic water', (0.030, 0.060, 0.035, 0.040), 0.20)),
}
LANE_PAINT = np.array([0.30, 0.32, 0.33, 0.36], np.float32)
CAR_PAINTS = np.array([[0.35, 0.36, 0.37, 0.40], [0.04, 0.04, 0.045, 0.05], [0.15, 0.16, 0.17, 0.19],
                       [0.05, 0.05, 0.22, 0.25], [0.14, 0.09, 0.05, 0.12]], np.float32)
# Relative amplitude of fine (~2 m) and patchy (~12 m) multiplicative texture per class.
_FINE_TEXTURE = np.array([0.10, 0.04, 0.04, 0.05, 0.02], np.float32)
_PATCH_TEXTURE = np.array([0.10, 0.00, 0.06, 0.06, 0.08], np.float32)


def _instances_from_labels(labels: np.ndarray) -> np.ndarray:
    """Object ids from connected components of each class (when no layout ids are given)."""
    instances = np.zeros(labels.shape, np.int32)
    offset = 0
    for cls in range(NUM_CLASSES):
        n, comp = cv2.connectedComponents((labels == cls).astype(np.uint8), connectivity=4)
        mask = comp > 0
        instances[mask] = comp[mask] + offset
        offset += n
    return instances


def _object_spectra(rng: np.random.Generator, object_class: np.ndarray, by_class: MaterialTable) -> np.ndarray:
    """(n_objects, 4) spectra: a random mix of two endmembers of the object's class, scaled."""
    spectra = np.zeros((len(object_class), 4), np.float32)
    for cls, materials in by_class.items():
        idx = np.flatnonzero(object_class == cls)
        if idx.size == 0:
            continue
        table = np.array([m.reflectance for m in materials], np.float32)
        weight = np.array([m.weight for m in materials])
        first = rng.choice(len(materials), size=idx.size, p=weight / weight.sum())
        second = rng.choice(len(materials), size=idx.size, p=weight / weight.sum())
        # Beta(1.5, 4): most objects stay close to their main material (roof age, turbidity...).
        mix = rng.beta(1.5, 4.0, size=idx.size).astype(np.float32)[:, None]
        brightness = rng.lognormal(0.0, 0.08, size=idx.size).astype(np.float32)[:, None]
        spectra[idx] = ((1 - mix) * table[first] + mix * table[second]) * brightness
    return spectra


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Mask moved by (dy, dx) pixels, zero-filled (no wrap-around)."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, yd = (slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0)))
    xs, xd = (slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0)))
    out[yd, xd] = mask[ys, xs]
    return out


def _cast_shadows(rng: np.random.Generator, labels: np.ndarray, instances: np.ndarray,
                  object_class: np.ndarray) -> np.ndarray:
    """Ground pixels shaded by buildings; sun in the south-south-east, so shadows fall NNW."""
    height_px = np.where(object_class == URBAN, rng.integers(1, 9, size=len(object_class)), 0)
    heights = height_px[instances]
    shadow = np.zeros(labels.shape, bool)
    for k in range(1, 9):
        shadow |= _shift(heights >= k, -k, -int(round(0.35 * k)))
    return shadow & (labels != URBAN)


def surface_reflectance(rng: np.random.Generator, labels: np.ndarray, instances: np.ndarray | None = None,
                        lane_marks: np.ndarray | None = None, materials: MaterialTable = MATERIALS) -> np.ndarray:
    """Surface reflectance (4, H, W) float32 in bands (blue, green, red, NIR) for a label map.

    ``materials`` is the endmember table per class (MATERIALS, or a calibrated one of spectra.py).
    """
    labels = np.asarray(labels)
    shape = labels.shape
    if instances is None:
        instances = _instances_from_labels(labels)
    n_obj = int(instances.max()) + 1
    object_class = np.full(n_obj, -1, np.int64)
    object_class[instances.ravel()] = labels.ravel()  # one class per id, by construction

    refl = _object_spectra(rng, object_class, materials)[instances].transpose(2, 0, 1).copy()  # (4, H, W)

    # Textures: multiplicative so that they keep each object's spectral shape.
    fine, patch = smooth_noise(rng, shape, 0.8), smooth_noise(rng, shape, 6.0)
    refl *= 1 + _FINE_TEXTURE[labels] * fine + _PATCH_TEXTURE[labels] * patch

    green = labels == GREEN
    # Vegetation vigour: stressed patches lose NIR and gain red.
    vigour = smooth_noise(rng, shape, 10.0) * 0.12
    refl[2] *= np.where(green, 1 - vigour, 1)
    refl[3] *= np.where(green, 1 + vigour, 1)
    # Tree crowns (~4-6 m): bright, canopy-like tops with dark gaps on their shaded side.
    treeness = rng.uniform(0.0, 1.0, size=n_obj)[instances]
    crown_field = smooth_noise(rng, shape, 1.3)
    crowns = green & (crown_field > 1.0 - 1.6 * treeness)
    canopy = np.array(materials[GREEN][0].reflectance, np.float32)[:, None]
    refl[:, crowns] = 0.5 * refl[:, crowns] + 0.5 * canopy * (1 + 0.15 * crown_field[crowns])
    crown_shade = green & ~crowns & _shift(crowns, -1, 0)
    refl[:, crown_shade] *= 0.6

    # Roofs: parapets and eaves darken the outline of each building.
    urban = (labels == URBAN).astype(np.uint8)
    edges = (urban > 0) & (cv2.erode(urban, np.ones((3, 3), np.uint8)) == 0)
    refl[:, edges] *= 0.82

    # Paint and cars on streets and car parks.
    if lane_marks is not None:
        refl[:, lane_marks] = LANE_PAINT[:, None] * rng.uniform(0.75, 1.0)
    paved = (labels == ROAD) | (labels == IMPERVIOUS)
    density = np.where(labels == IMPERVIOUS, 0.010, 0.004)
    seeds = paved & (rng.random(shape) < density)
    colour = np.where(seeds, rng.integers(1, len(CAR_PAINTS) + 1, size=shape), 0).astype(np.uint8)
    colour = cv2.dilate(colour, np.ones((1, 2), np.uint8))  # a car is about 2 x 1 px (4.5 x 2 m)
    cars = (colour > 0) & paved
    refl[:, cars] = CAR_PAINTS[colour[cars] - 1].T

    # Water: shallow margins look turbid.
    water = (labels == WATER).astype(np.uint8)
    if water.any():
        depth = cv2.distanceTransform(water, cv2.DIST_L2, 3)
        shallow = (water > 0) & (depth < 3)
        turbid = np.array(materials[WATER][1].reflectance, np.float32)[:, None]
        refl[:, shallow] = 0.6 * refl[:, shallow] + 0.4 * turbid

    # Cast shadows last: only diffuse skylight (bluish) reaches them.
    shadow = _cast_shadows(rng, labels, instances, object_class)
    refl[:, shadow] *= np.array([0.50, 0.40, 0.35, 0.40], np.float32)[:, None]
    return np.clip(refl, 0.002, 0.95).astype(np.float32)


def layout_reflectance(rng: np.random.Generator, layout: SceneLayout,
                       materials: MaterialTable = MATERIALS) -> np.ndarray:
    """Surface reflectance (4, H, W) of a scene layout, using its object ids and lane marks."""
    return surface_reflectance(rng, layout.labels, layout.instances, layout.lane_marks, materials)
