"""Named spectral profiles: the material spectra and the target's sensor/atmosphere constants.

``default`` is the generator as it always was (reflectance.MATERIALS, sensors.SENTINEL_RESPONSE,
the haze of shifts.py), byte for byte. ``sentinel2`` is calibrated so that the target looks like
a Sentinel-2 L1C product (top of atmosphere), ``sentinel2-l2a`` the same scene as surface
reflectance (L2A, an ideal atmospheric correction). The calibrated spectra change the world, so
they apply to both domains; the sensor and atmosphere constants apply to the target only. A
target shift (shifts.py) applies on top: what it names replaces the profile's value.
The numbers before and after, and the ranges they are checked against: calibration.py and
docs/synthetic_dataset.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from daspm.classes import DASPM_CLASSES
from daspm.utils.errors import DaspmInputError

from .reflectance import MATERIALS, Material, MaterialTable
from .scene import GREEN, IMPERVIOUS, ROAD, URBAN, WATER
from .shifts import AOT550_RANGE, PATH_BLUE_RANGE, TargetShift, Vector4

# Surface reflectance (L2A) at the centres of B2, B3, B4, B8, summer, rounded; from the typical
# ranges of the ESA/USGS spectral libraries and S2 L2A products for each cover type (vegetation:
# blue 0.02-0.05, green 0.04-0.09, red 0.02-0.06, NIR 0.25-0.45; asphalt flat 0.05-0.12;
# concrete 0.20-0.35; water NIR < 0.03), tuned so that the L1C rendering of green area lands
# on the forest and grassland of the real patch (tests/fixtures/s2_eolearn_patch). The spectra
# are band-equivalent values, so the calibrated target uses an identity band response.
SENTINEL2_MATERIALS: MaterialTable = {
    GREEN: (Material('broadleaf tree canopy', (0.022, 0.043, 0.024, 0.300), 0.30),
            Material('mown grass', (0.032, 0.066, 0.038, 0.320), 0.30),
            Material('coniferous and mixed canopy', (0.018, 0.034, 0.020, 0.230), 0.15),
            Material('shrubs', (0.027, 0.052, 0.032, 0.270), 0.15),
            Material('dry grass', (0.045, 0.068, 0.068, 0.240), 0.10)),
    URBAN: (Material('grey concrete roof', (0.160, 0.175, 0.190, 0.230), 0.25),
            Material('red clay tiles', (0.060, 0.080, 0.160, 0.260), 0.20),
            Material('painted metal sheet', (0.150, 0.140, 0.110, 0.140), 0.10),
            Material('dark bitumen roof', (0.050, 0.055, 0.060, 0.075), 0.15),
            Material('white membrane roof', (0.330, 0.350, 0.360, 0.400), 0.08),
            Material('weathered concrete roof', (0.110, 0.120, 0.130, 0.160), 0.22)),
    ROAD: (Material('fresh asphalt', (0.050, 0.055, 0.060, 0.070), 0.30),
           Material('aged asphalt', (0.085, 0.095, 0.105, 0.125), 0.55),
           Material('concrete carriageway', (0.180, 0.200, 0.215, 0.250), 0.15)),
    IMPERVIOUS: (Material('light concrete pavement', (0.200, 0.220, 0.240, 0.280), 0.30),
                 Material('paving stones', (0.100, 0.110, 0.130, 0.160), 0.30),
                 Material('asphalt parking', (0.070, 0.080, 0.090, 0.110), 0.30),
                 Material('synthetic sports surface', (0.060, 0.070, 0.140, 0.200), 0.10)),
    WATER: (Material('clear deep water', (0.030, 0.030, 0.015, 0.006), 0.50),
            Material('turbid sediment-laden water', (0.050, 0.065, 0.055, 0.020), 0.30),
            Material('algal eutrophic water', (0.025, 0.045, 0.025, 0.020), 0.20)),
}
IDENTITY_RESPONSE: tuple[Vector4, ...] = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0),
                                          (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))
Level = Literal['L1C', 'L2A']


@dataclass(frozen=True)
class SpectralProfile:
    """Material spectra and target constants; the defaults are the generator as it always was.

    ``response``/``gain`` None mean the sensor's (sensors.SENTINEL_RESPONSE / SENTINEL_GAIN).
    Atmosphere (L1C only): ``rho_toa = rho exp(-airmass tau) + P_blue (lambda / 490 nm)^-path_exponent``
    with AOT550 and P_blue drawn per tile from ``aot550`` and ``path_blue``.
    """

    name: str = 'default'
    summary: str = 'the spectra and atmosphere the generator always had'
    level: Level = 'L1C'
    materials: MaterialTable = field(default_factory=lambda: MATERIALS, compare=False, hash=False, repr=False)
    response: tuple[Vector4, ...] | None = None
    gain: Vector4 | None = None
    aot550: tuple[float, float] = AOT550_RANGE
    path_blue: tuple[float, float] = PATH_BLUE_RANGE
    path_exponent: float = 2.0
    airmass: float = 1.0
    source_composite: str = 'rgb'   # the source camera's bands: 'rgb' or 'nir-red-green' (sensors.GAOFEN_COMPOSITES)

    @property
    def is_default(self) -> bool:
        """Whether this is the generator's original rendering."""
        return self.name == 'default'

    def response_matrix(self, sensor_response: np.ndarray) -> np.ndarray:
        """The target's band response before any shift: the profile's, else the sensor's."""
        return sensor_response if self.response is None else np.array(self.response, np.float32)

    def gain_vector(self, sensor_gain: np.ndarray) -> np.ndarray:
        """The target's residual calibration gains: the profile's, else the sensor's."""
        return sensor_gain if self.gain is None else np.array(self.gain, np.float32)

    def atmosphere_ranges(self, shift: TargetShift) -> tuple[tuple[float, float], tuple[float, float]]:
        """(AOT550, P_blue) ranges of a tile: the shift's where it changes them, else the profile's."""
        aot = shift.aot550 if 'aot550' in shift.changes else self.aot550
        path = shift.path_blue if 'path_blue' in shift.changes else self.path_blue
        return aot, path

    def as_dict(self) -> dict:
        """The record as plain JSON values (for the manifest), materials per class name."""
        out = {k: getattr(self, k) for k in ('name', 'summary', 'level', 'aot550', 'path_blue', 'path_exponent',
                                             'airmass')}
        if self.source_composite != 'rgb':  # the manifests of the other profiles stay as they were
            out['source_composite'] = self.source_composite
        out['response'] = None if self.response is None else [list(r) for r in self.response]
        out['gain'] = None if self.gain is None else list(self.gain)
        out['materials'] = {DASPM_CLASSES[c]: [dict(name=m.name, reflectance=list(m.reflectance), weight=m.weight)
                                               for m in ms] for c, ms in self.materials.items()}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


