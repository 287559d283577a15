"""Hook that checks, in distributed training, that every process holds the same student and teacher."""
from __future__ import annotations

import hashlib
from typing import Any

import torch
from mmengine.dist import all_gather_object, get_world_size, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import nn


def parameter_digest(module: nn.Module) -> str:
    """SHA-256 of the bytes of every parameter of ``module`` (names, shapes, dtypes and values)."""
    digest = hashlib.sha256()
    for name, param in module.named_parameters():
        data = param.detach().contiguous()
        digest.update(f'{name}:{tuple(data.shape)}:{data.dtype};'.encode())
        # the raw bytes, whatever the dtype (numpy has no bfloat16)
        digest.update(data.reshape(-1).view(torch.uint8).cpu().numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """Every ``interval`` iterations compare the trained and the teacher parameters across processes.

    The processes of a data-parallel run must hold bit-identical students (they start equal and
    take the same averaged steps) and so identical EMA teachers. A difference means a broken
    gradient average, a non-deterministic update or a model changed on one process only: the
    training stops with the names of the parts that differ instead of going on with diverging
    copies. Each process hashes its parameters on the host (SHA-256); only the hashes travel.
    Does nothing in a single process. Add it with
    ``custom_hooks = [..., dict(type='RankConsistencyHook', interval=1000)]``.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1000) -> None:
        self.interval = int(interval)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Compare the digests every ``interval`` iterations; raise when the processes differ."""
        if self.interval <= 0 or not self.every_n_train_iters(runner, self.interval):
            return
        if not is_distributed() or get_world_size() == 1:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        parts = {'student': model.model, 'teacher': model.ema_model} if hasattr(model, 'ema_model') \
            else {'model': model}
        local = {name: parameter_digest(part) for name, part in parts.items()}
        gathered: list[dict[str, str]] = all_gather_object(local)
        differing = [name for name in parts if len({d[name] for d in gathered}) > 1]
        iteration = runner.iter + 1
        if differing:
            raise RuntimeError(
                f'iteration {iteration}: the {" and ".join(differing)} parameters differ between the '
                f'{len(gathered)} processes (SHA-256 per rank: '
                f'{[d[differing[0]][:12] for d in gathered]}); data-parallel training needs identical copies')
        print_log(f'iteration {iteration}: {" and ".join(parts)} parameters identical on {len(gathered)} '
                  f'processes (sha256 {", ".join(f"{k} {v[:12]}" for k, v in local.items())})', logger='current')
