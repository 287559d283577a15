"""Mean-teacher (EMA) weight updates for DACS self-training.

The teacher's parameters follow the student's as an exponential moving average. Only
*parameters* are averaged: BatchNorm running statistics (buffers) are left untouched, as in the
reference DACS/DAFormer implementation (see METHOD.md, the project's method specification).
"""
from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor, nn

__all__ = ['TeacherEMA', 'ema_alpha', 'init_teacher', 'update_teacher']


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


class _UpdatePlan:
    """The pairs of one teacher/student couple sorted into what one EMA step does with them.

    ``groups``: per (device, dtype) of the teacher, lists for the ``_foreach`` kernels, which need
    homogeneous lists (hundreds of tiny kernel launches become a handful on big models);
    ``converted``: float pairs whose student tensor lives on another device or dtype (converted
    at each step); ``copied``: integer parameters, which cannot be averaged and are kept in sync.
    The lists hold the parameters themselves, so a plan stays valid while the modules keep them
    (``load_state_dict``, moving a module to another device or dtype).
    """

    def __init__(self, pairs: list[tuple[nn.Parameter, nn.Parameter]]) -> None:
        groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor]]]
        groups = defaultdict(lambda: ([], []))
        self.converted: list[tuple[Tensor, Tensor]] = []
        self.copied: list[tuple[Tensor, Tensor]] = []
        for tp, sp in pairs:
            if not tp.is_floating_point() and not tp.is_complex():
                self.copied.append((tp, sp))
            elif sp.device != tp.device or sp.dtype != tp.dtype:
                self.converted.append((tp, sp))
            else:
                ts, ss = groups[(tp.device, tp.dtype)]
                ts.append(tp)
                ss.append(sp)
        self.groups = list(groups.values())

    @torch.no_grad()
    def step(self, a: float) -> None:
        """``t = a*t + (1-a)*s`` for every float pair, ``t = s`` for integer ones."""
        for ts, ss in self.groups:
            # mul_ then add_ (rather than lerp_) gives exactly a*t + (1-a)*s as specified.
            torch._foreach_mul_(ts, a)
            torch._foreach_add_(ts, ss, alpha=1.0 - a)
        if self.converted:
            ts = [t for t, _ in self.converted]
            ss = [s.to(device=t.device, dtype=t.dtype) for t, s in self.converted]
            torch._foreach_mul_(ts, a)
            torch._foreach_add_(ts, ss, alpha=1.0 - a)
        for tp, sp in self.copied:
            tp.copy_(sp)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, iteration: int, alpha: float) -> None:
    """EMA step: iteration 0 copies the student; later ``t = a*t + (1-a)*s`` for every parameter."""
    if iteration == 0:
        init_teacher(teacher, student)
        return
    _UpdatePlan(_paired_params(teacher, student)).step(ema_alpha(iteration, alpha))


class TeacherEMA:
    """``update_teacher`` for one teacher/student couple, paired and grouped once instead of every step.

    Walking the modules, checking the shapes and grouping the parameters is Python work over every
    parameter (about a thousand for MiT-B5 + DAFormer) that gives the same answer at each
    iteration. The plan is made at the first averaging step and made again when the first
    parameter of either model has moved to another device or dtype (modules move as a whole).
    """

    def __init__(self, teacher: nn.Module, student: nn.Module) -> None:
        self.teacher = teacher
        self.student = student
        self._plan: _UpdatePlan | None = None
        self._layout: tuple | None = None

    def _current_plan(self) -> _UpdatePlan:
        t0 = next(self.teacher.parameters())
        s0 = next(self.student.parameters())
        layout = (t0.device, t0.dtype, s0.device, s0.dtype)
        if self._plan is None or layout != self._layout:
            self._plan = _UpdatePlan(_paired_params(self.teacher, self.student))
            self._layout = layout
        return self._plan

    @torch.no_grad()
    def update(self, iteration: int, alpha: float) -> None:
        """As :func:`update_teacher` (iteration 0: copy and freeze; later: the EMA step)."""
        if iteration == 0:
            init_teacher(self.teacher, self.student)
            return
        self._current_plan().step(ema_alpha(iteration, alpha))