PROFILES: dict[str, SpectralProfile] = {
    'default': SpectralProfile(),
    'sentinel2': SpectralProfile(
        name='sentinel2', summary='calibrated to Sentinel-2 L1C (top of atmosphere)', level='L1C',
        materials=SENTINEL2_MATERIALS, response=IDENTITY_RESPONSE, gain=(1.0, 1.0, 1.0, 1.0),
        aot550=(0.05, 0.25), path_blue=(0.045, 0.065), path_exponent=3.5, airmass=1.0),
}
PROFILES['sentinel2-l2a'] = replace(PROFILES['sentinel2'], name='sentinel2-l2a', level='L2A',
                                    summary='calibrated to Sentinel-2 L2A (surface reflectance)')
# The same world with a source camera that writes its false-colour composite (NIR, red, green): at
# 10 m and top of atmosphere, forest and water are both dark and bluish in RGB (real forest
# B2/B3/B4 0.078/0.062/0.038); NIR tells them apart (0.21 against < 0.03). Models read the target's
# B8, B4, B3 to match (configs/_base_/datasets/synthetic_nir_to_real_s2.py).
PROFILES['sentinel2-nir'] = replace(PROFILES['sentinel2'], name='sentinel2-nir', source_composite='nir-red-green',
                                    summary='sentinel2, the source as a false-colour composite (NIR, red, green)')


def get_profile(name: str | SpectralProfile) -> SpectralProfile:
    """The named profile: ``default``, ``sentinel2``, ``sentinel2-l2a`` or ``sentinel2-nir``."""
    if isinstance(name, SpectralProfile):
        return name
    text = str(name).strip().lower()
    if text not in PROFILES:
        raise DaspmInputError(f'spectra {name!r}: choose one of {", ".join(PROFILES)}; see docs/synthetic_dataset.md')
    return PROFILES[text]


def check_combination(profile: SpectralProfile, shift: TargetShift) -> None:
    """Refuse a shift whose haze an L2A profile would remove again (it would change nothing)."""
    hazy = {'aot550', 'path_blue'} & set(shift.changes)
    if profile.level == 'L2A' and hazy:
        raise DaspmInputError(f'shift {shift.name!r} changes the haze ({", ".join(sorted(hazy))}), which spectra '
                              f'{profile.name!r} (surface reflectance) removes: use --spectra sentinel2 (L1C) or '
                              'another shift')


def profile_tags(profile: SpectralProfile, domain: str) -> dict[str, str]:
    """GeoTIFF tags of a tile rendered with ``profile`` (none for ``default``, whose files stay as they were)."""
    if profile.is_default:
        return {}
    tags = {'SPECTRA': profile.name}
    if domain == 'sentinel':
        tags['PROCESSING_LEVEL'] = profile.level
        tags['SPECTRA_ATMOSPHERE'] = (f'aot550={list(profile.aot550)};path_blue={list(profile.path_blue)};'
                                      f'path_exponent={profile.path_exponent};airmass={profile.airmass}'
                                      ).replace(' ', '')
    return tags


__all__ = ['IDENTITY_RESPONSE', 'PROFILES', 'SENTINEL2_MATERIALS', 'SpectralProfile', 'check_combination',
           'get_profile', 'profile_tags']
