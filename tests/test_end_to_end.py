"""End to end on tiny synthetic data: generate -> convert -> UDA train -> resume -> test.sh -> demo GeoTIFF."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import REPO

CONFIG = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
SOURCE_ONLY_CONFIG = 'configs/daspm/synthetic_source_only_segformer_mitb0.py'


def _run(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='2')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def _data_options(data, uda: bool = True) -> list[str]:
    """Point a synthetic config at the test data and make the run tiny."""
    if uda:
        options = [f'train_dataloader.dataset.source.data_root={data}/gaofen_converted',
                   f'train_dataloader.dataset.target.data_root={data}/sentinel_converted',
                   # 80x80 tiles hold too few pixels per class for the recipe's 3000
                   'train_dataloader.dataset.rare_class_sampling.min_pixels=100',
                   'custom_hooks.0.interval=2']
    else:
        options = [f'train_dataloader.dataset.data_root={data}/gaofen_converted']
    options += [f'val_dataloader.dataset.data_root={data}/sentinel_converted',
                f'test_dataloader.dataset.data_root={data}/sentinel_converted',
                'train_dataloader.batch_size=2', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return options


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    data = tmp_path_factory.mktemp('e2e') / 'synthetic'
    py = sys.executable
    _run([py, 'tools/make_synthetic_dataset.py', str(data), '--tile-size', '80', '--num-source', '6',
          '--num-target', '6', '--seed', '1'], REPO)
    _run([py, 'tools/convert_datasets/gaofen2m.py', str(data / 'gaofen')], REPO)
    _run([py, 'tools/convert_datasets/sentinel10m.py', str(data / 'sentinel')], REPO)
    return data


def test_train_resume_test_and_demo(tiny_data, tmp_path):
    py = sys.executable
    work_root = tmp_path / 'work_dirs'
    _run([py, 'run_experiments.py', '--config', CONFIG, '--work-root', str(work_root), '--exp-name', 'e2e',
          '--cfg-options', *_data_options(tiny_data)], REPO)
    (run_dir,) = list((work_root / 'e2e').iterdir())
    assert re.fullmatch(r'\d{6}_\d{4}_synthetic_uda_rcs_fd_daformer_mitb0_[0-9a-f]{5}', run_dir.name)
    assert (run_dir / 'config.py').is_file()
    assert {p.name for p in run_dir.glob('iter_*.pth')} == {'iter_2.pth', 'iter_4.pth'}
    assert (run_dir / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    (scalars,) = run_dir.glob('*/vis_data/scalars.json')
    logged = [json.loads(line) for line in scalars.read_text().splitlines()]
    assert [r['iter'] for r in logged if 'loss' in r] == [1, 2, 3, 4]
    for record in (r for r in logged if 'loss' in r):
        for key in ('loss', 'src.decode.loss_ce', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce'):
            assert np.isfinite(record[key]), key
        assert 0.0 <= record['pseudo_weight'] <= 1.0
    assert sorted(p.name for p in (run_dir / 'debug').glob('*.png')) == ['iter_2.png', 'iter_4.png']

    # an interrupted run continues from its latest checkpoint
    proc = _run([py, 'run_experiments.py', '--resume', str(run_dir), '--cfg-options', 'train_cfg.max_iters=6'], REPO)
    assert (run_dir / 'iter_6.pth').is_file()
    assert 'resumed epoch: 0, iter: 4' in (proc.stdout + proc.stderr).lower()
    starts = json.loads((run_dir / 'provenance.json').read_text())
    assert len(starts) == 2 and all('torch' in s['packages'] and 'commit' in s['code'] for s in starts)
    assert 'pid' in (run_dir / '.training.lock').read_text()  # the last holder, named in messages
    import torch
    state = torch.load(run_dir / 'iter_6.pth', map_location='cpu', weights_only=True)['state_dict']
    assert {k.split('.')[0] for k in state} == {'model', 'ema_model', 'imnet_model'}

    proc = _run(['sh', 'test.sh', str(run_dir)], REPO)
    assert 'mIoU' in proc.stdout and 'impervious surface' in proc.stdout
    report = json.loads((run_dir / 'metrics.json').read_text())
    assert report['iteration'] == 6 and report['checkpoint'].endswith('iter_6.pth')
    assert 0.0 <= report['metrics']['mIoU'] <= 100.0
    for name in ('green area', 'urban area', 'roads', 'impervious surface', 'water'):
        assert f'IoU.{name}' in report['metrics'] and f'Acc.{name}' in report['metrics']
    test_names = (tiny_data / 'sentinel_converted' / 'test.txt').read_text().split()
    assert sorted(p.stem for p in (run_dir / 'preds').glob('*.png')) == sorted(test_names)
    with rasterio.open(run_dir / 'preds' / f'{test_names[0]}.tif') as pred:
        assert pred.res == pytest.approx((2.0, 2.0)) and pred.shape == (80, 80)

    image = tiny_data / 'sentinel' / 'images' / f'{test_names[0]}.tif'
    out_dir = tmp_path / 'demo'
    _run([py, '-m', 'demo.image_demo', str(image), str(run_dir / 'config.py'), str(run_dir / 'iter_6.pth'),
          '--out-dir', str(out_dir), '--device', 'cpu'], REPO)
    assert (out_dir / f'{image.stem}_map.png').is_file() and (out_dir / f'{image.stem}_overlay.png').is_file()
    with rasterio.open(image) as src, rasterio.open(out_dir / f'{image.stem}_map.tif') as out:
        assert out.crs == src.crs
        assert out.shape == (src.height * 5, src.width * 5)
        assert out.transform == pytest.approx(src.transform @ Affine.scale(1 / 5))
        assert out.bounds == pytest.approx(src.bounds)
        assert out.dtypes[0] == 'uint8' and out.nodata == 255
        assert out.colormap(1)[2][:3] == (255, 255, 0)  # roads in the DASPM palette
        assert set(np.unique(out.read(1))) <= {0, 1, 2, 3, 4}

    # a plain RGB picture is mapped too (no georeference, so no GeoTIFF)
    import cv2
    with rasterio.open(tiny_data / 'gaofen' / 'images' / 'gf_0000.tif') as src:
        cv2.imwrite(str(tmp_path / 'photo.png'), src.read().transpose(1, 2, 0)[..., ::-1])
    _run([py, '-m', 'demo.image_demo', str(tmp_path / 'photo.png'), str(run_dir / 'config.py'),
          str(run_dir / 'iter_6.pth'), '--out-dir', str(out_dir), '--device', 'cpu'], REPO)
    assert (out_dir / 'photo_map.png').is_file() and not (out_dir / 'photo_map.tif').exists()


def test_mmseg_style_train_and_test_tools(tiny_data, tmp_path):
    py = sys.executable
    work_dir = tmp_path / 'source_only'
    _run([py, 'tools/train.py', SOURCE_ONLY_CONFIG, '--work-dir', str(work_dir),
          '--cfg-options', *_data_options(tiny_data, uda=False), 'train_cfg.max_iters=2'], REPO)
    metrics_json = tmp_path / 'm.json'
    proc = _run([py, 'tools/test.py', SOURCE_ONLY_CONFIG, str(work_dir / 'iter_2.pth'), '--metrics-json',
                 str(metrics_json), '--cfg-options', *_data_options(tiny_data, uda=False)], REPO)
    assert 'aAcc' in proc.stdout
    assert json.loads(metrics_json.read_text())['iteration'] == 2


def test_rare_class_sampling_on_too_small_images_suggests_min_pixels(tiny_data, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    options = [o for o in _data_options(tiny_data) if 'min_pixels' not in o]
    proc = subprocess.run([sys.executable, 'run_experiments.py', '--config', CONFIG, '--work-root', str(tmp_path),
                           '--cfg-options', *options, 'train_dataloader.num_workers=0',
                           'train_dataloader.persistent_workers=False'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith('error: ') and 'min_pixels' in message
    assert re.search(r'min_pixels=\d+', message), message


def test_cli_errors_are_one_line_with_the_fix(tiny_data, tmp_path):
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([py, 'run_experiments.py', '--config', SOURCE_ONLY_CONFIG, '--work-root', str(tmp_path),
                           '--cfg-options', f'train_dataloader.dataset.data_root={tiny_data}/gaofen',
                           'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith('error: ') and proc.stderr.count('error: ') == 1
    assert 'has not been converted; run `python tools/convert_datasets/gaofen2m.py' in last_line
    proc = subprocess.run(['sh', 'test.sh', str(tmp_path / 'no_run')], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "run directory" in proc.stderr
