"""``torch.compile`` for the forward passes of the UDA segmentors (a config switch, off by default).

The forward methods of each segmentor's backbone and decode head are replaced, on the instance,
by compiled versions. The modules themselves stay what they are: parameter names, state dicts,
checkpoints, the EMA update and the DDP wrapper see no difference. DACS calls the decode heads'
``forward`` directly (not through ``__call__``), which is why the methods and not the modules'
``__call__`` are compiled.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: torch.compile's own defaults, written out so the log and the tests can name them
DEFAULT_OPTIONS: dict[str, Any] = dict(backend='inductor', mode=None, dynamic=None, fullgraph=False)


def compile_options(cfg: bool | dict | None) -> dict[str, Any] | None:
    """The ``compile`` option of DACS as torch.compile keyword arguments (None: off).

    ``True`` takes torch's defaults (the inductor backend); a dict overrides some of them, e.g.
    ``dict(mode='max-autotune-no-cudagraphs')`` or ``dict(backend='eager')`` (traces, does not compile).
    """
    if cfg is None or cfg is False:
        return None
    if cfg is True:
        return dict(DEFAULT_OPTIONS)
    if not isinstance(cfg, dict):
        raise TypeError(f'model.compile must be True, False, None or a dict of torch.compile options, got {cfg!r}')
    unknown = sorted(set(cfg) - set(DEFAULT_OPTIONS) - {'options'})
    if unknown:
        raise ValueError(f'model.compile: unknown torch.compile option(s) {unknown}; '
                         f'known: {sorted(DEFAULT_OPTIONS) + ["options"]}')
    return {**DEFAULT_OPTIONS, **cfg}


def compile_forward(module: nn.Module, options: dict[str, Any]) -> None:
    """Replace ``module.forward`` by a compiled version of it (on this instance only)."""
    if is_compiled(module):
        return
    module.forward = torch.compile(module.forward, **options)


def is_compiled(module: nn.Module) -> bool:
    """Whether ``compile_forward`` replaced the module's forward."""
    return hasattr(module.__dict__.get('forward'), '_torchdynamo_orig_callable')


def compile_segmentor(segmentor: nn.Module, options: dict[str, Any]) -> None:
    """Compile the backbone's and the decode head's forward passes of an mmseg EncoderDecoder."""
    for name in ('backbone', 'neck', 'decode_head'):
        part = getattr(segmentor, name, None)
        if isinstance(part, nn.Module):
            compile_forward(part, options)
