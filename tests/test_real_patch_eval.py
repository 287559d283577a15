"""End to end on the real patch: its target set trains a DASPM model (1 iteration), daspm-map maps the patch
with it, and the map is scored against the patch's land-cover mask."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from cli_helpers import call_cli_ok
from conftest import REPO, S2_PATCH
from daspm.cli import eval_landcover
from daspm.cli import make_real_target
from daspm.cli import train as cli_train
from daspm.convert import convert_dataset
from daspm.synthetic import generate_dataset

CONFIG = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'


@pytest.fixture
def in_repo(monkeypatch) -> None:
    """Run from the repository root (config paths are relative)."""
    monkeypatch.chdir(REPO)


def _options(data, target) -> list[str]:
    options = [f'train_dataloader.dataset.source.data_root={data}/gaofen_converted',
               f'train_dataloader.dataset.target.data_root={target}',
               'train_dataloader.dataset.rare_class_sampling.min_pixels=100', 'custom_hooks.0.interval=100',
               f'val_dataloader.dataset.data_root={data}/sentinel_converted',
               f'test_dataloader.dataset.data_root={data}/sentinel_converted',
               'train_dataloader.batch_size=1', 'train_cfg.max_iters=1', 'train_cfg.val_interval=100',
               'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return options


def test_real_target_trains_and_the_mapped_patch_is_scored(tmp_path, in_repo):
    data = tmp_path / 'synthetic'
    generate_dataset(data, seed=1, tile_size=80, num_source=4, num_target=2, progress=False)
    convert_dataset(data / 'gaofen', data / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(data / 'sentinel', data / 'sentinel_converted', dataset='sentinel10m', progress=False)
    target = tmp_path / 'real_target'
    patch = S2_PATCH / 's2_b2_b3_b4_b8_10m.tif'
    call_cli_ok(make_real_target.main, [str(patch), '-o', str(target)])
    work_root = tmp_path / 'work_dirs'
    call_cli_ok(cli_train.main, ['--config', CONFIG, '--work-root', str(work_root), '--exp-name', 'real',
                                 '--cfg-options', *_options(data, target)])
    (run_dir,) = (work_root / 'real').iterdir()
    assert (run_dir / 'iter_1.pth').is_file()

    out = tmp_path / 'eval'
    result = call_cli_ok(eval_landcover.main, ['--mask', str(S2_PATCH / 'lulc_10m.tif'), '--runs',
                                               f'daspm={run_dir}', '--out-dir', str(out)])
    assert 'vegetation' in result.stdout
    with rasterio.open(out / 'daspm_map.tif') as mapped, rasterio.open(patch) as src:
        assert mapped.shape == (505, 500) and mapped.crs == src.crs    # daspm-map's 2 m grid of the patch
        assert mapped.tags()['CHECKPOINT'].endswith('iter_1.pth')
        class_map = mapped.read(1)
    record = json.loads((out / 'landcover_eval.json').read_text())['maps']['daspm']
    # every mask pixel with data is counted once: the patch's 9900 labelled 10 m pixels x 25 (2 m pixels)
    with rasterio.open(S2_PATCH / 'lulc_10m.tif') as mask:
        labelled = int((mask.read(1) != 0).sum())
    counted = sum(row['pixels'] for row in record['confusion'].values())
    assert counted == labelled * 25 - record['ignored']['map_nodata']
    vegetation = record['recall']['vegetation']
    assert vegetation['pixels'] == 25 * (11 + 7601 + 1777 + 358) and 0.0 <= vegetation['recall'] <= 1.0
    assert record['recall']['water']['recall'] is None                 # no water in the patch
    predicted_green = sum(row['counts']['green area'] for row in record['confusion'].values())
    assert predicted_green == int(((class_map == 0)).sum()) - _green_outside_mask(class_map)


def _green_outside_mask(class_map: np.ndarray) -> int:
    """Green-area pixels of the map where the mask has no data (left out of the confusion table)."""
    from affine import Affine
    from daspm.evaluation.landcover import mask_on_grid
    with rasterio.open(S2_PATCH / 'lulc_10m.tif') as mask:
        transform = mask.transform @ Affine.scale(1 / 5)
        crs = mask.crs
    on_grid = mask_on_grid(S2_PATCH / 'lulc_10m.tif', class_map.shape, transform, crs)
    return int(((class_map == 0) & (on_grid == 0)).sum())
