"""mmengine's paramwise optimizer constructor with one parameter group per distinct setting.

``DefaultOptimWrapperConstructor`` gives every parameter its own group as soon as a
``paramwise_cfg`` is set (about 800 groups for MiT-B5 + DAFormer). AdamW then runs its
multi-tensor kernels once per group, which made the optimizer step about a third of a GPU
training iteration (MiT-B5, crop 512). Groups that share every option are merged here, so
the same learning rates and weight decays apply with a handful of groups.

mmengine also logs three lines per parameter and one warning per frozen parameter (about 400
for the DACS teacher and ImageNet model) before the first iteration; those per-parameter lines
are replaced by one summary line, so the warnings that tell a user something stay visible.

Adam and AdamW run fused (one kernel for the whole update instead of a Python loop or a few
multi-tensor kernels per group) when every trained parameter is on a GPU and the config does not
choose (``optimizer=dict(..., fused=False)`` or ``foreach=...`` does). On the CPU the optimizer
is left as configured, so CPU runs compute exactly what they did.
"""
from __future__ import annotations

import inspect
import logging
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

#: optimizers whose torch implementation has a fused kernel (``fused=True``)
FUSABLE_OPTIMIZERS = ('Adam', 'AdamW')


def wants_fused(optimizer_cfg: dict[str, Any], device_types: set[str]) -> bool:
    """Whether to build the optimizer with ``fused=True``: Adam(W), all trained parameters on CUDA, no choice made."""
    kind = optimizer_cfg.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    if name not in FUSABLE_OPTIMIZERS or 'fused' in optimizer_cfg or 'foreach' in optimizer_cfg:
        return False
    if device_types != {'cuda'}:
        return False
    return 'fused' in inspect.signature(getattr(torch.optim, name)).parameters


def merge_param_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge parameter groups whose options (everything but ``params``) are equal, keeping first-seen order."""
    merged: dict[tuple, dict[str, Any]] = {}
    for group in groups:
        options = {key: value for key, value in group.items() if key != 'params'}
        key = tuple(sorted(options.items()))
        if key not in merged:
            merged[key] = dict(options, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


class _PerParameterRecords(logging.Filter):
    """Drops mmengine's per-parameter optimizer records and counts the frozen parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.endswith('is skipped since its requires_grad=False'):
            self.frozen += 1
            return False
        return not message.startswith('paramwise_options -- ')


@contextmanager
def _quiet_per_parameter_logs() -> Iterator[_PerParameterRecords]:
    """Filter the per-parameter records of mmengine's constructor out of the current logger."""
    logger = MMLogger.get_current_instance()
    records = _PerParameterRecords()
    logger.addFilter(records)
    try:
        yield records
    finally:
        logger.removeFilter(records)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedParamGroupsConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` whose per-parameter groups are merged by equal options.

    Adam(W) is built fused when every trained parameter is on a GPU and the config leaves
    ``fused``/``foreach`` unset (see the module docstring).
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optim wrapper, with the fused Adam(W) kernel where it applies."""
        module = getattr(model, 'module', model)
        devices = {p.device.type for p in module.parameters() if p.requires_grad}
        configured = self.optimizer_cfg
        if wants_fused(configured, devices):
            self.optimizer_cfg = {**configured, 'fused': True}
            MMLogger.get_current_instance().info(
                f'optimizer: fused {configured["type"]} (every trained parameter is on the GPU; '
                'optimizer.fused=False in the config turns it off)')
        try:
            return super().__call__(model)
        finally:
            self.optimizer_cfg = configured

    def add_params(self, params: list[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: int | float | None = None) -> None:
        """Build the per-parameter groups as mmengine does, then merge them (top-level call only)."""
        if prefix != '':  # the recursion into child modules passes a non-empty prefix
            super().add_params(params, module, prefix, is_dcn_module)
            return
        start = len(params)
        with _quiet_per_parameter_logs() as records:
            super().add_params(params, module, prefix, is_dcn_module)
        groups = merge_param_groups(params[start:])
        params[start:] = groups
        trained = [g for g in groups if any(p.requires_grad for p in g['params'])]
        MMLogger.get_current_instance().info(
            f'optimizer: {len(trained)} parameter groups of trained parameters '
            f'({"; ".join(_describe(g) for g in trained)}); {records.frozen} frozen parameters '
            '(e.g. the EMA teacher and the ImageNet model) in one group without updates')


def _describe(group: dict[str, Any]) -> str:
    """'<n> tensors lr=.. weight_decay=..' for the summary line."""
    options = ' '.join(f'{k}={v:g}' for k, v in group.items() if k in ('lr', 'weight_decay'))
    return f'{len(group["params"])} tensors {options}'.rstrip()
