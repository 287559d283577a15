"""Load a checkpoint into a model with safe unpickling and a clear report when it does not fit."""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

import torch
from mmengine.logging import print_log

from ..utils.compat import allow_mmengine_checkpoints
from ..utils.errors import DaspmInputError


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


def state_dict_of(ckpt: dict) -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint, without DistributedDataParallel's ``module.`` prefix."""
    state = ckpt.get('state_dict', ckpt)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def load_checkpoint_checked(model: torch.nn.Module, path: str | Path, config_hint: str = '') -> dict:
    """Load weights of ``path`` into ``model``; refuse missing keys or shape mismatches with one message."""
    return load_state_checked(model, read_checkpoint(path), path, config_hint)


def load_state_checked(model: torch.nn.Module, ckpt: dict, path: str | Path, config_hint: str = '') -> dict:
    """Load an already read checkpoint ``ckpt`` (from ``path``, named in errors) into ``model``."""
    state = state_dict_of(ckpt)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing key(s) (e.g. {", ".join(missing[:3])})')
        if mismatched:
            parts.append(f'{len(mismatched)} shape mismatch(es) (e.g. {"; ".join(mismatched[:3])})')
        hint = config_hint or 'the config the checkpoint was trained with (config.py in its run directory)'
        raise DaspmInputError(f'checkpoint {path} does not fit the model: {", ".join(parts)}; use {hint}')
    if unexpected:
        print_log(f'checkpoint {path}: ignoring {len(unexpected)} key(s) the model does not have '
                  f'(e.g. {", ".join(unexpected[:3])})', logger='current')
    model.load_state_dict(state, strict=False)
    meta = ckpt.get('meta', {})
    if 'dataset_meta' in meta:
        model.dataset_meta = meta['dataset_meta']
    return ckpt
