"""Sensor models: a sharp 2 m Gaofen-like RGB camera and a blurred, hazy 10 m Sentinel-2-like imager.

Both take the same kind of input, surface reflectance (4, H, W) in (blue, green, red, NIR) on
the 2 m grid, so the domain gap between them is only the sensor and the atmosphere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .fields import planar_gradient
from .reflectance import CENTRE_WAVELENGTHS_NM
from .shifts import AOT550_RANGE, MTF_AT_NYQUIST, PATH_BLUE_RANGE, TargetShift, apply_radiometry, psf_sigma_m
from .spectra import PROFILES, SpectralProfile

FINE_GSD_M = 2.0
COARSE_GSD_M = 10.0
FACTOR = int(round(COARSE_GSD_M / FINE_GSD_M))  # fine pixels per coarse pixel, per side

# ---- Gaofen-like source camera -------------------------------------------------------------
GAOFEN_BANDS: tuple[str, ...] = ('red', 'green', 'blue')
# Rows R, G, B; columns blue, green, red, NIR: broad filters leak into neighbouring bands and
# the red channel sees a little NIR (no perfect IR-cut filter).
GAOFEN_CROSSTALK = np.array([[0.02, 0.06, 0.90, 0.02],
                             [0.05, 0.87, 0.07, 0.01],
                             [0.88, 0.10, 0.02, 0.00]], np.float32)
GAOFEN_GAIN = np.array([1.02, 1.05, 0.98], np.float32)    # camera white balance
GAOFEN_OFFSET = np.array([0.004, 0.004, 0.006], np.float32)
GAOFEN_WHITE = 0.48      # signal mapped to DN 255 before the tone curve
GAOFEN_GAMMA = 1.6       # display tone curve DN = 255 * x ** (1 / gamma)
GAOFEN_NOISE_DN = 0.8    # std of additive noise in DN, before rounding
# The same camera's false-colour composite (NIR, red, green): Gaofen-2's multispectral camera has a
# NIR band (770-890 nm). Rows NIR, R, G; the red and green rows are those of the RGB composite.
GAOFEN_FALSE_COLOUR_BANDS: tuple[str, ...] = ('nir', 'red', 'green')
GAOFEN_FALSE_COLOUR_CROSSTALK = np.array([[0.00, 0.00, 0.03, 0.97],
                                          [0.02, 0.06, 0.90, 0.02],
                                          [0.05, 0.87, 0.07, 0.01]], np.float32)
#: source composite -> (band names as written, rows of the camera's crosstalk)
GAOFEN_COMPOSITES: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    'rgb': (GAOFEN_BANDS, GAOFEN_CROSSTALK),
    'nir-red-green': (GAOFEN_FALSE_COLOUR_BANDS, GAOFEN_FALSE_COLOUR_CROSSTALK),
}

# ---- Sentinel-2-like target imager -----------------------------------------------------------
SENTINEL_BANDS: tuple[str, ...] = ('B2', 'B3', 'B4', 'B8')
# Rows B2, B3, B4, B8; columns blue, green, red, NIR: narrower filters than the camera, but the
# broad B8 band picks up some red edge.
SENTINEL_RESPONSE = np.array([[0.93, 0.07, 0.00, 0.00],
                              [0.06, 0.89, 0.05, 0.00],
                              [0.00, 0.05, 0.92, 0.03],
                              [0.00, 0.00, 0.06, 0.94]], np.float32)
SENTINEL_GAIN = np.array([0.98, 1.00, 1.02, 0.97], np.float32)  # residual calibration error
# Gaussian PSF: MTF(f) = exp(-2 pi^2 sigma^2 f^2) = 0.3 at the 10 m Nyquist f = 1 / (2 * 10 m)
# => sigma = sqrt(-ln 0.3 / (2 pi^2)) / f = 4.94 m = 2.47 fine (2 m) pixels (shifts.psf_sigma_m).
PSF_SIGMA_M = psf_sigma_m(MTF_AT_NYQUIST, COARSE_GSD_M)
PSF_SIGMA_PX = PSF_SIGMA_M / FINE_GSD_M
# Noise: SNR at a 10 % reflectance reference (close to the S2 radiometric requirement), with
# 30 % of the variance signal-independent (read / quantisation noise).
SENTINEL_SNR = np.array([154.0, 168.0, 142.0, 174.0], np.float32)
NOISE_REF_REFLECTANCE = 0.10
REFLECTANCE_SCALE = 10000


@dataclass(frozen=True)
class Atmosphere:
    """Per-tile haze for the Sentinel rendering: aerosol optical depth and path reflectance."""

    aot550: float          # aerosol optical depth at 550 nm
    path_blue: float       # path (haze) reflectance added in the blue band
    angstrom: float        # wavelength exponent of the optical depth
    gradient: float        # peak-to-peak relative haze variation across the tile

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for GeoTIFF tags and the manifest)."""
        return {k: round(float(v), 5) for k, v in asdict(self).items()}


def draw_atmosphere(rng: np.random.Generator, aot550: tuple[float, float] = AOT550_RANGE,
                    path_blue: tuple[float, float] = PATH_BLUE_RANGE) -> Atmosphere:
    """Random per-tile haze: clear to moderately hazy with the default ranges."""
    return Atmosphere(aot550=float(rng.uniform(*aot550)), path_blue=float(rng.uniform(*path_blue)),
                      angstrom=float(rng.uniform(1.0, 1.6)), gradient=float(rng.uniform(0.0, 0.3)))


