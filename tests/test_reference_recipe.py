"""End to end in the published DASPM layout: the reference README's commands with the headline config.

Generated tiles in the reference's layout (8-bit RGB .tif, the target on the 2 m label grid, split
files only for the target) -> converters -> the headline config (its own pipelines: resize to
1280x720 / 1024x512 with ratio 0.5-2.0, crop 320, so some target crops are padded), with a tiny
encoder swapped in -> test.sh -> the demo. The commands run in-process through the ``main``
functions their scripts call (tests/test_end_to_end.py runs the script wrappers themselves).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from mmengine.config import Config

from cli_helpers import call_cli_ok
from conftest import REPO
from daspm.cli import image_demo as cli_image_demo
from daspm.cli import test as cli_test
from daspm.cli import train as cli_train
from daspm.convert import cli as convert_cli
from daspm.synthetic import generate_dataset

# as the reference README writes it (configs/DASPM/), resolved case-insensitively
HEADLINE = 'configs/DASPM/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'
ITERS = 16  # with the recipe's seed, target crops are padded at iterations 8, 11 and 16
TINY_MODEL = [
    'model.model.backbone.init_cfg=None', 'model.model.backbone.embed_dims=8', 'model.model.backbone.num_heads=[1,2,4,8]',
    'model.model.backbone.num_layers=[1,1,1,1]', 'model.model.decode_head.in_channels=[8,16,32,64]',
    'model.model.decode_head.channels=16', 'model.model.decode_head.embed_dims=16',
]


def _convert(dataset: str, argv: list[str]) -> str:
    """``python tools/convert_datasets/<dataset>.py ARGV`` in-process; returns what it printed."""
    return call_cli_ok(convert_cli.main, dataset, f'tools/convert_datasets/{dataset}.py', argv).stdout


@pytest.fixture(scope='module')
def published_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('published')
    # make_synthetic_dataset.py data --layout reference ... (its script: tests/test_synthetic.py)
    generate_dataset(root / 'data', seed=1, tile_size=80, num_source=6, num_target=6, layout='reference',
                     progress=False)
    # the reference README's commands, run from the folder that holds data/ (relative paths)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        gaofen = _convert('gaofen2m', ['data/gaofen', '--nproc', '2'])
        sentinel = _convert('sentinel10m', ['data/sentinel', '--nproc', '2'])
    return root / 'data', gaofen, sentinel


def test_published_layout_converts_and_names_the_headline_config(published_data):
    data, gaofen_out, sentinel_out = published_data
    assert not (data / 'gaofen' / 'img_dir').exists()  # the input is never written
    assert 'config: configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py' \
        in sentinel_out
    assert '8-bit RGB on the label grid' in sentinel_out
    manifest = json.loads((data / 'gaofen_converted' / 'daspm_dataset.json').read_text())
    assert manifest['splits'] == {}  # the reference has no split files for the source
    for split in ('train', 'val', 'test'):
        assert (data / 'sentinel_converted' / f'{split}.txt').read_text().split()


def test_headline_recipe_trains_with_padded_target_crops_and_tests(published_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the README's commands run from the repository root
    data = published_data[0]
    work_root = tmp_path / 'work_dirs'
    options = [
        *TINY_MODEL,
        f'train_dataloader.dataset.source.data_root={data}/gaofen_converted',
        f'train_dataloader.dataset.target.data_root={data}/sentinel_converted',
        f'val_dataloader.dataset.data_root={data}/sentinel_converted',
        f'test_dataloader.dataset.data_root={data}/sentinel_converted',
        'train_dataloader.dataset.rare_class_sampling.min_pixels=200',  # 80x80 tiles, not 3000
        # an untrained model is confident nowhere at 0.968: with 0.2 (5 classes) every image pixel
        # is, so the target path carries weight and padded pixels are the only ones at 0
        'model.pseudo_threshold=0.2',
        f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
        f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1',
        f'custom_hooks.0.interval={ITERS // 2}',
    ]
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    call_cli_ok(cli_train.main, ['--config', HEADLINE, '--work-root', str(work_root), '--exp-name', 'ref',
                                 '--cfg-options', *options])
    (run_dir,) = (work_root / 'ref').iterdir()
    (log_file,) = run_dir.glob('*/*.log')  # the run's text log
    log = log_file.read_text()
    assert 'has no split files' in log and 'using all' in log  # the source trains on every image
    assert 'gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0' in run_dir.name
    resolved = Config.fromfile(str(run_dir / 'config.py'))
    # both domains read bands 1, 2, 3 by index (the published images have no band names), / 255
    for pipeline in (resolved.train_dataloader.dataset.source.pipeline,
                     resolved.train_dataloader.dataset.target.pipeline,
                     resolved.test_dataloader.dataset.pipeline):
        assert pipeline[0]['type'] == 'LoadGeoTiff'
        assert pipeline[0]['bands'] == [1, 2, 3] and pipeline[0]['scale'] == 255.0

    (scalars,) = run_dir.glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == list(range(1, ITERS + 1))
    padded = [r for r in train if r['tgt_pad_share'] > 0]
    assert padded, f'no padded target crop in {ITERS} iterations: the test does not cover padding'
    for record in train:
        for key in ('loss', 'src.decode.loss_ce', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce'):
            assert record[key] == record[key] and abs(record[key]) < 1e6, key  # finite
        # every image pixel is confident, padding is not counted
        assert record['pseudo_weight'] == pytest.approx(1.0)

    tested = call_cli_ok(cli_test.main, [str(run_dir)])  # what `sh test.sh <run>` runs
    assert 'mIoU' in tested.stdout and 'impervious surface' in tested.stdout
    report = json.loads((run_dir / 'metrics.json').read_text())
    assert report['iteration'] == ITERS and 0.0 <= report['metrics']['mIoU'] <= 100.0
    test_names = (data / 'sentinel_converted' / 'test.txt').read_text().split()
    with rasterio.open(run_dir / 'preds' / f'{test_names[0]}.tif') as pred, \
            rasterio.open(data / 'sentinel' / 'image' / f'{test_names[0]}.tif') as image:
        assert pred.shape == image.shape and pred.transform == image.transform  # already on the 2 m grid

    # the README's demo command on the shipped real image (8-bit RGB on the 2 m grid)
    out_dir = tmp_path / 'demo_out'
    call_cli_ok(cli_image_demo.main, ['demo/demo.tif', str(run_dir / 'config.py'),
                                      str(run_dir / f'iter_{ITERS}.pth'), '--out-dir', str(out_dir), '--device', 'cpu'])
    assert (out_dir / 'demo_map.png').is_file() and (out_dir / 'demo_overlay.png').is_file()
    with rasterio.open(REPO / 'demo' / 'demo.tif') as src, rasterio.open(out_dir / 'demo_map.tif') as out:
        assert out.crs == src.crs and out.shape == src.shape and out.transform == src.transform
        assert set(np.unique(out.read(1))) <= {0, 1, 2, 3, 4}
