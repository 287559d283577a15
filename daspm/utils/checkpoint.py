"""Checkpoint files and state dicts: safe reading, the DDP ``module.`` prefix, key comparison.

Shared by weight loading in ``models`` (MiT ImageNet weights, reference checkpoints) and by
the user-facing loaders in ``apis``, so it lives in the bottom layer.
"""
from __future__ import annotations

import pickle
import re
import sys
import zipfile
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence, TypeVar

import torch

from .compat import allow_mmengine_checkpoints
from .errors import DaspmInputError

DDP_PREFIX = 'module.'  # what a DistributedDataParallel wrapper puts before every key

V = TypeVar('V')


class UnreadableCheckpoint(DaspmInputError):
    """A checkpoint file that cannot be read at all (truncated or damaged), as opposed to a refused one."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f'checkpoint {path} is not a readable torch file ({reason}); it may be truncated '
                         '(a copy or save that did not finish)')
        self.reason = reason


def read_checkpoint(path: str | Path, trust_pickle: bool = False,
                    refusal_fix: str = 'if you trust its source, re-save only its state_dict '
                                       '(torch.save(ckpt["state_dict"], path)) and load that', *,
                    mmap: bool = False) -> dict:
    """``torch.load`` with ``weights_only=True`` (mmengine types allow-listed); clear errors.

    ``trust_pickle`` falls back to full unpickling for files the user vouches for (old mmcv 1.x
    checkpoints pickle objects); ``refusal_fix`` is the advice given when safe loading refuses.
    ``mmap`` maps the tensors instead of reading them: a check that the file loads (safe
    unpickling of its structure, a complete zip archive) that costs little for a large file.
    """
    path = Path(path)
    if not path.is_file():
        raise DaspmInputError(f'checkpoint {path} not found; train a model first or give the path of an iter_N.pth')
    allow_mmengine_checkpoints()
    try:
        ckpt = safe_load(path, mmap)
    except pickle.UnpicklingError as err:
        refused = refused_object(err)
        if not trust_pickle:
            raise DaspmInputError(f'checkpoint {path} holds {refused}, which safe loading refuses (a checkpoint '
                                  f'of weights holds tensors, numbers, strings and mmengine log buffers); '
                                  f'{refusal_fix}') from None
        print(f'warning: loading {path} with full unpickling (trusted by the user): it holds {refused}',
              file=sys.stderr)
        try:
            ckpt = torch.load(path, map_location='cpu', weights_only=False)
        except (ModuleNotFoundError, AttributeError) as err2:
            raise DaspmInputError(f'checkpoint {path} refers to code that is not installed ({err2}); load it '
                                  'where that code exists and re-save only its state_dict') from None
    except (RuntimeError, EOFError, OSError) as err:
        # torch's zip reader answers some truncations with a bare OSError (Errno 22)
        first = 'its zip archive is incomplete' if isinstance(err, OSError) else (str(err) or type(err).__name__)
        raise UnreadableCheckpoint(path, first.splitlines()[0].split('. ')[0]) from None
    if not isinstance(ckpt, dict):
        raise DaspmInputError(f'checkpoint {path} is a {type(ckpt).__name__}, not a state dict')
    return ckpt


def safe_load(path: Path, mmap: bool) -> object:
    """``torch.load`` with ``weights_only=True``; with ``mmap`` the tensors are mapped, not read.

    torch maps only its zip format: an older file is read in full.
    """
    return torch.load(path, map_location='cpu', weights_only=True, mmap=mmap and zipfile.is_zipfile(path))


def refused_object(err: pickle.UnpicklingError) -> str:
    """What safe loading refused, from torch's message (its advice on turning safe loading off left out)."""
    text = str(err)
    match = (re.search(r'Unsupported global: GLOBAL (\S+) was not an allowed global', text)
             or re.search(r"but got <class '([^']+)'>", text)
             or re.search(r'Unsupported operand \d+', text))
    if match is None:
        return 'a pickled object'
    return f'a pickled {match.group(1)}' if match.groups() else f'pickled code ({match.group(0).lower()})'


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
