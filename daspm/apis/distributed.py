"""Distributed training from the command line: launchers, the backend, the process group, torchrun.

The training commands start one process per GPU through mmengine's launchers (``--launcher
pytorch`` under torchrun, ``--launcher slurm`` under srun). On a machine without CUDA the same
commands run with the gloo backend on CPU processes, which is how the tests exercise them.
"""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
from typing import Any, Sequence

from mmengine.config import Config

from ..utils.errors import DaspmInputError

# torch and mmengine.dist are imported inside the functions: the commands import this module
# before parsing their arguments, and importing torch takes seconds (--help stays quick).

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
#: the model wrapper of distributed UDA runs (daspm.engine.model_wrappers), set by configs/_base_/uda/dacs.py
UDA_WRAPPER = 'UDADistributedDataParallel'
#: environment variables each launcher provides to every process
LAUNCHER_ENV = {'pytorch': ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'),
                'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
                'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'MASTER_ADDR')}


def configure_distributed(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` and, on a machine without CUDA, what a CPU run needs instead of the GPU defaults.

    Without CUDA: the gloo backend instead of nccl (``env_cfg.dist_cfg.backend``); the DASPM
    wrapper for models that would get mmengine's DDP wrapper, which passes a GPU id that torch
    refuses for CPU modules; and ``sync_bn`` is refused (torch's SyncBatchNorm runs on GPUs only).
    """
    import torch

    if launcher not in LAUNCHERS:
        raise DaspmInputError(f'--launcher {launcher!r}: choose one of {", ".join(LAUNCHERS)}')
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None or wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        cfg.model_wrapper_cfg = dict(type=UDA_WRAPPER)
    if cfg.get('sync_bn'):
        raise DaspmInputError(f"sync_bn={cfg.sync_bn!r} needs GPUs (torch's SyncBatchNorm runs on CUDA only) and this "
                              'machine has none: drop sync_bn for a CPU run (--cfg-options sync_bn=None)')


def init_distributed(launcher: str, cfg: Config) -> tuple[int, int]:
    """Initialise the default process group for ``launcher`` (once per process); return (rank, world size).

    The group's settings are ``cfg``'s ``env_cfg.dist_cfg`` (backend, timeout in seconds). With CUDA,
    mmengine's ``init_dist`` (it also selects this process's GPU); without, a gloo group from the
    launcher's environment (mmengine's would call ``torch.cuda.set_device``, and nccl needs GPUs).
    The runner then finds the group initialised and uses it.
    """
    import torch
    from mmengine.dist import get_dist_info, init_dist, is_distributed

    if launcher == 'none' or is_distributed():
        return get_dist_info()
    missing = [name for name in LAUNCHER_ENV[launcher] if name not in os.environ]
    if missing:
        raise DaspmInputError(
            f'--launcher {launcher} expects the environment its launcher sets, but {", ".join(missing)} '
            'is missing: start with tools/dist_train.sh CONFIG N, torchrun --nproc-per-node N ... --launcher pytorch, '
            'run_experiments.py --gpus N, or srun ... --launcher slurm')
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    if torch.cuda.is_available():
        init_dist(launcher, **dist_cfg)
    else:
        if dist_cfg.get('backend', 'nccl') == 'nccl':
            dist_cfg['backend'] = 'gloo'
        _init_gloo(launcher, dist_cfg)
    return get_dist_info()


def _init_gloo(launcher: str, dist_cfg: dict[str, Any]) -> None:
    """The process group from a launcher's environment, without touching CUDA."""
    import torch

    env = os.environ
    if launcher == 'slurm':
        env.setdefault('MASTER_ADDR', _first_slurm_host(env['SLURM_NODELIST']))
        env.setdefault('MASTER_PORT', '29500')
        env['WORLD_SIZE'], env['RANK'] = env['SLURM_NTASKS'], env['SLURM_PROCID']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
    elif launcher == 'mpi':
        env.setdefault('MASTER_PORT', '29500')
        env['WORLD_SIZE'], env['RANK'] = env['OMPI_COMM_WORLD_SIZE'], env['OMPI_COMM_WORLD_RANK']
        env['LOCAL_RANK'] = env.get('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    options = dict(dist_cfg)
    backend = options.pop('backend', 'gloo')
    if options.get('timeout') is not None:  # seconds in configs, as mmengine reads it
        options['timeout'] = datetime.timedelta(seconds=options['timeout'])
    torch.distributed.init_process_group(backend=backend, **options)


def _first_slurm_host(node_list: str) -> str:
    """The first host of a SLURM node list (``scontrol show hostnames``)."""
    try:
        out = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise DaspmInputError(f'--launcher slurm: cannot resolve SLURM_NODELIST={node_list!r} with scontrol '
                              f'({err}); set MASTER_ADDR') from err
    return out.split()[0]


def is_main_process() -> bool:
    """Rank 0, or a process of its own."""
    from mmengine.dist import get_dist_info

    return get_dist_info()[0] == 0


def close_distributed(launcher: str) -> None:
    """After a command's work under ``launcher``: wait for every process, then destroy the process group.

    A process that exits with its gloo group alive can abort at interpreter exit ("terminate
    called without an active exception", SIGABRT) while gloo's threads still hold work: torchrun
    then reports the finished run as failed (pytorch/pytorch#190489). Collecting garbage first frees
    the finished runner's model: a torch DDP wrapper left for the interpreter's exit aborts the
    same way. The barrier keeps a process from tearing down its connections while another is
    still in a last collective. Without a launcher nothing is done: a group the caller made
    itself (a notebook) is the caller's.
    """
    import gc

    import torch

    if launcher == 'none' or not torch.distributed.is_initialized():
        return
    gc.collect()  # the runner and its wrapped model hold reference cycles
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def shared_value(value: Any) -> Any:
    """Rank 0's ``value`` on every process (e.g. a run name holding a time and a random id)."""
    from mmengine.dist import broadcast_object_list, is_distributed

    if not is_distributed():
        return value
    box = [value]
    broadcast_object_list(box, src=0)
    return box[0]


def torchrun_command(nproc: int, module: str, args: Sequence[str]) -> list[str]:
    """``python -m torch.distributed.run`` starting ``nproc`` processes of ``python -m module args --launcher pytorch``.

    ``--standalone``: one machine, a free port chosen by torchrun (several runs can share a machine).
    """
    return [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc-per-node={int(nproc)}',
            '-m', module, *args, '--launcher', 'pytorch']
