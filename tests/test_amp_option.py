"""``--amp fp16|bf16`` of the training commands: written into the run's config, refused clearly without a GPU."""
from __future__ import annotations

import pytest
import torch

from cli_helpers import call_cli
from conftest import REPO
from daspm.apis.amp import amp_config_options
from daspm.apis.config_loading import load_config
from daspm.cli import mmseg_train as cli_mmseg_train
from daspm.cli import train as cli_train

SOURCE_ONLY_CONFIG = str(REPO / 'configs/daspm/synthetic_source_only_segformer_mitb0.py')
UDA_CONFIG = str(REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py')


def test_options_of_each_choice():
    assert amp_config_options(None) == {}
    assert amp_config_options('fp16') == {'optim_wrapper.type': 'AmpOptimWrapper', 'optim_wrapper.dtype': 'float16',
                                          'optim_wrapper.loss_scale': 'dynamic'}
    # bf16: float32's range, no loss scaling
    assert amp_config_options('bf16') == {'optim_wrapper.type': 'AmpOptimWrapper', 'optim_wrapper.dtype': 'bfloat16',
                                          'optim_wrapper.loss_scale': dict(enabled=False)}
    cfg = load_config(UDA_CONFIG, amp_config_options('bf16'))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW', 'the rest of the optimizer wrapper is kept'


@pytest.mark.parametrize('amp, dtype, scale', [('bf16', 'bfloat16', {'enabled': False}), (None, 'float16', 'dynamic')])
def test_dry_run_writes_the_choice_into_every_runs_config(tmp_path, amp, dtype, scale):
    argv = ['--exp', '1', '--dry-run', '--work-root', str(tmp_path), '--amp'] + ([amp] if amp else [])
    result = call_cli(cli_train.main, argv, experiments_file=REPO / 'experiments.py')
    assert result.code == 0, result.stderr[-2000:]
    for run_dir in result.value:
        wrapper = load_config(run_dir / 'config.py').optim_wrapper
        assert (wrapper.type, wrapper.dtype, wrapper.loss_scale) == ('AmpOptimWrapper', dtype, scale), run_dir


def test_cfg_options_take_precedence_over_amp(tmp_path):
    argv = ['--exp', '1', '--dry-run', '--work-root', str(tmp_path), '--amp', 'bf16',
            '--cfg-options', 'optim_wrapper.loss_scale=dynamic']
    result = call_cli(cli_train.main, argv, experiments_file=REPO / 'experiments.py')
    assert result.code == 0, result.stderr[-2000:]
    assert load_config(result.value[0] / 'config.py').optim_wrapper.loss_scale == 'dynamic'


def test_mmseg_style_amp_before_the_config_still_means_fp16():
    args = cli_mmseg_train.parse_args(['--amp', SOURCE_ONLY_CONFIG, '--work-dir', 'w'])
    assert args.amp == 'fp16' and args.config == SOURCE_ONLY_CONFIG
    assert cli_mmseg_train.parse_args([SOURCE_ONLY_CONFIG, '--amp', 'bf16']).amp == 'bf16'
    assert cli_mmseg_train.parse_args([SOURCE_ONLY_CONFIG]).amp is None


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal on a machine without a GPU')
def test_amp_without_a_gpu_is_refused_before_a_run_directory_is_made(tmp_path):
    result = call_cli(cli_train.main, ['--config', UDA_CONFIG, '--amp', 'bf16', '--work-root', str(tmp_path)])
    assert result.code == 2
    assert 'mixed precision' in result.stderr and 'needs a GPU' in result.stderr and 'without --amp' in result.stderr
    assert not any(tmp_path.iterdir()), 'nothing is left behind'
    # several processes: refused once, before any is started
    result = call_cli(cli_train.main, ['--config', UDA_CONFIG, '--amp', '--gpus', '2', '--work-root', str(tmp_path)])
    assert result.code == 2 and 'needs a GPU' in result.stderr and 'starting 2 processes' not in result.stdout
    assert not any(tmp_path.iterdir())
    work_dir = tmp_path / 'mmseg_style'
    result = call_cli(cli_mmseg_train.main, [SOURCE_ONLY_CONFIG, '--amp', '--work-dir', str(work_dir)])
    assert result.code == 2 and 'needs a GPU' in result.stderr
    assert not work_dir.exists()
