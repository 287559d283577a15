"""Load a checkpoint into a model with safe unpickling and a clear report when it does not fit."""
from __future__ import annotations

from pathlib import Path

import torch
from mmengine.logging import print_log

from ..utils.checkpoint import compare_state_dicts, key_examples, read_checkpoint, strip_module_prefix
from ..utils.errors import DaspmInputError

# read_checkpoint lives in daspm.utils.checkpoint (model weight loading needs it too); it stays
# importable from here, where tools/ and tests have always found it.
__all__ = ['read_checkpoint', 'state_dict_of', 'load_checkpoint_checked', 'load_state_checked']


def state_dict_of(ckpt: dict) -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint, without DistributedDataParallel's ``module.`` prefix."""
    return strip_module_prefix(ckpt.get('state_dict', ckpt))


def load_checkpoint_checked(model: torch.nn.Module, path: str | Path, config_hint: str = '') -> dict:
    """Load weights of ``path`` into ``model``; refuse missing keys or shape mismatches with one message."""
    return load_state_checked(model, read_checkpoint(path), path, config_hint)


def load_state_checked(model: torch.nn.Module, ckpt: dict, path: str | Path, config_hint: str = '') -> dict:
    """Load an already read checkpoint ``ckpt`` (from ``path``, named in errors) into ``model``."""
    state = state_dict_of(ckpt)
    missing, unexpected, mismatched = compare_state_dicts(state, model.state_dict())
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing key(s) (e.g. {key_examples(missing)})')
        if mismatched:
            parts.append(f'{len(mismatched)} shape mismatch(es) (e.g. {key_examples(mismatched, sep="; ")})')
        hint = config_hint or 'the config the checkpoint was trained with (config.py in its run directory)'
        raise DaspmInputError(f'checkpoint {path} does not fit the model: {", ".join(parts)}; use {hint}')
    if unexpected:
        print_log(f'checkpoint {path}: ignoring {len(unexpected)} key(s) the model does not have '
                  f'(e.g. {key_examples(unexpected)})', logger='current')
    model.load_state_dict(state, strict=False)
    meta = ckpt.get('meta', {})
    if 'dataset_meta' in meta:
        model.dataset_meta = meta['dataset_meta']
    return ckpt
