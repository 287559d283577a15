"""ImageNet weights from a local file for any encoder (e.g. ResNet-V1c), never downloaded at run time.

mmseg's usual ``pretrained='open-mmlab://resnet50_v1c'`` downloads the file when the model's
weights are initialised, which fails late and obscurely on a machine without network. The
``LocalPretrained`` initializer reads a file that ``tools/download_checkpoints.sh`` (or the user)
put in ``pretrained/`` and says how to get it when it is missing::

    backbone=dict(type='ResNetV1c', depth=50, ...,
                  init_cfg=dict(type='LocalPretrained', checkpoint='pretrained/resnet50_v1c.pth'))
"""
from __future__ import annotations

import logging
from pathlib import Path

from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import nn

from ...utils.checkpoint import compare_state_dicts, key_examples, read_checkpoint
from ...utils.errors import DaspmInputError
from .mit_weights import REPO_ROOT, unwrap_state_dict

# What a downloadable file is called in tools/download_checkpoints.sh (its argument).
_DOWNLOADABLE = ('resnet18_v1c', 'resnet50_v1c', 'resnet101_v1c')


def local_pretrained_path(checkpoint: str | Path) -> Path:
    """The local weight file: as given (relative to the working directory), else relative to the repo."""
    text = str(checkpoint)
    if '://' in text:
        raise DaspmInputError(
            f'{text}: LocalPretrained reads local files only (nothing is downloaded at run time); '
            'fetch the file once with `sh tools/download_checkpoints.sh <name>` and give its path, '
            'e.g. pretrained/resnet50_v1c.pth')
    path = Path(checkpoint)
    if not path.is_file() and not path.is_absolute() and (REPO_ROOT / path).is_file():
        return REPO_ROOT / path
    if not path.is_file():
        name = path.stem
        how = f'run `sh tools/download_checkpoints.sh {name}` (needs network), or ' if name in _DOWNLOADABLE else ''
        raise DaspmInputError(
            f'{checkpoint} not found: {how}download {path.name} and put it in {path.parent.as_posix()}/; '
            'or set the backbone\'s init_cfg=None to train from scratch')
    return path


def load_local_weights(module: nn.Module, checkpoint: str | Path, prefix: str | None = None) -> dict[str, list[str]]:
    """Load encoder weights non-strictly into ``module``; shape mismatches or no shared key raise.

    ``prefix`` selects a sub-dict (default: ``backbone.`` when the file has such keys, as a whole
    segmentor checkpoint does). Returns the ``missing`` and ``unexpected`` key lists.
    """
    path = local_pretrained_path(checkpoint)
    state = unwrap_state_dict(read_checkpoint(path))
    if prefix is None:
        prefix = 'backbone.' if any(k.startswith('backbone.') for k in state) else ''
    state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    own = module.state_dict()
    missing, unexpected, mismatched = compare_state_dicts(state, own)
    if mismatched:
        raise DaspmInputError(
            f'{path}: {len(mismatched)} weight(s) do not fit {type(module).__name__} '
            f'(e.g. {key_examples(mismatched, sep="; ")}); use the file made for this encoder '
            '(e.g. resnet50_v1c.pth for ResNetV1c depth 50)')
    if len(missing) == len(own):
        raise DaspmInputError(
            f'{path} holds no {type(module).__name__} weights (its keys start like '
            f'{key_examples(sorted(state))}); give the ImageNet file of this encoder')
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    lines = [f'ImageNet weights from {path}: loaded {len(own) - len(missing)}/{len(own)} tensors']
    if missing:
        lines.append(f'{len(missing)} missing (kept their initial values): {key_examples(missing, 5)}')
    if unexpected:  # e.g. the ImageNet classifier fc.*
        lines.append(f'{len(unexpected)} unused: {key_examples(unexpected, 5)}')
    print_log('; '.join(lines), logger='current', level=logging.WARNING if missing else logging.INFO)
    return dict(missing=missing, unexpected=unexpected)


@WEIGHT_INITIALIZERS.register_module(name='LocalPretrained')
class LocalPretrained:
    """mmengine weight initializer: load ImageNet encoder weights from a local file (no URLs).

    Args:
        checkpoint: path of the weight file, e.g. ``pretrained/resnet50_v1c.pth``.
        prefix: take the keys under this prefix (default: ``backbone.`` if the file has such keys).
    """

    def __init__(self, checkpoint: str, prefix: str | None = None) -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix

    def __call__(self, module: nn.Module) -> None:
        """Load the weights into ``module`` (the encoder holding this init_cfg)."""
        load_local_weights(module, self.checkpoint, self.prefix)
        if hasattr(module, '_params_init_info'):  # mmengine's initialisation report
            update_init_info(module, init_info=f'LocalPretrained: load from {self.checkpoint}')
