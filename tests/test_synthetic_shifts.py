"""Named target-domain shifts of the synthetic dataset (daspm.synthetic.shifts): each changes what it says."""
from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from daspm.synthetic import SHIFTS, generate_dataset, get_shift, make_tile
from daspm.synthetic.scene import GREEN, URBAN
from daspm.synthetic.sensors import FINE_GSD_M, SENTINEL_RESPONSE, psf_blur
from daspm.synthetic.shifts import BROAD_RESPONSE, apply_land_cover
from daspm.utils.errors import DaspmInputError

REPO = Path(__file__).resolve().parents[1]
SIZE = 160

# SHA-256 of every .tif (relative path, then bytes, in sorted order) of
# generate_dataset(out, seed=3, tile_size=40, num_source=2, num_target=2, layout=...), and of
# make_tile(3, domain, 1, 60).image, computed with the generator before shifts existed (commit
# 12fb464): `default` must keep writing exactly these files.
GOLDEN_FILES = {'daspm': 'f7dadf784abfe15d4d988ce0e3c2adba35c007821c2932aacd7bfaee38a67b7b',
                'reference': 'a56b8012d8b3338617a502204cb78e9ed221079e8d70560c1bf0eeb4fcbf9ae1'}
GOLDEN_TILES = {'gaofen': 'd2323769474bd67d49b51539f64bfd024e5a7a8e8b314cb284a564f409b78059',
                'sentinel': '975ad7f718e946f98a29d22647ebd5e450195076339c0fb1ce61cd590ccf2c33'}


def _tif_digest(root: Path, pattern: str = '*.tif') -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _tiles(shift: str, n: int = 3) -> list:
    return [make_tile(0, 'sentinel', i, SIZE, shift) for i in range(n)]


