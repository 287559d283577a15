"""Map checkpoints of the reference implementation (DAFormer / DASPM, mmseg 0.x) onto this codebase.

Reference checkpoints hold either a plain segmentor (``backbone.*``, ``decode_head.*``) or a UDA
model whose segmentors sit under ``model.``, ``ema_model.`` (teacher) and ``imnet_model.``
(frozen ImageNet encoder for the feature distance). Their encoder uses the official SegFormer MiT
key layout, and their DAFormer head the names that ``DAFormerHead`` mirrors.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Mapping

from torch import Tensor

from ..utils.checkpoint import strip_module_prefix
from ..utils.errors import DaspmInputError
from .backbones.mit_weights import convert_mit_official

UDA_PARTS = ('model', 'ema_model', 'imnet_model')
PLAIN = ''  # the part name of a plain (non-UDA) segmentor checkpoint

# Reference DAFormer-head parameters and how they are named in our DAFormerHead (identical by design;
# the patterns make sure nothing of an unsupported head variant is carried over silently).
_HEAD_KEYS = [
    re.compile(r'^embed_layers\.\d+\.proj\.(weight|bias)$'),
    re.compile(r'^fuse_layer\.aspp_modules\.\d+\.(conv\.weight|bn\.\w+)$'),
    re.compile(r'^fuse_layer\.aspp_modules\.\d+\.(depthwise|pointwise)_conv\.(conv\.weight|bn\.\w+)$'),
    re.compile(r'^fuse_layer\.bottleneck\.(conv\.weight|bn\.\w+)$'),
    re.compile(r'^fuse_layer\.(conv\.weight|bn\.\w+)$'),  # fusion 'conv1'
    re.compile(r'^conv_seg\.(weight|bias)$'),
]


@dataclass
class PartReport:
    """What became of one segmentor's keys during conversion."""

    n_backbone: int = 0
    n_head: int = 0
    unmapped: list[str] = field(default_factory=list)
    num_logits: int | None = None


def map_head_key(key: str) -> str | None:
    """Our DAFormerHead's name for a reference head key (without ``decode_head.``), or None."""
    return key if any(p.match(key) for p in _HEAD_KEYS) else None


def split_parts(state: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """Group a reference state dict by UDA part (``model``/``ema_model``/``imnet_model``, or '' if plain)."""
    parts: dict[str, dict[str, Tensor]] = {}
    for key, value in strip_module_prefix(state).items():  # DDP-saved files prefix every key
        head, _, rest = key.partition('.')
        if head in UDA_PARTS and rest:
            parts.setdefault(head, {})[rest] = value
        else:
            parts.setdefault(PLAIN, {})[key] = value
    return parts


def convert_segmentor(state: Mapping[str, Tensor]) -> tuple[OrderedDict, PartReport]:
    """Convert one reference segmentor (``backbone.*`` official MiT, ``decode_head.*``) to our names."""
    report = PartReport()
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    out: OrderedDict = OrderedDict()
    for key, value in convert_mit_official(backbone).items():
        if key.startswith('layers.'):
            out[f'backbone.{key}'] = value
        else:
            report.unmapped.append(f'backbone.{key}')
    report.n_backbone = len(out)
    for key, value in state.items():
        if key.startswith('backbone.'):
            continue
        new = map_head_key(key[len('decode_head.'):]) if key.startswith('decode_head.') else None
        if new is None:
            report.unmapped.append(key)
            continue
        out[f'decode_head.{new}'] = value
        report.n_head += 1
    if 'decode_head.conv_seg.weight' in out:
        report.num_logits = int(out['decode_head.conv_seg.weight'].shape[0])
    return out, report


def truncate_classes(state: dict[str, Tensor], num_classes: int) -> None:
    """Keep the first ``num_classes`` logits of the classifier (the reference kept unused extra ones)."""
    weight = state.get('decode_head.conv_seg.weight')
    if weight is None:
        return
    if num_classes > weight.shape[0]:
        raise DaspmInputError(f'--num-classes {num_classes} is more than the checkpoint\'s '
                              f'{weight.shape[0]} output logits; give at most {weight.shape[0]}')
    state['decode_head.conv_seg.weight'] = weight[:num_classes].clone()
    state['decode_head.conv_seg.bias'] = state['decode_head.conv_seg.bias'][:num_classes].clone()


def convert_reference_state(state: Mapping[str, Tensor], part: str = 'model',
                            num_classes: int | None = None) -> tuple[OrderedDict, dict[str, PartReport]]:
    """Convert a reference state dict; ``part`` is 'model', 'ema_model' or 'all' (keeps UDA prefixes).

    'model' and 'ema_model' give a plain segmentor; a plain reference checkpoint counts as 'model'.
    """
    if part not in ('model', 'ema_model', 'all'):
        raise DaspmInputError(f'part must be model, ema_model or all, got {part!r}')
    parts = split_parts(state)
    uda = [p for p in UDA_PARTS if p in parts]
    if part == 'all':
        if not uda:
            raise DaspmInputError('the checkpoint is a plain segmentor (no model./ema_model./imnet_model. '
                                  'keys); convert it with --part model')
        selected = uda
    elif part == 'model' and not uda:
        selected = [PLAIN]
    elif part in parts:
        selected = [part]
    else:
        raise DaspmInputError(f'the checkpoint has no {part}.* weights (it has: '
                              f'{", ".join(p or "plain segmentor" for p in parts)}); choose another --part')
    out: OrderedDict = OrderedDict()
    reports: dict[str, PartReport] = {}
    for name in selected:
        converted, report = convert_segmentor(parts[name])
        if num_classes is not None and report.num_logits is not None:
            truncate_classes(converted, num_classes)
            report.num_logits = num_classes
        prefix = f'{name}.' if part == 'all' else ''
        out.update((prefix + k, v) for k, v in converted.items())
        reports[name or 'model'] = report
    # Keys outside every selected part (e.g. a plain-segmentor key next to UDA parts) are reported too.
    if PLAIN in parts and PLAIN not in selected:
        reports['other'] = PartReport(unmapped=sorted(parts[PLAIN]))
    return out, reports


def dataset_meta_of(meta: Mapping | None, num_classes: int | None = None) -> dict | None:
    """mmseg-1.x ``dataset_meta`` (classes, palette) from an mmseg-0.x checkpoint ``meta`` (CLASSES, PALETTE)."""
    if not isinstance(meta, Mapping) or not meta.get('CLASSES'):
        return None
    classes = [str(c) for c in meta['CLASSES']][:num_classes]
    out: dict = dict(classes=tuple(classes))
    palette = meta.get('PALETTE')
    if palette is not None and len(palette) >= len(classes):
        out['palette'] = [[int(v) for v in color] for color in list(palette)[:len(classes)]]
    return out
