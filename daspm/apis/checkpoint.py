"""Load a checkpoint into a model with safe unpickling and a clear report when it does not fit."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import torch
from mmengine.logging import print_log

from ..utils.checkpoint import (UnreadableCheckpoint, compare_state_dicts, key_examples, read_checkpoint,
                                strip_module_prefix)
from ..utils.errors import DaspmInputError
from .run_directory import checkpoints_newest_first

__all__ = ['state_dict_of', 'load_checkpoint_checked', 'load_state_checked',
           'resume_checkpoint', 'check_config_checkpoints']


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


#: what mmengine's resume reads from a checkpoint
RESUME_KEYS = ('meta', 'state_dict', 'optimizer')


def resume_checkpoint(run_dir: str | Path) -> tuple[Path, list[str]]:
    """The newest checkpoint of ``run_dir`` that loads, and the newer ones skipped (``name (why)``).

    Each is checked without reading its tensors (:func:`read_checkpoint` with ``mmap``); one that
    safe loading refuses is an error, not skipped: an older one would hide what the newer holds.
    """
    run_dir = Path(run_dir)
    candidates = checkpoints_newest_first(run_dir)
    if not candidates:
        raise DaspmInputError(f'{run_dir} holds no checkpoint (iter_N.pth) to resume from: the run stopped before '
                              'its first save; train its config.py anew with daspm-train --config')
    skipped = []
    for path in candidates:
        try:
            ckpt = read_checkpoint(path, mmap=True)
        except UnreadableCheckpoint as err:
            skipped.append(f'{path.name} ({err.reason})')
            continue
        missing = [key for key in RESUME_KEYS if key not in ckpt]
        if missing or 'iter' not in ckpt['meta']:
            # weights alone (a re-saved state_dict, a converted model): nothing to continue from
            skipped.append(f'{path.name} (holds no {", ".join(missing) or "meta.iter"} to resume from)')
            continue
        return path, skipped
    raise DaspmInputError(f'{run_dir}: none of its checkpoints can be resumed from ({"; ".join(skipped)}); train its '
                          'config.py anew with daspm-train --config')


def check_config_checkpoints(cfg: Any) -> None:
    """Check that the checkpoints a config loads (``load_from``, ``Pretrained`` init_cfg) load safely,
    before anything runs: mmengine would otherwise stop deep inside the runner with torch's message."""
    paths = [cfg.get('load_from')] + [init.get('checkpoint') for init in pretrained_inits(cfg.get('model'))]
    for path in paths:
        if path and '://' not in str(path):  # a URL is mmengine's to fetch
            read_checkpoint(path, mmap=True)


def pretrained_inits(node: Any) -> Iterator[dict]:
    """Every ``init_cfg`` of type ``Pretrained`` (mmengine's loader) in a model config."""
    if isinstance(node, dict):
        inits = node.get('init_cfg')
        for init in inits if isinstance(inits, list) else [inits]:
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                yield init
        for value in node.values():
            yield from pretrained_inits(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from pretrained_inits(value)
