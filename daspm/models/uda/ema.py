"""Mean-teacher (EMA) weight updates for DACS self-training.

The teacher's parameters follow the student's as an exponential moving average. Only
*parameters* are averaged: BatchNorm running statistics (buffers) are left untouched, as in the
reference DACS/DAFormer implementation (see METHOD.md, the project's method specification).
"""
from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

__all__ = ['ema_alpha', 'init_teacher', 'update_teacher']


def ema_alpha(iteration: int, alpha: float) -> float:
    """EMA decay for ``iteration``: ``min(1 - 1/(iteration+1), alpha)`` (ramps up early on)."""
    return min(1.0 - 1.0 / (iteration + 1), alpha)


def _paired_params(teacher: nn.Module, student: nn.Module) -> list[tuple[nn.Parameter, nn.Parameter]]:
    """Pair the teacher's and student's parameters in registration order, checking shapes."""
    t_params = list(teacher.parameters())
    s_params = list(student.parameters())
    if len(t_params) != len(s_params):
        raise ValueError(f'teacher has {len(t_params)} parameters, student {len(s_params)}; '
                         'they must be built from the same architecture')
    for i, (tp, sp) in enumerate(zip(t_params, s_params)):
        if tp.shape != sp.shape:
            raise ValueError(f'parameter {i}: teacher shape {tuple(tp.shape)} != student shape '
                             f'{tuple(sp.shape)}')
    return list(zip(t_params, s_params))


@torch.no_grad()
def init_teacher(teacher: nn.Module, student: nn.Module) -> None:
    """Copy the student's parameters into the teacher and freeze the teacher's parameters."""
    for tp, sp in _paired_params(teacher, student):
        # copy_ converts device/dtype if the teacher lives elsewhere (e.g. fp32 teacher).
        tp.copy_(sp.detach())
        tp.requires_grad_(False)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, iteration: int, alpha: float) -> None:
    """EMA step: iteration 0 copies the student; later ``t = a*t + (1-a)*s`` for every parameter."""
    if iteration == 0:
        init_teacher(teacher, student)
        return
    a = ema_alpha(iteration, alpha)
    # _foreach kernels need homogeneous lists, so group by (device, dtype) of the teacher tensor;
    # this turns hundreds of tiny kernel launches into a handful on big models.
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[torch.Tensor], list[torch.Tensor]]]
    groups = defaultdict(lambda: ([], []))
    for tp, sp in _paired_params(teacher, student):
        t = tp.detach()
        s = sp.detach()
        if not t.is_floating_point() and not t.is_complex():
            # Integer parameters cannot be averaged meaningfully; keep them in sync instead.
            t.copy_(s)
            continue
        if s.device != t.device or s.dtype != t.dtype:
            s = s.to(device=t.device, dtype=t.dtype)
        ts, ss = groups[(t.device, t.dtype)]
        ts.append(t)
        ss.append(s)
    for ts, ss in groups.values():
        # mul_ then add_ (rather than lerp_) gives exactly a*t + (1-a)*s as specified.
        torch._foreach_mul_(ts, a)
        torch._foreach_add_(ts, ss, alpha=1.0 - a)
