"""Official SegFormer MiT ImageNet weights (``mit_b0.pth`` ... ``mit_b5.pth``) for mmseg's MixVisionTransformer.

The official files use the SegFormer repository's key layout; mmseg 1.x names the same tensors
differently and fuses query and key/value projections into one ``nn.MultiheadAttention``
in-projection. ``convert_mit_official`` maps one layout onto the other, and the ``MiTPretrained``
weight initializer lets a config load either layout:

    backbone=dict(type='MixVisionTransformer', ...,
                  init_cfg=dict(type='MiTPretrained', checkpoint='pretrained/mit_b5.pth'))
"""
from __future__ import annotations

import logging
import re
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import Tensor, nn

from ...utils.checkpoint import compare_state_dicts, key_examples, read_checkpoint, strip_module_prefix
from ...utils.errors import DaspmInputError

REPO_ROOT = Path(__file__).resolve().parents[3]

# Official top-level names: patch_embed{s}.*, block{s}.{j}.*, norm{s}.*, head.* (stages s = 1..4).
_OFFICIAL_KEY = re.compile(r'^(?:patch_embed(?P<pe>\d+)|block(?P<blk>\d+)\.(?P<j>\d+)|norm(?P<nm>\d+))\.(?P<rest>.+)$')
# Parts of a transformer block that only change name (official -> mmseg).
_BLOCK_RENAMES = {
    'attn.proj.': 'attn.attn.out_proj.',
    'mlp.fc1.': 'ffn.layers.0.',
    'mlp.dwconv.dwconv.': 'ffn.layers.1.',
    'mlp.fc2.': 'ffn.layers.4.',
}
# mmseg's MixFFN uses 1x1 convs where the official code uses nn.Linear: weights gain two unit dims.
_LINEAR_TO_CONV = ('mlp.fc1.weight', 'mlp.fc2.weight')


def is_official_mit_key(key: str) -> bool:
    """True for a key of the official SegFormer layout (including the ImageNet ``head.*``)."""
    return key.startswith('head.') or _OFFICIAL_KEY.match(key) is not None


def _convert_block_key(rest: str, value: Tensor, state: Mapping[str, Tensor], key: str) -> tuple[str, Tensor] | None:
    """mmseg name and tensor of one block entry; None for entries merged into another (attn.kv)."""
    if rest.startswith('attn.kv.'):
        return None  # concatenated after the query projection below
    if rest.startswith('attn.q.'):
        param = rest[len('attn.q.'):]
        kv_key = key[:-len(rest)] + f'attn.kv.{param}'
        if kv_key not in state:
            raise DaspmInputError(f'MiT weights: {key} has no matching {kv_key}; the file is not a complete '
                                  'SegFormer MiT checkpoint')
        # nn.MultiheadAttention's in-projection stacks [query; key; value]; the official kv is [key; value].
        return f'attn.attn.in_proj_{param}', torch.cat([value, state[kv_key]], dim=0)
    if rest in _LINEAR_TO_CONV and value.dim() == 2:
        value = value[:, :, None, None]
    for old, new in _BLOCK_RENAMES.items():
        if rest.startswith(old):
            return new + rest[len(old):], value
    return rest, value  # norm1, norm2, attn.sr, attn.norm keep their names


def convert_mit_official(state_dict: Mapping[str, Tensor]) -> OrderedDict:
    """Official SegFormer MiT keys -> mmseg 1.x ``MixVisionTransformer`` keys; drops ``head.*``.

    Keys already in mmseg layout (``layers.*``) and unknown keys pass through unchanged, so the
    function is idempotent and a loader can report anything it does not recognise.
    """
    out: OrderedDict = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.'):
            continue  # the ImageNet classifier has no counterpart in a segmentation encoder
        match = _OFFICIAL_KEY.match(key)
        if match is None:
            out[key] = value
            continue
        rest = match['rest']
        if match['pe'] is not None:
            stage = int(match['pe']) - 1
            rest = 'projection.' + rest[len('proj.'):] if rest.startswith('proj.') else rest
            out[f'layers.{stage}.0.{rest}'] = value
        elif match['nm'] is not None:
            out[f'layers.{int(match["nm"]) - 1}.2.{rest}'] = value
        else:
            converted = _convert_block_key(rest, value, state_dict, key)
            if converted is not None:
                out[f'layers.{int(match["blk"]) - 1}.1.{match["j"]}.{converted[0]}'] = converted[1]
    return out


