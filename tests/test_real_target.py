"""Real Sentinel-2 data -> an unlabelled target set (tools/make_real_target.py), read as the UDA configs read it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from mmengine.config import Config
from mmseg.registry import DATASETS

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO, S2_PATCH, write_tif
from daspm.cli import make_real_target as cli
from daspm.mapping.real_target import RealTargetOptions, make_real_target, tile_origins
from daspm.synthetic.sentinel2_product import write_product
from daspm.utils.errors import DaspmInputError

PATCH = S2_PATCH / 's2_b2_b3_b4_b8_10m.tif'
UDA_CONFIG = REPO / 'configs/daspm/synthetic_uda_warm_rcs_fd_daformer_mitb0.py'


def _tiles(out: Path) -> dict[str, np.ndarray]:
    names = (out / 'train.txt').read_text().split()
    tiles = {}
    for name in names:
        with rasterio.open(out / 'img_dir' / f'{name}.tif') as src:
            tiles[name] = src.read()
    return tiles


def test_tile_origins_overlap_and_end_flush():
    assert tile_origins(101, 64, 32) == [0, 18, 37]      # at most 32 apart, the last ending at 101
    assert tile_origins(100, 64, 64) == [0, 36]
    assert tile_origins(64, 64, 32) == [0] and tile_origins(30, 64, 32) == [0]


def test_the_real_patch_becomes_overlapping_tiles_with_its_values_and_georeference(tmp_path):
    out = tmp_path / 'real_target'
    manifest = make_real_target([PATCH], out)
    with rasterio.open(PATCH) as src:
        patch, transform, crs = src.read(), src.transform, src.crs
    tiles = _tiles(out)
    assert manifest['num_images'] == len(tiles) == 9 and manifest['labelled'] is False
    assert manifest['subpixel_factor'] == 5.0 and not (out / 'ann_dir').exists()
    covered = np.zeros(patch.shape[1:], int)
    for info in manifest['tiles']:
        col, row, w, h = info['window']
        assert (w, h) == (64, 64)                 # 320 x 320 on the 2 m grid
        with rasterio.open(out / 'img_dir' / f'{info["name"]}.tif') as tile:
            assert tile.crs == crs and tile.nodata == 0
            assert tile.transform.almost_equals(transform @ Affine.translation(col, row))
            assert [d.upper() for d in tile.descriptions] == ['B02', 'B03', 'B04', 'B08']
            np.testing.assert_array_equal(tile.read(), patch[:, row:row + h, col:col + w])
        covered[row:row + h, col:col + w] += 1
    assert covered.min() >= 1 and covered.max() > 1   # the whole patch, in overlapping tiles


def test_the_uda_target_pipeline_reads_the_set_on_the_2m_grid_with_the_synthetic_scale(tmp_path):
    out = tmp_path / 'real_target'
    make_real_target([PATCH], out)
    cfg = Config.fromfile(str(UDA_CONFIG))
    target = cfg.train_dataloader.dataset.target
    # the config's own loading steps, without the random augmentation
    steps = [s for s in target.pipeline if s['type'] in ('LoadGeoTiff', 'SubPixelResample')]
    dataset = DATASETS.build(dict(target, data_root=str(out), pipeline=steps))
    assert len(dataset) == 9 and 'seg_map_path' not in dataset[0]
    sample = dataset[0]
    name = Path(sample['img_path']).stem
    assert sample['img'].shape == (320, 320, 3) and sample['gsd'] == pytest.approx(2.0, abs=0.01)
    with rasterio.open(out / 'img_dir' / f'{name}.tif') as src:
        b4 = src.read(3).astype(np.float32)
    # B4 / 3000, as the synthetic target (uint16 reflectance x 10000) is scaled; bicubic x5 stays in range
    assert sample['img'][..., 0].mean() == pytest.approx(b4.mean() / 3000, rel=0.02)
    assert sample['img'][..., 0].max() <= b4.max() / 3000 + 1e-6


def test_an_unlabelled_set_is_refused_where_labels_load(tmp_path):
    out = tmp_path / 'real_target'
    make_real_target([PATCH], out)
    cfg = Config.fromfile(str(UDA_CONFIG))
    test_set = dict(cfg.test_dataloader.dataset, data_root=str(out), ann_file='train.txt')
    with pytest.raises(DaspmInputError, match='holds no labels .*use it as the UDA target'):
        DATASETS.build(test_set)


def _band_files(folder: Path, dn: dict[str, int], res: dict[str, int], size: int = 30) -> list[Path]:
    """Constant band files (L1C-style names) of ``size`` 10 m pixels; band 'B8' may be at 20 m."""
    paths = []
    for band, value in dn.items():
        k = res.get(band, 10) // 10
        data = np.full((size // k, size // k), value, np.uint16)
        data[0, 0] = 0                                          # NODATA in the corner
        paths.append(write_tif(folder / f'T33TWM_20230801T100031_{band}.tif', data, gsd=res.get(band, 10),
                               crs='EPSG:32633', origin=(500000.0, 5000000.0), nodata=0))
    return paths


@pytest.mark.parametrize('offset', [0.0, -1000.0])
def test_band_files_at_10_and_20_m_with_the_baseline_offset(tmp_path, offset):
    # reflectance 0.05 / 0.08 / 0.06 / 0.30; files of baseline 04.00 store DN = reflectance x 10000 + 1000
    refl = {'B02': 500, 'B03': 800, 'B04': 600, 'B08': 3000}
    dn = {b: v - int(offset) for b, v in refl.items()}
    files = _band_files(tmp_path / 'bands', dn, {'B08': 20})
    out = tmp_path / 'target'
    result = call_cli_ok(cli.main, [*map(str, files), '-o', str(out), '--tile-size', '100', '--stride', '50',
                                    '--offset', str(offset)])
    assert 'wrote' in result.stdout and 'data_root=' in result.stdout
    tiles = _tiles(out)
    # 30 px = 150 on the 2 m grid: tiles of 20 px (100 / 5), at most 10 px apart: at 0 and 10
    assert sorted(tiles) == [f'T33TWM_20230801T100031_r{r:04d}_c{c:04d}' for r in (0, 10) for c in (0, 10)]
    first = tiles['T33TWM_20230801T100031_r0000_c0000']
    assert first.shape == (4, 20, 20) and (first[:, 0, 0] == 0).all()   # NODATA of the 10 m bands stays no data
    inner = first[:, 5:15, 5:15].reshape(4, -1)
    np.testing.assert_array_equal(inner.min(axis=1), list(refl.values()))
    np.testing.assert_array_equal(inner.max(axis=1), list(refl.values()))


@pytest.mark.parametrize('level', ['L2A', 'L1C'])
def test_products_of_both_baselines_give_the_same_tiles(tmp_path, level):
    # baseline 04.00 stores DN + 1000 with offset -1000 in the metadata; the tiles must not differ
    sets = {}
    opts = RealTargetOptions(tile_size=150, stride=75, name='scene', mask_classes=())
    for baseline in ('02.09', '04.00'):
        product = write_product(tmp_path / baseline, level, baseline, 60, seed=3, bands=('B2', 'B3', 'B4', 'B8'))
        manifest = make_real_target([product], tmp_path / f'target_{baseline}', opts)
        assert manifest['tiles'][0]['window'] == [0, 0, 30, 30] and len(manifest['tiles']) == 9
        sets[baseline] = _tiles(tmp_path / f'target_{baseline}')
    assert "offsets" in manifest['radiometry'] and sets['02.09'].keys() == sets['04.00'].keys()
    for name in sets['02.09']:
        np.testing.assert_array_equal(sets['02.09'][name], sets['04.00'][name])
    assert 500 < sets['04.00']['scene_r0000_c0000'].mean() < 6000     # reflectance x 10000, not DN + 1000 / 10000


def test_a_products_clouds_become_no_data(tmp_path):
    product = write_product(tmp_path / 'p', 'L2A', '04.00', 60, seed=3, cloud_block=(12, 18, 30, 42),
                            bands=('B2', 'B3', 'B4', 'B8'))
    make_real_target([product], tmp_path / 'target', RealTargetOptions(tile_size=150, stride=75, name='scene'))
    first = _tiles(tmp_path / 'target')['scene_r0000_c0000']     # rows 0..30, columns 0..30 of the scene
    assert (first[:, 12:30, 18:30] == 0).all() and (first[:, :12] > 0).all()


def test_reruns_sizes_and_folders_are_checked(tmp_path):
    out = tmp_path / 'target'
    call_cli_ok(cli.main, [str(PATCH), '-o', str(out)])
    again = call_cli_ok(cli.main, [str(PATCH), '-o', str(out)])
    assert 'already holds this target set (9 tiles)' in again.stdout
    other = call_cli(cli.main, [str(PATCH), '-o', str(out), '--stride', '320'])
    assert other.code == 2 and 'made from other inputs or options; pass --overwrite' in other.stderr
    replaced = call_cli_ok(cli.main, [str(PATCH), '-o', str(out), '--stride', '320', '--overwrite'])
    assert 'wrote' in replaced.stdout
    assert json.loads((out / 'daspm_dataset.json').read_text())['num_images'] == 4
    assert len(list((out / 'img_dir').iterdir())) == 4
    bad = call_cli(cli.main, [str(PATCH), '-o', str(tmp_path / 'x'), '--tile-size', '322'])
    assert bad.code == 2 and '--tile-size 322: must be a multiple of 5' in bad.stderr
    (tmp_path / 'foreign').mkdir()
    (tmp_path / 'foreign' / 'notes.txt').write_text('mine')
    foreign = call_cli(cli.main, [str(PATCH), '-o', str(tmp_path / 'foreign')])
    assert foreign.code == 2 and 'not a target set of this tool' in foreign.stderr
    assert (tmp_path / 'foreign' / 'notes.txt').read_text() == 'mine'


def test_float_reflectance_is_refused_with_the_fix(tmp_path):
    data = np.full((4, 20, 20), 0.1, np.float32)
    path = write_tif(tmp_path / 'refl.tif', data, gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])
    with pytest.raises(DaspmInputError, match='reflectance in 0..1.*multiply the bands by 10000'):
        make_real_target([path], tmp_path / 'target')
