"""Named target-domain shifts: how the Sentinel-like target departs from the default rendering.

A shift is data (one :class:`TargetShift` record per name): each family changes one part of
the target's rendering chain, in two strengths, and leaves the source (Gaofen) as it is. The
names are ``default`` (today's rendering, byte for byte) and ``<family>-<strength>``, e.g.
``optics-2``; ``<family>:weak`` / ``<family>:strong`` are accepted as spellings of strength 1
and 2. docs/synthetic_dataset.md lists them with their values.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from daspm.utils.errors import DaspmInputError

from .scene import GREEN

Vector4 = tuple[float, float, float, float]

# Defaults of the target rendering (sensors.py reads them, so that ``default`` is today's chain).
MTF_AT_NYQUIST = 0.30
AOT550_RANGE: tuple[float, float] = (0.05, 0.30)
PATH_BLUE_RANGE: tuple[float, float] = (0.010, 0.045)
# A broad-filter response (rows B2, B3, B4, B8 over blue, green, red, NIR; rows sum to 1): a
# cheaper multispectral camera whose filters overlap, its red band seeing the red edge.
BROAD_RESPONSE: tuple[Vector4, ...] = ((0.62, 0.30, 0.08, 0.00),
                                       (0.18, 0.60, 0.20, 0.02),
                                       (0.00, 0.18, 0.62, 0.20),
                                       (0.00, 0.02, 0.23, 0.75))
# Bare dry soil (blue, green, red, NIR): what shows through senescent vegetation.
SOIL: Vector4 = (0.09, 0.13, 0.18, 0.24)
STRENGTH_SPELLINGS: dict[str, int] = {'1': 1, '2': 2, 'weak': 1, 'strong': 2}


@dataclass(frozen=True)
class TargetShift:
    """One named change of the target rendering; the defaults are today's target, nothing shifted.

    Fields by family (the chain order of sensors.render_sentinel):
    land cover: ``vegetation_factor`` multiplies green-area surface reflectance per band (blue,
    green, red, NIR) and ``soil_share`` mixes it towards bare soil (a season);
    spectral: ``response_mix`` blends the target's band response towards BROAD_RESPONSE;
    optics: ``mtf_at_nyquist`` of the Gaussian PSF at the 10 m Nyquist frequency;
    atmosphere: the per-tile ranges ``aot550`` and ``path_blue`` are drawn from;
    radiometry (after the noise, as the product's calibration): ``gain`` and ``offset`` per band
    (B2, B3, B4, B8, reflectance units), then the tone curve ``rho ** (1 / gamma)``.
    """

    name: str = 'default'
    family: str = 'default'
    summary: str = "today's rendering"
    vegetation_factor: Vector4 = (1.0, 1.0, 1.0, 1.0)
    soil_share: float = 0.0
    response_mix: float = 0.0
    mtf_at_nyquist: float = MTF_AT_NYQUIST
    aot550: tuple[float, float] = AOT550_RANGE
    path_blue: tuple[float, float] = PATH_BLUE_RANGE
    gain: Vector4 = (1.0, 1.0, 1.0, 1.0)
    offset: Vector4 = (0.0, 0.0, 0.0, 0.0)
    gamma: float = 1.0
    changes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_default(self) -> bool:
        """Whether the target is rendered as without any shift."""
        return self.name == 'default'

    def psf_sigma_m(self) -> float:
        """Gaussian PSF sigma in metres whose MTF at the 10 m Nyquist frequency is ``mtf_at_nyquist``."""
        return psf_sigma_m(self.mtf_at_nyquist)

    def response(self, base: np.ndarray) -> np.ndarray:
        """The target's band response: ``base`` blended towards BROAD_RESPONSE by ``response_mix``."""
        if self.response_mix == 0.0:
            return base
        broad = np.array(BROAD_RESPONSE, np.float32)
        return ((1.0 - self.response_mix) * base + self.response_mix * broad).astype(np.float32)

    def as_dict(self) -> dict:
        """The record as plain JSON values (for the manifest)."""
        out = asdict(self)
        out['changes'] = list(self.changes)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def psf_sigma_m(mtf_at_nyquist: float, coarse_gsd_m: float = 10.0) -> float:
    """sigma of a Gaussian PSF with ``MTF(f) = exp(-2 pi^2 sigma^2 f^2) = mtf`` at ``f = 1 / (2 gsd)``."""
    return math.sqrt(-math.log(mtf_at_nyquist) / (2 * math.pi ** 2)) * 2 * coarse_gsd_m


def apply_land_cover(shift: TargetShift, reflectance: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Surface reflectance (4, H, W) with the season's green-area appearance (unchanged for no season)."""
    if shift.vegetation_factor == (1.0, 1.0, 1.0, 1.0) and shift.soil_share == 0.0:
        return reflectance
    green = labels == GREEN
    factor = np.array(shift.vegetation_factor, np.float32)[:, None]
    soil = np.array(SOIL, np.float32)[:, None]
    out = reflectance.copy()
    out[:, green] = (1.0 - shift.soil_share) * out[:, green] * factor + shift.soil_share * soil
    return np.clip(out, 0.002, 0.95).astype(np.float32)


def apply_radiometry(shift: TargetShift, reflectance: np.ndarray) -> np.ndarray:
    """Per-band gain and offset, then the tone curve, on (4, h, w) reflectance (unchanged when neutral)."""
    out = reflectance
    if shift.gain != (1.0, 1.0, 1.0, 1.0) or shift.offset != (0.0, 0.0, 0.0, 0.0):
        out = out * np.array(shift.gain, np.float32)[:, None, None] + np.array(shift.offset, np.float32)[:, None, None]
    if shift.gamma != 1.0:
        # a display-like curve on reflectance in [0, 1]: dark surfaces brighten most
        out = np.clip(out, 0.0, 1.0) ** np.float32(1.0 / shift.gamma)
    return out.astype(np.float32, copy=False)


def _family(family: str, summary: str, strengths: tuple[dict, dict]) -> dict[str, TargetShift]:
    """The two named strengths of one family."""
    return {f'{family}-{k}': TargetShift(name=f'{family}-{k}', family=family, summary=summary,
                                         changes=tuple(values), **values)
            for k, values in enumerate(strengths, start=1)}


OPTICS = ({'mtf_at_nyquist': 0.15}, {'mtf_at_nyquist': 0.05})
RADIOMETRY = ({'gain': (0.92, 0.96, 1.06, 1.04), 'offset': (0.010, 0.010, 0.010, 0.010)},
              {'gain': (0.85, 0.92, 1.12, 1.08), 'offset': (0.020, 0.020, 0.020, 0.020), 'gamma': 1.4})
ATMOSPHERE = ({'aot550': (0.30, 0.60), 'path_blue': (0.045, 0.080)},
              {'aot550': (0.60, 1.00), 'path_blue': (0.080, 0.130)})
SPECTRAL = ({'response_mix': 0.5}, {'response_mix': 1.0})
SEASON = ({'vegetation_factor': (1.05, 1.05, 1.30, 0.85)},
          {'vegetation_factor': (1.15, 1.12, 1.80, 0.70), 'soil_share': 0.25})
# Another target sensor: optics, tone curve and haze of the same strength together.
SENSOR = ({**OPTICS[0], 'gamma': 1.2, **ATMOSPHERE[0]}, {**OPTICS[1], 'gamma': 1.4, **ATMOSPHERE[1]})

SHIFTS: dict[str, TargetShift] = {
    'default': TargetShift(),
    **_family('optics', 'a blurrier target PSF (lower MTF at the 10 m Nyquist frequency)', OPTICS),
    **_family('radiometry', 'target calibration gains and offsets (strength 2: and a tone curve)', RADIOMETRY),
    **_family('atmosphere', 'hazier target scenes (higher AOT550 and path-reflectance ranges)', ATMOSPHERE),
    **_family('spectral', 'broader, overlapping target band responses', SPECTRAL),
    **_family('season', 'another season in the target: senescent vegetation (strength 2: soil showing)', SEASON),
    **_family('sensor', 'another target sensor: blurrier optics, a tone curve and more haze', SENSOR),
}


def get_shift(name: str | TargetShift) -> TargetShift:
    """The named shift: ``default``, ``<family>-<1|2>`` or ``<family>:<weak|strong>``."""
    if isinstance(name, TargetShift):
        return name
    text = str(name).strip().lower()
    if ':' in text:
        family, _, strength = text.partition(':')
        if strength in STRENGTH_SPELLINGS:
            text = f'{family}-{STRENGTH_SPELLINGS[strength]}'
    if text not in SHIFTS:
        raise DaspmInputError(f'shift {name!r}: choose one of {", ".join(SHIFTS)} (or <family>:weak|strong); '
                              'see docs/synthetic_dataset.md')
    return SHIFTS[text]


def shift_tags(shift: TargetShift) -> dict[str, str]:
    """GeoTIFF tags of a shifted target image (none for ``default``, whose files stay as they were)."""
    if shift.is_default:
        return {}
    values = ';'.join(f'{k}={getattr(shift, k)}' for k in shift.changes)
    return {'TARGET_SHIFT': shift.name, 'TARGET_SHIFT_PARAMETERS': values.replace(' ', '')}


__all__ = ['TargetShift', 'SHIFTS', 'get_shift', 'shift_tags', 'psf_sigma_m', 'apply_land_cover',
           'apply_radiometry', 'MTF_AT_NYQUIST', 'AOT550_RANGE', 'PATH_BLUE_RANGE', 'BROAD_RESPONSE', 'SOIL']
