"""A run that goes wrong says so in one line and loses nothing: a loss that is not finite, an
unreadable or refused checkpoint, a resume without a checkpoint, a failed run with logs."""
from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmseg.structures import SegDataSample
from torch import nn

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO
from daspm.cli import image_demo as cli_image_demo
from daspm.cli import test as cli_test
from daspm.cli import train as cli_train
from daspm.convert.pipeline import convert_dataset
from daspm.synthetic import generate_dataset
from daspm.utils.checkpoint import read_checkpoint
from daspm.utils.compat import MMENGINE_CHECKPOINT_GLOBALS
from daspm.utils.errors import TrainingStopped

SOURCE_ONLY_CONFIG = 'configs/daspm/synthetic_source_only_segformer_mitb0.py'
NAN_TILE = 5  # the toy dataset's sample whose input is NaN


class NotAllowed:
    """An arbitrary class: safe loading must refuse to unpickle it."""


class TinyRegression(BaseModel):
    """A real mmengine model whose loss parts are logged as tensors; a NaN input makes them NaN."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))[:, 0]
        if mode == 'loss':
            return dict(loss_main=(out ** 2).mean(), loss_aux=out.abs().mean() * 0.1)
        return out


def toy_runner(work_dir: Path, max_iters: int = 8) -> Runner:
    """Batches of one sample (tile_<i>.tif), read every 4 iterations (logger and checkpoint interval)."""
    dataset = [dict(inputs=torch.tensor([float('nan') if i == NAN_TILE else float(i), 1.0]),
                    data_samples=SegDataSample(metainfo=dict(img_path=f'/data/tile_{i}.tif'))) for i in range(8)]
    torch.manual_seed(0)
    return Runner(
        model=TinyRegression(), work_dir=str(work_dir), experiment_name=f'nan_{work_dir.name}',
        train_dataloader=dict(dataset=dataset, sampler=dict(type='InfiniteSampler', shuffle=False), batch_size=1,
                              num_workers=0, collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(runtime_info=dict(type='DeferredRuntimeInfoHook'),
                           logger=dict(type='LoggerHook', interval=4),
                           checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4)),
        log_processor=dict(by_epoch=False), randomness=dict(seed=0), default_scope='mmseg')


def test_a_loss_that_is_not_finite_stops_training_before_the_next_checkpoint(tmp_path):
    runner = toy_runner(tmp_path / 'run')
    with pytest.raises(TrainingStopped) as err:
        runner.train()
    # read (and found) at iteration 8, the checkpoint's; the message names iteration 6, its parts and file
    assert str(err.value) == (
        f'training stopped: iteration 6 gave a loss that is not finite (loss_main=nan, loss_aux=nan) on the '
        f'batch of tile_{NAN_TILE}.tif; {tmp_path / "run"} keeps the last checkpoint iter_4.pth and the logs, '
        'nothing later was saved; look for NaN or infinite pixels in those files, or lower the learning rate')
    assert sorted(p.name for p in (tmp_path / 'run').glob('*.pth')) == ['iter_4.pth']
    state = read_checkpoint(tmp_path / 'run' / 'iter_4.pth')['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())
    (log,) = (tmp_path / 'run').glob('*/*.log')
    assert 'training stopped: iteration 6' in log.read_text()  # the run's own log says why it ended


def test_a_real_mmengine_checkpoint_needs_exactly_the_allow_list(tmp_path):
    runner = toy_runner(tmp_path / 'run', max_iters=4)  # a clean run: no NaN sample reached
    runner.train()
    path = tmp_path / 'run' / 'iter_4.pth'
    try:
        torch.serialization.clear_safe_globals()  # what torch itself does not allow, ours included
        named = set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        assert 'builtins.getattr' in named  # HistoryBuffer pickles its statistics methods through getattr
        allowed = {f'{g.__module__}.{g.__qualname__}' for g in MMENGINE_CHECKPOINT_GLOBALS}
        assert named <= allowed
        # every entry is needed to load this checkpoint (the dtype classes are built, not named)
        for left_out in MMENGINE_CHECKPOINT_GLOBALS:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals([g for g in MMENGINE_CHECKPOINT_GLOBALS if g is not left_out])
            with pytest.raises(Exception, match='Weights only load failed'):
                torch.load(path, weights_only=True)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
    assert read_checkpoint(path)['meta']['iter'] == 4


def test_a_safe_loading_refusal_is_one_complete_line_naming_the_object(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=collections.OrderedDict(), extra=NotAllowed()), path)
    with pytest.raises(Exception) as err:
        read_checkpoint(path)
    assert str(err.value) == (
        f'checkpoint {path} holds a pickled test_run_safety.NotAllowed, which safe loading refuses (a checkpoint '
        'of weights holds tensors, numbers, strings and mmengine log buffers); if you trust its source, re-save '
        'only its state_dict (torch.save(ckpt["state_dict"], path)) and load that')
    int_array = tmp_path / 'int_array.pth'  # a numpy type no checkpoint of this project holds
    torch.save(dict(state_dict={}, meta=dict(palette=np.zeros((2, 3), dtype=np.int32))), int_array)
    with pytest.raises(Exception, match=r'holds a pickled numpy\.dtypes\.Int32DType, which safe loading refuses'):
        read_checkpoint(int_array)


# ----------------------------------------------------------------- the training command, end to end
@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    data = tmp_path_factory.mktemp('safety') / 'synthetic'
    generate_dataset(data, seed=1, tile_size=80, num_source=4, num_target=4, progress=False)
    convert_dataset(data / 'gaofen', data / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(data / 'sentinel', data / 'sentinel_converted', dataset='sentinel10m', progress=False)
    return data


def _options(data: Path) -> list[str]:
    options = [f'train_dataloader.dataset.data_root={data}/gaofen_converted',
               f'val_dataloader.dataset.data_root={data}/sentinel_converted',
               'train_dataloader.batch_size=2', 'train_cfg.max_iters=4', 'train_cfg.val_interval=100',
               'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']
    for loader in ('train', 'val'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return options


def _error_line(result) -> str:
    """The one line a command that exited with status 2 printed (no traceback)."""
    assert result.code == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith('error: ') and result.stderr.count('error: ') == 1
    return lines[-1]


@pytest.fixture(scope='module')
def trained_run(tiny_data, tmp_path_factory) -> Path:
    """A source-only run of 4 iterations with checkpoints iter_2.pth and iter_4.pth."""
    work_root = tmp_path_factory.mktemp('runs')
    result = call_cli_ok(cli_train.main, ['--config', str(REPO / SOURCE_ONLY_CONFIG), '--work-root', str(work_root),
                                          '--cfg-options', *_options(tiny_data)])
    (run_dir,) = result.value
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def test_a_nan_input_stops_the_run_in_one_line_and_keeps_its_directory(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    # a zero std turns every normalised pixel into NaN or inf, as a NaN input would
    result = call_cli(cli_train.main, ['--config', SOURCE_ONLY_CONFIG, '--work-root', str(tmp_path), '--cfg-options',
                                       *_options(tiny_data), 'model.data_preprocessor.std=[0,0,0]'])
    line = _error_line(result)
    assert line.startswith('error: training stopped: iteration 1 gave a loss that is not finite (decode.loss_ce=nan) '
                           'on the batch of gf_000')
    assert 'keeps no checkpoint (none was due yet) and the logs' in line
    (run_dir,) = (tmp_path / 'local-basic').iterdir()  # kept: its log says what happened
    assert not list(run_dir.glob('*.pth')) and 'removed' not in result.stderr
    (log,) = run_dir.glob('*/*.log')
    assert 'training stopped: iteration 1' in log.read_text()


def test_a_failed_new_run_whose_logs_hold_iterations_is_kept(tmp_path):
    new_dirs = cli_train.NewRunDirs()
    trained = new_dirs.make(tmp_path / 'work_dirs' / 'exp', 'trained')
    (trained / '20261207_000000' / 'vis_data').mkdir(parents=True)
    (trained / '20261207_000000' / 'vis_data' / 'scalars.json').write_text(json.dumps({'iter': 1, 'loss': 1.0}))
    started = new_dirs.make(tmp_path / 'work_dirs' / 'exp', 'started')
    (started / '20261207_000000' / 'vis_data').mkdir(parents=True)
    (started / '20261207_000000' / 'vis_data' / 'scalars.json').write_text('')  # the runner made it: no iteration
    assert new_dirs.remove_unfinished() == [started]
    assert trained.is_dir()


def test_resume_skips_an_unreadable_newest_checkpoint_and_keeps_config_py(trained_run, tmp_path):
    run_dir = _copy(trained_run, tmp_path)
    config = (run_dir / 'config.py').read_bytes()
    newest = run_dir / 'iter_4.pth'
    newest.write_bytes(newest.read_bytes()[:50_000])  # a copy that did not finish
    result = call_cli_ok(cli_train.main, ['--resume', str(run_dir), '--cfg-options', 'train_cfg.max_iters=6'])
    warning = [line for line in result.stderr.splitlines() if line.startswith('warning: ')]
    assert warning == ['warning: resuming from iter_2.pth, the newest checkpoint that can be read; skipped '
                       'iter_4.pth (its zip archive is incomplete)']
    resumed_log = sorted(run_dir.glob('*/*.log'))[-1].read_text().lower()
    assert 'resumed epoch: 0, iter: 2' in resumed_log
    assert (run_dir / 'config.py').read_bytes() == config  # the run's config stays as it was written
    assert read_checkpoint(run_dir / 'iter_6.pth')['meta']['iter'] == 6


def test_resume_without_a_checkpoint_is_refused_in_one_line(trained_run, tmp_path):
    run_dir = tmp_path / 'never_saved'
    run_dir.mkdir()
    shutil.copy(trained_run / 'config.py', run_dir / 'config.py')
    line = _error_line(call_cli(cli_train.main, ['--resume', str(run_dir)]))
    assert line == (f'error: {run_dir} holds no checkpoint (iter_N.pth) to resume from: the run stopped before its '
                    'first save; train its config.py anew with daspm-train --config')
    assert sorted(p.name for p in run_dir.iterdir()) == ['.training.lock', 'config.py']


def _refused_checkpoint(path: Path) -> Path:
    torch.save(dict(state_dict=collections.OrderedDict(), meta=dict(extra=NotAllowed())), path)
    return path


REFUSED = 'holds a pickled test_run_safety.NotAllowed, which safe loading refuses'


def test_a_refused_checkpoint_through_resume_load_from_or_init_cfg_is_one_line(trained_run, tmp_path, monkeypatch):
    run_dir = _copy(trained_run, tmp_path)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != '.training.lock'}
    newest = _refused_checkpoint(run_dir / 'iter_6.pth')
    (run_dir / 'last_checkpoint').write_text(str(newest))
    line = _error_line(call_cli(cli_train.main, ['--resume', str(run_dir)]))
    assert line.startswith(f'error: checkpoint {newest} {REFUSED}')
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name not in ('.training.lock',
                                                                                                  'iter_6.pth')}
    assert after == {**before, 'last_checkpoint': str(newest).encode()}  # nothing else written
    assert 'weights_only' not in line and 'add_safe_globals' not in line  # no advice to switch safe loading off

    monkeypatch.chdir(REPO)
    refused = _refused_checkpoint(tmp_path / 'refused.pth')
    warm_start = tmp_path / 'warm_start.py'
    warm_start.write_text(f"_base_ = ['{REPO / SOURCE_ONLY_CONFIG}']\n"
                          f"model = dict(init_cfg=dict(type='Pretrained', checkpoint='{refused}'))\n")
    for config, options in ((SOURCE_ONLY_CONFIG, ['--cfg-options', f'load_from={refused}']), (warm_start, [])):
        work_root = tmp_path / 'new_runs'
        line = _error_line(call_cli(cli_train.main, ['--config', str(config), '--work-root', str(work_root),
                                                     *options]))
        assert line.startswith(f'error: checkpoint {refused} {REFUSED}'), config
        assert not work_root.exists()  # refused before a run directory was made

    # daspm-test and the demo give the same line
    line = _error_line(call_cli(cli_test.main, [str(trained_run / 'config.py'), str(refused)]))
    assert line.startswith(f'error: checkpoint {refused} {REFUSED}')
    demo = [str(REPO / 'demo' / 'demo.tif'), str(trained_run / 'config.py'), str(refused), '--device', 'cpu',
            '--out-dir', str(tmp_path / 'demo')]
    line = _error_line(call_cli(cli_image_demo.main, demo))
    assert line.startswith(f'error: checkpoint {refused} {REFUSED}')
    assert line.endswith('re-save only its state_dict (torch.save(ckpt["state_dict"], path)) and load that')


def test_mmseg_style_resume_skips_an_unreadable_newest_checkpoint_and_says_when_there_is_none(tmp_path, capsys):
    """tools/train.py --resume: the newest readable checkpoint, the skipped one named; none yet: one note."""
    from daspm.cli import mmseg_train
    config = str(REPO / 'configs/daspm/synthetic_source_only_segformer_mitb0.py')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    cfg = mmseg_train.prepare_config(mmseg_train.parse_args([config, '--work-dir', str(work_dir), '--resume']))
    assert cfg.resume is True and cfg.get('load_from') is None       # mmseg's --resume on a new work dir
    assert 'holds no checkpoint yet' in capsys.readouterr().err
    torch.save({'meta': {'iter': 2}, 'state_dict': {}, 'optimizer': {}}, work_dir / 'iter_2.pth')
    intact = (work_dir / 'iter_2.pth').read_bytes()
    (work_dir / 'iter_4.pth').write_bytes(intact[:len(intact) // 2])   # cut off while saving
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_4.pth'))
    cfg = mmseg_train.prepare_config(mmseg_train.parse_args([config, '--work-dir', str(work_dir), '--resume']))
    assert cfg.resume is True and cfg.load_from == str(work_dir / 'iter_2.pth')
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('warning: resuming from iter_2.pth') and 'iter_4.pth' in err[0]


def test_a_resume_that_fails_while_loading_leaves_provenance_and_config_as_they_were(trained_run, tmp_path):
    """Weights without meta/optimizer are skipped by name; an optimizer state that does not fit the
    config fails while loading: one line, and provenance.json and config.py stay byte for byte."""
    run_dir = _copy(trained_run, tmp_path)
    before = {name: (run_dir / name).read_bytes() for name in ('provenance.json', 'config.py')}
    ckpt = read_checkpoint(run_dir / 'iter_4.pth')
    torch.save({'state_dict': ckpt['state_dict']}, run_dir / 'iter_8.pth')      # weights only
    ckpt['optimizer'] = {'state': {}, 'param_groups': []}                         # another optimizer's
    torch.save(ckpt, run_dir / 'iter_6.pth')
    (run_dir / 'last_checkpoint').write_text(str(run_dir / 'iter_8.pth'))
    result = call_cli(cli_train.main, ['--resume', str(run_dir)])
    warning = [line for line in result.stderr.splitlines() if line.startswith('warning: ')]
    assert warning == ['warning: resuming from iter_6.pth, the newest checkpoint that can be read; skipped '
                       'iter_8.pth (holds no meta, optimizer to resume from)']
    line = _error_line(result)
    assert line.startswith(f'error: {run_dir}: resuming from iter_6.pth failed while loading it (')
    assert {name: (run_dir / name).read_bytes() for name in before} == before
    # a start that does load is recorded: one more entry
    for name in ('iter_8.pth', 'iter_6.pth', 'last_checkpoint'):
        (run_dir / name).unlink()
    call_cli_ok(cli_train.main, ['--resume', str(run_dir), '--cfg-options', 'train_cfg.max_iters=6'])
    entries = json.loads((run_dir / 'provenance.json').read_text())
    assert len(entries) == len(json.loads(before['provenance.json'])) + 1