def _pure(labels: np.ndarray, cls: int) -> np.ndarray:
    """10 m pixels whose 25 label pixels are all ``cls``."""
    h, w = labels.shape
    blocks = labels.reshape(h // 5, 5, w // 5, 5).transpose(0, 2, 1, 3).reshape(h // 5, w // 5, 25)
    return (blocks == cls).all(-1)


@pytest.mark.parametrize('layout', ['daspm', 'reference'])
def test_default_writes_the_files_of_before(tmp_path: Path, layout: str) -> None:
    out = tmp_path / layout
    manifest = generate_dataset(out, seed=3, tile_size=40, num_source=2, num_target=2, progress=False,
                                layout=layout, shift='default')
    assert _tif_digest(out) == GOLDEN_FILES[layout]
    assert manifest['parameters']['shift'] == 'default'


def test_default_tiles_are_the_arrays_of_before() -> None:
    for domain, digest in GOLDEN_TILES.items():
        assert hashlib.sha256(make_tile(3, domain, 1, 60).image.tobytes()).hexdigest() == digest


def test_names_and_spellings() -> None:
    families = {s.family for s in SHIFTS.values()} - {'default'}
    assert families >= {'optics', 'radiometry', 'atmosphere', 'spectral', 'season'}
    for family in families:
        assert get_shift(f'{family}:weak') is SHIFTS[f'{family}-1']
        assert get_shift(f'{family}:strong') is SHIFTS[f'{family}-2']
    with pytest.raises(DaspmInputError, match=r"^shift 'optics-3': choose one of default, optics-1, optics-2, "):
        get_shift('optics-3')


def test_cli_bad_shift_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / 'synthetic'
    proc = subprocess.run([sys.executable, 'tools/make_synthetic_dataset.py', str(out), '--shift', 'fog-9',
                           '--quiet'], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: shift 'fog-9': choose one of " + ', '.join(SHIFTS) + ' (or <family>:weak|strong); '
        'see docs/synthetic_dataset.md']
    assert not out.exists()


def test_source_and_labels_unchanged_target_tagged(tmp_path: Path) -> None:
    kwargs = dict(seed=1, tile_size=40, num_source=2, num_target=2, progress=False)
    default = generate_dataset(tmp_path / 'default', **kwargs)
    shifted = generate_dataset(tmp_path / 'shifted', shift='sensor:strong', **kwargs)
    assert _tif_digest(tmp_path / 'default' / 'gaofen') == _tif_digest(tmp_path / 'shifted' / 'gaofen')
    assert (_tif_digest(tmp_path / 'default' / 'sentinel' / 'labels')
            == _tif_digest(tmp_path / 'shifted' / 'sentinel' / 'labels'))
    assert _tif_digest(tmp_path / 'default' / 'sentinel') != _tif_digest(tmp_path / 'shifted' / 'sentinel')
    assert default['domains']['gaofen'] == shifted['domains']['gaofen']
    assert shifted['parameters']['shift'] == 'sensor-2'
    record = shifted['domains']['sentinel']['sensor_model']
    assert record['shift']['name'] == 'sensor-2' and record['shift']['mtf_at_nyquist'] == 0.05
    assert record['mtf_at_nyquist'] == 0.05
    on_disk = json.loads((tmp_path / 'shifted' / 'synthetic_dataset.json').read_text())
    assert on_disk['parameters']['shift'] == 'sensor-2'
    with rasterio.open(tmp_path / 'shifted' / 'sentinel' / 'images' / 's2_0000.tif') as src:
        tags = src.tags()
    assert tags['TARGET_SHIFT'] == 'sensor-2'
    assert 'mtf_at_nyquist=0.05' in tags['TARGET_SHIFT_PARAMETERS'] and 'gamma=1.4' in tags['TARGET_SHIFT_PARAMETERS']
    with rasterio.open(tmp_path / 'default' / 'sentinel' / 'images' / 's2_0000.tif') as src:
        assert 'TARGET_SHIFT' not in src.tags()


@pytest.mark.parametrize('name', ['optics-1', 'optics-2'])
def test_optics_psf_has_the_documented_mtf(name: str) -> None:
    shift = get_shift(name)
    # a sinusoid at the 10 m Nyquist frequency (period 20 m = 10 fine pixels) keeps MTF of its amplitude
    x = np.arange(200)
    wave = np.broadcast_to(0.2 + 0.1 * np.cos(2 * math.pi * x / 10.0), (1, 40, 200)).astype(np.float32)
    blurred = psf_blur(wave, shift.psf_sigma_m() / FINE_GSD_M)[0, 20, 50:150]
    measured = (blurred.max() - blurred.min()) / 0.2
    assert measured == pytest.approx(shift.mtf_at_nyquist, abs=0.01)


def test_optics_blur_the_same_tiles_more() -> None:
    def edge_energy(shift: str) -> float:
        return float(np.mean([np.abs(np.diff(t.image[2].astype(float), axis=1)).mean() for t in _tiles(shift)]))
    default, weak, strong = (edge_energy(s) for s in ('default', 'optics-1', 'optics-2'))
    assert default > 1.1 * weak and weak > 1.1 * strong
    means = [np.mean([t.image.mean() for t in _tiles(s)]) for s in ('default', 'optics-2')]
    assert means[1] == pytest.approx(means[0], rel=0.01)  # blur moves no mean value


@pytest.mark.parametrize('name', ['radiometry-1', 'radiometry-2'])
def test_radiometry_gain_offset_tone_per_pixel(name: str) -> None:
    shift = get_shift(name)
    gain = np.array(shift.gain)[:, None, None]
    offset = np.array(shift.offset)[:, None, None]
    for default, shifted in zip(_tiles('default'), _tiles(name)):
        # same scene, haze and noise draws: the shifted DN follow from the default DN (1 DN rounding)
        rho = default.image.astype(np.float64) / 10000
        expected = np.clip(rho * gain + offset, 0, 1) ** (1 / shift.gamma) * 10000
        assert np.abs(shifted.image - expected).max() <= 1.0 + gain.max()
    assert (name == 'radiometry-2') == (shift.gamma == 1.4)


@pytest.mark.parametrize('name', ['atmosphere-1', 'atmosphere-2'])
def test_atmosphere_draws_from_the_hazier_ranges(name: str) -> None:
    shift = get_shift(name)
    defaults, shifted = _tiles('default', 6), _tiles(name, 6)
    for tile in shifted:
        assert shift.aot550[0] <= tile.atmosphere.aot550 <= shift.aot550[1]
        assert shift.path_blue[0] <= tile.atmosphere.path_blue <= shift.path_blue[1]
    band_means = [np.mean([t.image.reshape(4, -1).mean(1) for t in tiles], axis=0) for tiles in (defaults, shifted)]
    # path reflectance falls with wavelength, transmission rises: blue brightens, NIR darkens
    assert band_means[1][0] > band_means[0][0] + 100
    assert band_means[1][3] < band_means[0][3] - 100


def test_spectral_response_blend_moves_vegetation_band_ratios() -> None:
    assert np.allclose(get_shift('spectral-2').response(SENTINEL_RESPONSE), BROAD_RESPONSE)
    assert np.allclose(get_shift('spectral-1').response(SENTINEL_RESPONSE),
                       0.5 * SENTINEL_RESPONSE + 0.5 * np.array(BROAD_RESPONSE))

    def red_over_green(shift: str) -> float:
        ratios = []
        for tile in _tiles(shift, 4):
            pure = _pure(tile.labels, GREEN)
            ratios.append(tile.image[2][pure].mean() / tile.image[1][pure].mean())
        return float(np.mean(ratios))
    default, weak, strong = (red_over_green(s) for s in ('default', 'spectral-1', 'spectral-2'))
    # vegetation: the broader red band picks up green and red-edge NIR, so red/green rises
    assert default < 0.95 * weak and weak < 0.95 * strong


@pytest.mark.parametrize('name', ['season-1', 'season-2'])
def test_season_changes_vegetation_only(name: str) -> None:
    shift = get_shift(name)
    labels = np.full((10, 10), URBAN, np.uint8)
    labels[:, :5] = GREEN
    refl = np.empty((4, 10, 10), np.float32)
    refl[:] = np.array([0.04, 0.08, 0.05, 0.40], np.float32)[:, None, None]
    out = apply_land_cover(shift, refl, labels)
    assert np.array_equal(out[:, :, 5:], refl[:, :, 5:])
    expected = ((1 - shift.soil_share) * np.array([0.04, 0.08, 0.05, 0.40]) * np.array(shift.vegetation_factor)
                + shift.soil_share * np.array([0.09, 0.13, 0.18, 0.24]))
    assert np.allclose(out[:, 0, 0], expected, atol=1e-6)
    # in the rendered tiles green areas turn redder against NIR
    for default, shifted in zip(_tiles('default', 2), _tiles(name, 2)):
        pure = _pure(default.labels, GREEN)
        ratio = [t.image[2][pure].mean() / t.image[3][pure].mean() for t in (default, shifted)]
        assert ratio[1] > 1.2 * ratio[0]  # x1.53 at the surface, less through the haze
        assert np.array_equal(default.labels, shifted.labels)


def test_source_tiles_ignore_the_shift() -> None:
    default = make_tile(0, 'gaofen', 0, SIZE)
    assert (default.labels == GREEN).mean() > 0.2  # the season would show
    for name in SHIFTS:
        assert np.array_equal(make_tile(0, 'gaofen', 0, SIZE, name).image, default.image)
