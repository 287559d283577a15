"""End to end on tiny synthetic data: generate -> convert -> UDA train -> resume -> test.sh -> demo GeoTIFF.

The commands run in-process through their ``main`` functions (what the scripts call); test.sh and
the demo run once each as the subprocess a user starts, to prove those wrappers.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO
from daspm.cli import image_demo as cli_image_demo
from daspm.cli import mmseg_train as cli_mmseg_train
from daspm.cli import test as cli_test
from daspm.cli import train as cli_train
from daspm.convert.pipeline import convert_dataset
from daspm.synthetic import generate_dataset

CONFIG = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
SOURCE_ONLY_CONFIG = 'configs/daspm/synthetic_source_only_segformer_mitb0.py'


def _run(args: list[str], cwd) -> subprocess.CompletedProcess:
    # the thread count the suite runs with (one per xdist worker), else 2: more threads than free
    # cores make torch's thread pool spin against the other worker
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.setdefault('OMP_NUM_THREADS', '2')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def _run_logs(run_dir: Path) -> list[Path]:
    """The text logs of a run directory, one per start (``<timestamp>/<timestamp>.log``), oldest first."""
    return sorted(run_dir.glob('*/*.log'))


@pytest.fixture
def in_repo(monkeypatch) -> None:
    """Run commands from the repository root, as the README does (config paths are relative)."""
    monkeypatch.chdir(REPO)


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
    """What make_synthetic_dataset.py and both converters make (their scripts: test_synthetic.py,
    test_converters.py), in-process."""
    data = tmp_path_factory.mktemp('e2e') / 'synthetic'
    generate_dataset(data, seed=1, tile_size=80, num_source=6, num_target=6, progress=False)
    convert_dataset(data / 'gaofen', data / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(data / 'sentinel', data / 'sentinel_converted', dataset='sentinel10m', progress=False)
    return data


def test_train_resume_test_and_demo(tiny_data, tmp_path, in_repo):
    py = sys.executable
    work_root = tmp_path / 'work_dirs'
    trained = call_cli_ok(cli_train.main, ['--config', CONFIG, '--work-root', str(work_root), '--exp-name', 'e2e',
                                           '--cfg-options', *_data_options(tiny_data)])
    (run_dir,) = list((work_root / 'e2e').iterdir())
    assert trained.value == [run_dir] and f'run directory: {run_dir}' in trained.stdout
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
    call_cli_ok(cli_train.main, ['--resume', str(run_dir), '--cfg-options', 'train_cfg.max_iters=6'])
    assert (run_dir / 'iter_6.pth').is_file()
    _, resumed_log = _run_logs(run_dir)  # one text log per start: the first and the resumed
    assert 'resumed epoch: 0, iter: 4' in resumed_log.read_text().lower()
    starts = json.loads((run_dir / 'provenance.json').read_text())
    assert len(starts) == 2 and all('torch' in s['packages'] and 'commit' in s['code'] for s in starts)
    assert 'pid' in (run_dir / '.training.lock').read_text()  # the last holder, named in messages
    import torch
    state = torch.load(run_dir / 'iter_6.pth', map_location='cpu', weights_only=True)['state_dict']
    assert {k.split('.')[0] for k in state} == {'model', 'ema_model', 'imnet_model'}

    proc = _run(['sh', 'test.sh', str(run_dir)], REPO)  # the reference's command, as a user runs it
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
          '--out-dir', str(out_dir), '--device', 'cpu'], REPO)  # the README's demo command, once as a script
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
    demo = call_cli_ok(cli_image_demo.main, [str(tmp_path / 'photo.png'), str(run_dir / 'config.py'),
                                             str(run_dir / 'iter_6.pth'), '--out-dir', str(out_dir), '--device', 'cpu'])
    assert (out_dir / 'photo_map.png').is_file() and not (out_dir / 'photo_map.tif').exists()
    assert set(demo.value) == {'map_png', 'overlay_png'}


def test_mmseg_style_train_and_test_tools(tiny_data, tmp_path, in_repo):
    work_dir = tmp_path / 'source_only'
    call_cli_ok(cli_mmseg_train.main, [SOURCE_ONLY_CONFIG, '--work-dir', str(work_dir),
                                       '--cfg-options', *_data_options(tiny_data, uda=False), 'train_cfg.max_iters=2'])
    metrics_json = tmp_path / 'm.json'
    tested = call_cli_ok(cli_test.main, [SOURCE_ONLY_CONFIG, str(work_dir / 'iter_2.pth'), '--metrics-json',
                                         str(metrics_json), '--cfg-options', *_data_options(tiny_data, uda=False)])
    assert 'aAcc' in tested.stdout
    assert json.loads(metrics_json.read_text())['iteration'] == 2


def _last_error_line(result) -> str:
    """The one-line error of a command that exited with status 2 (no traceback)."""
    assert result.code == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def test_rare_class_sampling_on_too_small_images_suggests_min_pixels(tiny_data, tmp_path, in_repo):
    options = [o for o in _data_options(tiny_data) if 'min_pixels' not in o]
    result = call_cli(cli_train.main, ['--config', CONFIG, '--work-root', str(tmp_path), '--cfg-options', *options,
                                       'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'])
    message = _last_error_line(result)
    assert message.startswith('error: ') and 'min_pixels' in message
    assert re.search(r'min_pixels=\d+', message), message
    assert not any(tmp_path.iterdir())  # the failed new run left no run directory behind


def test_cli_errors_are_one_line_with_the_fix(tiny_data, tmp_path, in_repo):
    result = call_cli(cli_train.main, ['--config', SOURCE_ONLY_CONFIG, '--work-root', str(tmp_path),
                                       '--cfg-options', f'train_dataloader.dataset.data_root={tiny_data}/gaofen',
                                       'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'])
    last_line = _last_error_line(result)
    assert last_line.startswith('error: ') and result.stderr.count('error: ') == 1
    assert 'has not been converted; run `python tools/convert_datasets/gaofen2m.py' in last_line
    assert not any(tmp_path.iterdir())  # the failed new run left no run directory behind
    # test.sh passes the command's exit status and message through (a shell wrapper: a subprocess)
    proc = subprocess.run(['sh', 'test.sh', str(tmp_path / 'no_run')], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "run directory" in proc.stderr
