"""Distributed (data-parallel) training on CPU processes with gloo: the gradient average of the DACS
student, identical teachers on every process, per-process sampling, SyncBN on the student only,
the launchers of the training commands, and a 2-process run that resumes in one process and is
evaluated by 2 processes as by one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO
from dacs_helpers import make_batch
from daspm.apis.distributed import close_distributed, configure_distributed, torchrun_command
from daspm.cli import test as cli_test
from daspm.cli import train as cli_train
from daspm.convert.pipeline import convert_dataset
from daspm.engine.optimizers.merged_param_groups import wants_fused
from daspm.synthetic import generate_dataset
from distributed_helpers import build_exact_dacs, capture_step_gradients, ddp_worker, run_processes, train_iteration

CONFIG = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory) -> Path:
    """Generated and converted synthetic data of 80 x 80 tiles (as test_end_to_end.py makes it)."""
    data = tmp_path_factory.mktemp('dist') / 'synthetic'
    generate_dataset(data, seed=1, tile_size=80, num_source=6, num_target=6, progress=False)
    convert_dataset(data / 'gaofen', data / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(data / 'sentinel', data / 'sentinel_converted', dataset='sentinel10m', progress=False)
    return data


@pytest.fixture(scope='module')
def two_processes(tiny_data, tmp_path_factory) -> list[dict]:
    """What each of 2 gloo processes saw (distributed_helpers.ddp_worker)."""
    return run_processes(ddp_worker, 2, tmp_path_factory.mktemp('ddp'), str(tiny_data))


def test_synchronised_gradient_equals_the_single_process_gradient_of_the_global_batch(two_processes):
    # 1 process x 2 samples, in this process, from the same start and data (see build_exact_dacs)
    _, model, optim_wrapper = build_exact_dacs()
    grads = capture_step_gradients(optim_wrapper, list(model.model.parameters()))
    log = train_iteration(model, optim_wrapper, make_batch(2), 1)
    (reference,) = grads
    rank0, rank1 = (r['grads'] for r in two_processes)
    # the setup exercises every part: FD, confident and unconfident target pixels, MIC
    assert log['src.loss_imnet_feat_dist'] > 0 and 0.05 < float(log['pseudo_weight']) < 0.95
    assert 'masked.decode.loss_ce' in log
    assert sum(float(g.abs().sum()) for g in reference) > 0
    for i, (a, b, expected) in enumerate(zip(rank0, rank1, reference)):
        assert torch.equal(a, b), f'parameter {i}: the processes step with different gradients'
        # the same sums in another order (per-process means, then their average): float32 rounding,
        # about 1e-6 of each parameter's gradient here; a sum instead of the mean would be 1.0
        assert float((a - expected).norm()) <= 1e-4 * float(expected.norm()) + 1e-12, f'parameter {i}'


def test_gradients_are_averaged_once_per_optimizer_step(two_processes):
    for result in two_processes:
        # four backward passes (source, FD, mixed, MIC), one average: one all-reduce per bucket
        assert result['syncs'] == 1 and result['buckets'] > 1
        assert result['all_reduce_calls'] == result['buckets']
        # gradient accumulation over 2 iterations: nothing after the first, one average after the second
        assert result['accumulated_all_reduce_calls'] == [0, result['buckets']]


def test_teachers_and_students_are_identical_on_every_process(two_processes):
    rank0, rank1 = two_processes
    for part in ('student', 'teacher'):
        for name, value in rank0[part].items():
            if name.endswith(('running_mean', 'running_var', 'num_batches_tracked')):
                continue  # buffers follow each process's own batches (none here: GroupNorm)
            assert torch.equal(value, rank1[part][name]), f'{part}.{name}'
    # and the processes did train on different data
    assert rank0['log'] != rank1['log']


def test_dacs_refuses_to_train_unwrapped_in_a_process_group(two_processes):
    for result in two_processes:
        assert 'UDADistributedDataParallel' in result['unwrapped_error']


def test_each_process_mixes_and_samples_with_its_own_reproducible_seed(two_processes):
    rank0, rank1 = two_processes
    assert rank0['generator_seed'] == 0  # rank 0 keeps the configured seed (a single process's draws)
    assert rank1['generator_seed'] != rank0['generator_seed']
    for result in two_processes:
        first, again = result['rcs_draws']
        assert first == again  # reproducible: a new dataset in the same process draws the same
    assert rank0['rcs_draws'][0] != rank1['rcs_draws'][0]  # rare classes, sources and targets differ
    assert [d[2] for d in rank0['rcs_draws'][0]] != [d[2] for d in rank1['rcs_draws'][0]]


def test_sync_bn_applies_to_the_student_only(two_processes):
    for result in two_processes:
        assert result['sync_bn']['model'] == result['batch_norms']['model'] > 0
        assert result['sync_bn']['ema_model'] == result['sync_bn']['imnet_model'] == 0
        assert result['batch_norms']['ema_model'] == result['batch_norms']['model']


# ------------------------------------------------------------------ launchers and the CLI
def _data_options(data: Path) -> list[str]:
    """A tiny 2-iteration run on the test data (batch 1 per process)."""
    options = [f'train_dataloader.dataset.source.data_root={data}/gaofen_converted',
               f'train_dataloader.dataset.target.data_root={data}/sentinel_converted',
               'train_dataloader.dataset.rare_class_sampling.min_pixels=100',
               f'val_dataloader.dataset.data_root={data}/sentinel_converted',
               f'test_dataloader.dataset.data_root={data}/sentinel_converted',
               'train_dataloader.batch_size=1', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return options


def _run_in_own_group(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command in a new process group; on timeout kill that group (torchrun and its workers)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f'{args} ran past {timeout} s:\n{out[-3000:]}')
    return subprocess.CompletedProcess(args, proc.returncode, out, '')


def test_two_processes_train_check_their_teachers_and_resume_in_one(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    config = tmp_path / 'dist_synthetic.py'
    # the synthetic UDA config with a check of the students and teachers across processes at every iteration
    config.write_text(f"_base_ = [{str(REPO / CONFIG)!r}]\n"
                      "custom_hooks = [dict(type='RankConsistencyHook', interval=1)]\n")
    work_root = tmp_path / 'work_dirs'
    proc = _run_in_own_group([sys.executable, 'run_experiments.py', '--gpus', '2', '--config', str(config),
                              '--work-root', str(work_root), '--exp-name', 'dist', '--cfg-options',
                              *_data_options(tiny_data)])
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'torch.distributed.run --standalone --nproc-per-node=2' in proc.stdout
    (run_dir,) = (work_root / 'dist').iterdir()  # one run directory, named by rank 0
    log = next(run_dir.glob('*/*.log')).read_text()
    for iteration in (1, 2):
        assert f'iteration {iteration}: student and teacher parameters identical on 2 processes' in log
    assert 'Iter(val)' in log and 'mIoU' in log  # evaluation gathered from both processes
    assert {p.name for p in run_dir.glob('iter_*.pth')} == {'iter_2.pth'}
    assert len(json.loads((run_dir / 'provenance.json').read_text())) == 1  # written by rank 0 only
    resolved = (run_dir / 'config.py').read_text()
    assert "backend='nccl'" in resolved and 'launcher' not in resolved  # as the files say; a resume may differ

    # the 2-process checkpoint resumes in a single process
    call_cli_ok(cli_train.main, ['--resume', str(run_dir), '--cfg-options', 'train_cfg.max_iters=3',
                                 'train_cfg.val_interval=100'])
    assert (run_dir / 'iter_3.pth').is_file()
    resumed = sorted(run_dir.glob('*/*.log'))[-1].read_text()
    assert 'resumed epoch: 0, iter: 2' in resumed.lower()
    state = torch.load(run_dir / 'iter_3.pth', map_location='cpu', weights_only=True)['state_dict']
    assert {k.split('.')[0] for k in state} == {'model', 'ema_model', 'imnet_model'}  # no wrapper prefix

    # evaluated by 2 processes (the test set split between them): rank 0 alone reports, the same metrics
    single = call_cli_ok(cli_test.main, [str(run_dir), '--metrics-json', str(tmp_path / 'one.json')]).value
    proc = _run_in_own_group([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2',
                              'tools/test.py', str(run_dir), '--launcher', 'pytorch',
                              '--metrics-json', str(tmp_path / 'two.json')])
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert proc.stdout.count('metrics written to') == 1
    two = json.loads((tmp_path / 'two.json').read_text())
    assert two['iteration'] == 3 and two['metrics'].keys() == single['metrics'].keys()
    for name, value in single['metrics'].items():
        assert two['metrics'][name] == pytest.approx(value, abs=1e-6, nan_ok=True), name


def test_dist_train_sh_starts_torchrun_with_the_pytorch_launcher(tmp_path):
    fake_python = tmp_path / 'python'
    fake_python.write_text('#!/bin/sh\necho "$@"\n')
    fake_python.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake_python))
    env.pop('PORT', None)
    out = subprocess.run(['sh', 'tools/dist_train.sh', CONFIG, '4', '--work-dir', 'w'], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=4', 'tools/train.py', CONFIG,
                   '--launcher', 'pytorch', '--work-dir', 'w']
    env.update(NNODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1', PORT='29501')
    out = subprocess.run(['sh', 'tools/dist_train.sh', CONFIG, '4'], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[2:6] == ['--nnodes=2', '--node-rank=1', '--master-addr=10.0.0.1', '--master-port=29501']
    usage = subprocess.run(['sh', 'tools/dist_train.sh', CONFIG], cwd=REPO, capture_output=True, text=True)
    assert usage.returncode == 2 and 'usage:' in usage.stderr


def test_gpus_runs_the_command_under_torchrun():
    command = torchrun_command(2, 'daspm.cli.train', ['--config', CONFIG])
    assert command[:5] == [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2']
    assert command[5:] == ['-m', 'daspm.cli.train', '--config', CONFIG, '--launcher', 'pytorch']
    result = call_cli(cli_train.main, ['--config', CONFIG, '--gpus', '0'])
    assert result.code == 2 and '--gpus 0' in result.stderr
    result = call_cli(cli_train.main, ['--config', CONFIG, '--launcher', 'pytorch'])
    assert result.code == 2 and 'RANK' in result.stderr and 'tools/dist_train.sh' in result.stderr


def test_a_command_under_a_launcher_destroys_its_process_group_and_leaves_the_callers(tmp_path):
    # a process exiting with its gloo group alive can abort (SIGABRT) after finishing its work
    dist = torch.distributed
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    try:
        close_distributed('none')  # no launcher: the group is the caller's (a notebook's)
        assert dist.is_initialized()
        close_distributed('pytorch')
        assert not dist.is_initialized()
        close_distributed('pytorch')  # nothing left to close: no error
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_without_cuda_a_launcher_gets_gloo_and_the_cpu_wrapper(monkeypatch):
    from mmengine.config import Config

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl')), model=dict(type='EncoderDecoder')))
    configure_distributed(cfg, 'pytorch')
    assert cfg.launcher == 'pytorch' and cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'UDADistributedDataParallel'  # mmengine's DDP needs a GPU id
    single = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    configure_distributed(single, 'none')
    assert single.launcher == 'none' and single.env_cfg.dist_cfg.backend == 'nccl'
    with pytest.raises(Exception, match='sync_bn'):
        configure_distributed(Config(dict(sync_bn='torch')), 'pytorch')


def test_adamw_is_fused_on_the_gpu_only_and_unless_the_config_chooses():
    assert wants_fused({'type': 'AdamW', 'lr': 1e-3}, {'cuda'})
    assert not wants_fused({'type': 'AdamW'}, {'cpu'})  # CPU runs stay as configured
    assert not wants_fused({'type': 'AdamW'}, {'cuda', 'cpu'})
    assert not wants_fused({'type': 'AdamW', 'fused': False}, {'cuda'})
    assert not wants_fused({'type': 'AdamW', 'foreach': True}, {'cuda'})
    assert not wants_fused({'type': 'SGD'}, {'cuda'})
