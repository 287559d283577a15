"""Spectral profiles of the synthetic generator (daspm.synthetic.spectra): the calibrated target
looks like Sentinel-2 within the documented ranges, and ``default`` stays byte for byte."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from daspm.synthetic import GREEN, PROFILES, WATER, generate_dataset, get_profile, make_tile
from daspm.synthetic.calibration import (ANCHOR, RANGES, outside_ranges, quantities, real_patch_statistics,
                                         rendered_statistics)
from daspm.synthetic.statistics import MIXED, interior, local_std, mosaic, pure_classes
from daspm.utils.errors import DaspmInputError

from conftest import REPO, S2_PATCH

# SHA-256 over make_tile(0, domain, i, 160) for domain in (gaofen, sentinel), i in 0..2 (image
# bytes, then label bytes), computed on this branch's base (commit 70930ae) before profiles existed:
#   python -c "import hashlib; from daspm.synthetic import make_tile; h = hashlib.sha256()
#   [h.update(t.image.tobytes()) or h.update(t.labels.tobytes()) for d in ('gaofen', 'sentinel')
#    for t in (make_tile(0, d, i, 160) for i in range(3))]; print(h.hexdigest())"
DEFAULT_DIGEST = '407c35aaddff70f9072da84dc71198582f788c2787309da9ee38198e5ef7745d'


@pytest.fixture(scope='module')
def rendered() -> dict[str, dict]:
    """Per-class statistics of target tiles 0..7 (seed 0, 160 x 160) of each profile."""
    return {name: rendered_statistics(name) for name in PROFILES}


def test_default_profile_renders_the_tiles_of_before() -> None:
    digest = hashlib.sha256()
    for domain in ('gaofen', 'sentinel'):
        for index in range(3):
            tile = make_tile(0, domain, index, 160, 'default', 'default')
            digest.update(tile.image.tobytes())
            digest.update(tile.labels.tobytes())
    assert digest.hexdigest() == DEFAULT_DIGEST


def test_anchor_is_what_the_real_patch_measures() -> None:
    stats = real_patch_statistics(S2_PATCH / 's2_b2_b3_b4_b8_10m.tif', S2_PATCH / 'lulc_10m.tif')
    assert set(stats) == {'cultivated land', 'forest', 'grassland', 'shrubland', 'artificial surface'}
    assert stats['forest'].pixels == 7601 and stats['grassland'].pixels == 1777
    for name, anchor in ANCHOR.items():
        measured = quantities(stats[name])
        assert {k: measured[k] for k in anchor} == pytest.approx(anchor, abs=6e-5)


def test_sentinel2_l1c_lies_in_the_documented_ranges(rendered: dict) -> None:
    stats = rendered['sentinel2']
    assert outside_ranges(stats, 'L1C') == []
    green, water = quantities(stats['green area']), quantities(stats['water'])
    assert green['B4'] < 0.8 * green['B3']          # red well below green, as in the real forest
    assert green['B2'] > green['B4']                 # the blue path reflectance of L1C
    assert water['B8'] < 0.035 and water['NDVI'] < 0


def test_sentinel2_l2a_lies_in_the_published_surface_ranges(rendered: dict) -> None:
    stats = rendered['sentinel2-l2a']
    assert outside_ranges(stats, 'L2A') == []
    assert quantities(stats['water'])['B8'] < 0.03


def test_default_fails_the_ranges_where_the_issue_says(rendered: dict) -> None:
    # red as bright as green: the check that the calibration fixes must catch the default
    problems = outside_ranges(rendered['default'], 'L1C')
    assert any(p.startswith('L1C green area B4/B3 = ') for p in problems)
    assert quantities(rendered['default']['green area'])['B4/B3'] > 0.88


def test_l1c_is_the_l2a_scene_seen_through_the_atmosphere(rendered: dict) -> None:
    l1c, l2a = rendered['sentinel2'], rendered['sentinel2-l2a']
    for name in l1c:
        assert l1c[name].pixels == l2a[name].pixels     # same scenes, same labels
        assert l1c[name].mean[0] > l2a[name].mean[0] + 0.02   # path reflectance adds most in blue
    assert l1c['green area'].mean[3] < l2a['green area'].mean[3]  # transmission dims bright NIR
    # over dark water L1C - L2A is about the path reflectance, P_blue (lambda / 490 nm)^-3.5
    added = np.array(l1c['water'].mean) - np.array(l2a['water'].mean)
    assert added[2] / added[0] == pytest.approx((665 / 490) ** -3.5, abs=0.08)  # exponent 2 would give 0.54
    assert added[1] / added[0] == pytest.approx((560 / 490) ** -3.5, abs=0.08)  # and 0.77
    assert l1c['green area'].ndvi_mean < l2a['green area'].ndvi_mean - 0.03


def test_a_shift_applies_on_top_of_the_profile() -> None:
    base = make_tile(0, 'sentinel', 0, 160, 'default', 'sentinel2')
    hazy = make_tile(0, 'sentinel', 0, 160, 'atmosphere-2', 'sentinel2')
    blurred = make_tile(0, 'sentinel', 0, 160, 'optics-2', 'sentinel2')
    assert 0.045 <= base.atmosphere.path_blue <= 0.065           # the profile's haze range
    assert 0.080 <= hazy.atmosphere.path_blue <= 0.130           # the shift's replaces it
    # more path reflectance in blue, less transmission: brighter blue, washed-out contrast
    assert hazy.image[0].mean() > base.image[0].mean() + 50
    assert hazy.image[2].std() < 0.8 * base.image[2].std()

    def edges(tile) -> float:
        return float(np.abs(np.diff(tile.image[2].astype(float), axis=1)).mean())
    assert edges(blurred) < 0.8 * edges(base)
    assert np.array_equal(blurred.labels, base.labels)
    season = rendered_statistics('sentinel2', tiles=3, shift='season-2')['green area']
    calibrated = rendered_statistics('sentinel2', tiles=3)['green area']
    assert season.mean[2] > 1.3 * calibrated.mean[2] and season.ndvi_mean < calibrated.ndvi_mean - 0.1


def test_l2a_refuses_a_shift_whose_haze_it_removes() -> None:
    with pytest.raises(DaspmInputError, match=r"^shift 'sensor-1' changes the haze \(aot550, path_blue\), which "
                                              r"spectra 'sentinel2-l2a' \(surface reflectance\) removes"):
        make_tile(0, 'sentinel', 0, 40, 'sensor-1', 'sentinel2-l2a')
    make_tile(0, 'sentinel', 0, 40, 'optics-1', 'sentinel2-l2a')  # a shift without haze is fine


def test_calibrated_spectra_change_the_source_too_but_not_the_scenes() -> None:
    default = make_tile(2, 'gaofen', 0, 80)
    calibrated = make_tile(2, 'gaofen', 0, 80, spectra='sentinel2')
    assert np.array_equal(default.labels, calibrated.labels)
    assert not np.array_equal(default.image, calibrated.image)


def test_profile_recorded_in_manifest_and_tags(tmp_path: Path) -> None:
    kwargs = dict(seed=1, tile_size=40, num_source=1, num_target=1, progress=False)
    manifest = generate_dataset(tmp_path / 's2', spectra='sentinel2', shift='optics-1', **kwargs)
    on_disk = json.loads((tmp_path / 's2' / 'synthetic_dataset.json').read_text())
    assert on_disk['parameters']['spectra'] == manifest['parameters']['spectra'] == 'sentinel2'
    model = on_disk['domains']['sentinel']['sensor_model']
    assert model['spectra']['path_exponent'] == 3.5 and model['spectra']['level'] == 'L1C'
    assert model['response'] == [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]
    assert model['haze_ranges'] == {'aot550': [0.05, 0.25], 'path_blue': [0.045, 0.065]}
    assert model['spectra']['materials']['water'][0]['reflectance'][3] < 0.03
    with rasterio.open(tmp_path / 's2' / 'sentinel' / 'images' / 's2_0000.tif') as src:
        tags = src.tags()
    assert (tags['SPECTRA'], tags['PROCESSING_LEVEL'], tags['TARGET_SHIFT']) == ('sentinel2', 'L1C', 'optics-1')
    assert 'path_exponent=3.5' in tags['SPECTRA_ATMOSPHERE']
    with rasterio.open(tmp_path / 's2' / 'gaofen' / 'images' / 'gf_0000.tif') as src:
        assert src.tags()['SPECTRA'] == 'sentinel2' and 'PROCESSING_LEVEL' not in src.tags()
    generate_dataset(tmp_path / 'default', **kwargs)
    with rasterio.open(tmp_path / 'default' / 'sentinel' / 'images' / 's2_0000.tif') as src:
        assert 'SPECTRA' not in src.tags()


def test_cli_bad_spectra_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / 'synthetic'
    proc = subprocess.run([sys.executable, 'tools/make_synthetic_dataset.py', str(out), '--spectra', 'landsat',
                           '--quiet'], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: spectra 'landsat': choose one of default, sentinel2, sentinel2-l2a, sentinel2-nir; see docs/synthetic_dataset.md"]
    assert not out.exists()
    assert get_profile('Sentinel2') is PROFILES['sentinel2']


def test_every_range_is_an_interval_and_every_class_is_checked() -> None:
    for level, classes in RANGES.items():
        assert set(classes) == {'green area', 'urban area', 'roads', 'impervious surface', 'water'}, level
        for checks in classes.values():
            assert all(low < high for low, high in checks.values())


def test_statistics_helpers_on_known_arrays() -> None:
    labels = np.zeros((10, 15), np.uint8)
    labels[:5, 5:] = 4
    labels[7, 12] = 1  # spoils one 10 m pixel
    assert pure_classes(labels, 5).tolist() == [[0, 4, 4], [0, 0, MIXED]]
    classes = np.zeros((5, 5), np.int64)
    classes[0, 0] = 3
    assert interior(classes, 0).sum() == 8  # the 3 x 3 centres (no window over the edge) but (1, 1), which sees (0, 0)
    image = np.zeros((1, 3, 3))
    image[0, 1, 1] = 9.0
    assert local_std(image)[0, 1, 1] == pytest.approx(np.std([9.0] + [0.0] * 8))
    joined, joined_classes = mosaic([np.ones((4, 2, 2))] * 2, [np.zeros((2, 2), np.int64)] * 2)
    assert joined.shape == (4, 2, 6) and (joined_classes[:, 2] == MIXED).all() and (joined_classes[:, 5] == MIXED).all()


def test_benchmark_script_writes_the_table(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, 'benchmarks/generator_calibration.py', '--tiles', '2', '--tile-size', '80',
                           '--out', str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / 'statistics.json').read_text())
    assert set(record['renderings']) == {'default', 'default-l2a', 'sentinel2', 'sentinel2-l2a'}
    assert record['real patch (L1C)']['forest']['B8'] == pytest.approx(ANCHOR['forest']['B8'], abs=1e-4)
    table = (tmp_path / 'table.md').read_text()
    assert '| real L1C | forest | 7601 | 0.0780 | 0.0616 | 0.0375 | 0.2123 |' in table
    assert '| sentinel2 (L1C) | green area |' in table and table in proc.stdout


def test_sentinel2_nir_writes_the_source_as_nir_red_green_and_keeps_the_target(tmp_path: Path) -> None:
    """The false-colour source: band 1 is the NIR row of the camera, bands 2-3 the RGB composite's red and green."""
    rgb = make_tile(0, 'gaofen', 0, 160, spectra='sentinel2')
    nir = make_tile(0, 'gaofen', 0, 160, spectra='sentinel2-nir')
    assert np.array_equal(rgb.labels, nir.labels)
    # red and green: the RGB composite's rows (white balance and noise are per band position)
    assert np.abs(nir.image[1:].astype(float) - rgb.image[:2]).mean() < 8.0
    green, water = rgb.labels == GREEN, rgb.labels == WATER
    # vegetation is bright in NIR and water dark, where their red and green are alike
    assert nir.image[0][green].mean() > 2.0 * nir.image[0][water].mean()
    assert nir.image[0][green].mean() > nir.image[1][green].mean() + 50
    target_rgb = make_tile(0, 'sentinel', 0, 160, spectra='sentinel2')
    target_nir = make_tile(0, 'sentinel', 0, 160, spectra='sentinel2-nir')
    assert np.array_equal(target_rgb.image, target_nir.image)  # the target is the sentinel2 profile's
    generate_dataset(tmp_path / 'nir', seed=0, tile_size=160, num_source=2, num_target=2, spectra='sentinel2-nir',
                     progress=False)
    with rasterio.open(tmp_path / 'nir' / 'gaofen' / 'images' / 'gf_0000.tif') as src:
        assert src.descriptions == ('nir', 'red', 'green')
        assert src.tags()['SPECTRA'] == 'sentinel2-nir'