def render_gaofen(rng: np.random.Generator, reflectance: np.ndarray, composite: str = 'rgb') -> np.ndarray:
    """Gaofen-like 2 m (3, H, W) uint8 from surface reflectance (4, H, W): sharp, low noise.

    ``composite``: 'rgb' (red, green, blue) or 'nir-red-green' (the false-colour composite).
    """
    exposure = np.float32(rng.uniform(0.92, 1.08))  # per-scene illumination / exposure change
    signal = np.tensordot(GAOFEN_COMPOSITES[composite][1], reflectance, axes=1)
    signal = (signal * (GAOFEN_GAIN * exposure)[:, None, None] + GAOFEN_OFFSET[:, None, None]) / GAOFEN_WHITE
    dn = 255.0 * np.clip(signal, 0.0, 1.0) ** (1.0 / GAOFEN_GAMMA)
    dn += rng.normal(0.0, GAOFEN_NOISE_DN, size=dn.shape).astype(np.float32)
    return np.clip(np.rint(dn), 0, 255).astype(np.uint8)


def psf_blur(reflectance: np.ndarray, sigma_px: float = PSF_SIGMA_PX) -> np.ndarray:
    """Gaussian point-spread-function blur of each band on the fine grid (mirror at the edges)."""
    return ndimage.gaussian_filter(reflectance, sigma=(0.0, sigma_px, sigma_px), mode='mirror', truncate=3.5)


def area_downsample(image: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """Mean over each ``factor`` x ``factor`` block: the detector integrates over its footprint."""
    bands, height, width = image.shape
    if height % factor or width % factor:
        raise ValueError(f'image size {height}x{width} is not a multiple of {factor}')
    return image.reshape(bands, height // factor, factor, width // factor, factor).mean(axis=(2, 4))


def apply_atmosphere(reflectance: np.ndarray, atmosphere: Atmosphere, rng: np.random.Generator,
                     path_exponent: float = 2.0, airmass: float = 1.0) -> np.ndarray:
    """Top-of-atmosphere-like reflectance: rho * T + P, haze stronger at short wavelengths.

    ``path_exponent`` is the fall-off of the path reflectance with wavelength (4: pure Rayleigh),
    ``airmass`` the optical path through the aerosol (sun and view, 1 in the default chain).
    """
    wavelengths = np.array(CENTRE_WAVELENGTHS_NM, np.float32)
    tau = atmosphere.aot550 * (wavelengths / 550.0) ** -atmosphere.angstrom * airmass
    path = atmosphere.path_blue * (wavelengths / wavelengths[0]) ** -path_exponent  # Rayleigh-like fall-off
    haze = planar_gradient(rng, reflectance.shape[1:], atmosphere.gradient)[None]  # thicker on one side
    transmission = np.exp(-tau[:, None, None] * haze)
    return reflectance * transmission + path[:, None, None] * haze


def sensor_noise(rng: np.random.Generator, reflectance: np.ndarray) -> np.ndarray:
    """Add Gaussian noise whose std gives the band's SNR at the reference reflectance."""
    sigma_ref = NOISE_REF_REFLECTANCE / SENTINEL_SNR[:, None, None]
    sigma = sigma_ref * np.sqrt(0.3 + 0.7 * np.maximum(reflectance, 0.0) / NOISE_REF_REFLECTANCE)
    return reflectance + rng.standard_normal(reflectance.shape, dtype=np.float32) * sigma


def render_sentinel(rng: np.random.Generator, reflectance: np.ndarray, atmosphere: Atmosphere | None = None,
                    shift: TargetShift | None = None, profile: SpectralProfile | None = None) -> np.ndarray:
    """Sentinel-2-like 10 m image (4, H/5, W/5) uint16 (B2, B3, B4, B8 reflectance x 10000).

    ``shift`` changes the band response, the PSF and the radiometry (its haze ranges act through
    ``draw_atmosphere``, its land cover on the surface reflectance before this call); ``profile``
    (spectra.py) sets the band response, gains and atmosphere, and skips the haze for L2A.
    """
    shift = shift or TargetShift()
    profile = profile or PROFILES['default']
    if atmosphere is None:
        atmosphere = draw_atmosphere(rng, *profile.atmosphere_ranges(shift))
    response = shift.response(profile.response_matrix(SENTINEL_RESPONSE))
    signal = np.tensordot(response, reflectance, axes=1) * profile.gain_vector(SENTINEL_GAIN)[:, None, None]
    coarse = area_downsample(psf_blur(signal.astype(np.float32), shift.psf_sigma_m() / FINE_GSD_M))
    if profile.level == 'L1C':
        coarse = apply_atmosphere(coarse, atmosphere, rng, profile.path_exponent, profile.airmass)
    toa = sensor_noise(rng, coarse.astype(np.float32))
    toa = apply_radiometry(shift, toa)
    return np.clip(np.rint(toa * REFLECTANCE_SCALE), 1, REFLECTANCE_SCALE).astype(np.uint16)