def unwrap_state_dict(ckpt: Mapping) -> dict[str, Tensor]:
    """The tensors of a checkpoint: inside ``state_dict`` or ``model`` if wrapped, without ``module.``."""
    state = ckpt
    for wrapper in ('state_dict', 'model'):
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    return strip_module_prefix({k: v for k, v in state.items() if isinstance(v, Tensor)})


def _select_prefix(state: dict[str, Tensor], prefix: str | None) -> dict[str, Tensor]:
    """Keys under ``prefix`` without it; by default the encoder of a whole-segmentor checkpoint."""
    if prefix is None:
        prefix = 'backbone.' if any(k.startswith('backbone.') for k in state) else ''
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def resolve_pretrained_path(checkpoint: str | Path) -> Path:
    """The pretrained file: as given (relative to the working directory), else relative to the repo."""
    path = Path(checkpoint)
    if not path.is_file() and not path.is_absolute() and (REPO_ROOT / path).is_file():
        return REPO_ROOT / path
    if not path.is_file():
        raise DaspmInputError(
            f'{checkpoint} not found: run `sh tools/download_checkpoints.sh` (needs network) or download '
            f'{path.name} (SegFormer ImageNet-1k weights) and put it in {path.parent.as_posix()}/')
    return path


def load_mit_weights(module: nn.Module, checkpoint: str | Path, prefix: str | None = None) -> dict[str, list[str]]:
    """Load official or mmseg-layout MiT weights into ``module`` non-strictly and log what fitted.

    ``prefix`` selects a sub-dict (default: ``backbone.`` when present, as in a segmentor checkpoint).
    Returns the ``missing``, ``unexpected`` and ``dropped`` (ImageNet head) key lists. Shape
    mismatches, or a file sharing no key with the module, raise a DaspmInputError.
    """
    path = resolve_pretrained_path(checkpoint)
    state = _select_prefix(unwrap_state_dict(read_checkpoint(path)), prefix)
    dropped = sorted(k for k in state if k.startswith('head.'))
    converted = convert_mit_official(state)
    own = module.state_dict()
    missing, unexpected, mismatched = compare_state_dicts(converted, own)
    if mismatched:
        raise DaspmInputError(
            f'{path}: {len(mismatched)} weight(s) do not fit {type(module).__name__} '
            f'(e.g. {key_examples(mismatched, sep="; ")}); use the mit_bX.pth that matches the backbone config '
            '(embed_dims / num_layers / num_heads of B0..B5)')
    if len(missing) == len(own):
        raise DaspmInputError(f'{path} holds no {type(module).__name__} weights (its keys start like '
                              f'{key_examples(sorted(state))}); give a SegFormer mit_bX.pth')
    module.load_state_dict({k: v for k, v in converted.items() if k in own}, strict=False)
    lines = [f'MiT weights from {path}: loaded {len(own) - len(missing)}/{len(own)} tensors']
    if dropped:
        lines.append(f'dropped the ImageNet classifier ({key_examples(dropped, 5)})')
    if missing:
        lines.append(f'{len(missing)} missing (kept their initial values): {key_examples(missing, 5)}')
    if unexpected:
        lines.append(f'{len(unexpected)} unexpected (ignored): {key_examples(unexpected, 5)}')
    print_log('; '.join(lines), logger='current', level=logging.WARNING if missing or unexpected else logging.INFO)
    return dict(missing=missing, unexpected=unexpected, dropped=dropped)


@WEIGHT_INITIALIZERS.register_module(name='MiTPretrained')
class MiTPretrained:
    """mmengine weight initializer: load SegFormer MiT ImageNet weights (official or mmseg layout).

    Args:
        checkpoint: path of ``mit_bX.pth``; never a URL (nothing is downloaded at run time).
        prefix: take the keys under this prefix (default: ``backbone.`` if the file has such keys).
    """

    def __init__(self, checkpoint: str, prefix: str | None = None) -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix

    def __call__(self, module: nn.Module) -> None:
        """Load the weights into ``module`` (the MixVisionTransformer holding this init_cfg)."""
        load_mit_weights(module, self.checkpoint, self.prefix)
        if hasattr(module, '_params_init_info'):  # mmengine's initialisation report
            update_init_info(module, init_info=f'MiTPretrained: load from {self.checkpoint}')
