"""Checkpoint files and state dicts: safe reading, the DDP ``module.`` prefix, key comparison.

Shared by weight loading in ``models`` (MiT ImageNet weights, reference checkpoints) and by
the user-facing loaders in ``apis``, so it lives in the bottom layer.
"""
from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence, TypeVar

import torch

from .compat import allow_mmengine_checkpoints
from .errors import DaspmInputError

DDP_PREFIX = 'module.'  # what a DistributedDataParallel wrapper puts before every key

V = TypeVar('V')


def read_checkpoint(path: str | Path, trust_pickle: bool = False,
                    refusal_fix: str = 'load it in a trusted session and re-save only its state_dict') -> dict:
    """``torch.load`` with ``weights_only=True`` (mmengine types allow-listed); clear errors.

    ``trust_pickle`` falls back to full unpickling for files the user vouches for (old mmcv 1.x
    checkpoints pickle objects); ``refusal_fix`` is the advice given when safe loading refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise DaspmInputError(f'checkpoint {path} not found; train a model first or give the path of an iter_N.pth')
    allow_mmengine_checkpoints()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = next((line.strip() for line in str(err).splitlines() if 'Unsupported global' in line
                       or 'unrecognized function' in line), str(err).splitlines()[0])[:200]
        if not trust_pickle:
            raise DaspmInputError(
                f'checkpoint {path} holds objects that safe loading refuses ({reason}); {refusal_fix}') from None
        print(f'warning: loading {path} with full unpickling (trusted by the user): {reason}', file=sys.stderr)
        try:
            ckpt = torch.load(path, map_location='cpu', weights_only=False)
        except (ModuleNotFoundError, AttributeError) as err2:
            raise DaspmInputError(f'checkpoint {path} refers to code that is not installed ({err2}); load it '
                                  'where that code exists and re-save only its state_dict') from None
    except (RuntimeError, EOFError) as err:
        raise DaspmInputError(f'checkpoint {path} is not a readable torch file ({err}); it may be truncated') from None
    if not isinstance(ckpt, dict):
        raise DaspmInputError(f'checkpoint {path} is a {type(ckpt).__name__}, not a state dict')
    return ckpt


def strip_module_prefix(state: Mapping[str, V]) -> dict[str, V]:
    """Keys without DistributedDataParallel's ``module.`` prefix (other keys unchanged, order kept)."""
    return {k[len(DDP_PREFIX):] if k.startswith(DDP_PREFIX) else k: v for k, v in state.items()}


class StateDictDiff(NamedTuple):
    """How a state dict fits a model's own: keys it lacks, keys it adds, tensors of another shape."""

    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]  # 'key: checkpoint (shape) vs model (shape)'


def compare_state_dicts(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> StateDictDiff:
    """Compare loaded weights ``state`` with a model's ``own`` state dict, key by key in ``own``'s order."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    return StateDictDiff(missing, unexpected, mismatched)


def key_examples(keys: Sequence[str], limit: int = 3, sep: str = ', ') -> str:
    """The first ``limit`` keys joined by ``sep`` for a message, with how many more there are."""
    more = f'{sep}... (+{len(keys) - limit})' if len(keys) > limit else ''
    return sep.join(keys[:limit]) + more
