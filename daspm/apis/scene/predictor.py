"""The small interface the scene mapper needs from a model, and its adapter for mmseg segmentors."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor, nn

from ...classes import DASPM_CLASSES, DASPM_PALETTE


@runtime_checkable
class WindowPredictor(Protocol):
    """Maps a batch of windows (B, C, h, w), scaled like the test pipeline, to logits (B, K, h, w)."""

    num_classes: int

    def __call__(self, images: Tensor) -> Tensor:
        """Class logits of every pixel (softmax is applied by the mapper)."""


class SegmentorPredictor:
    """Window predictor around an mmseg EncoderDecoder or a UDA model with ``eval_model`` (DACS).

    The model's data preprocessor normalises (mean/std, channel order) exactly as in testing;
    ``encode_decode`` then gives logits at window resolution. The config's ``test_cfg`` mode is
    not used: the scene mapper is itself the sliding window.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.segmentor = getattr(model, 'eval_model', model)
        self.preprocessor = model.data_preprocessor
        head = self.segmentor.decode_head
        self.num_classes = int(getattr(head, 'out_channels', head.num_classes))
        meta = getattr(model, 'dataset_meta', None) or {}
        self.classes = list(meta.get('classes', DASPM_CLASSES))
        self.palette = [list(c) for c in meta.get('palette', DASPM_PALETTE)]

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.segmentor.parameters()).device

    def __call__(self, images: Tensor) -> Tensor:
        """Normalise like the data preprocessor and return logits (B, K, h, w)."""
        batch = self.preprocessor(dict(inputs=list(images)), False)['inputs']
        h, w = images.shape[-2:]
        metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))] * images.shape[0]
        return self.segmentor.encode_decode(batch, metas)


def as_predictor(model) -> WindowPredictor:
    """An mmseg model wrapped as SegmentorPredictor; anything with ``num_classes`` and ``__call__`` as is."""
    if hasattr(model, 'encode_decode') or hasattr(model, 'eval_model'):
        return SegmentorPredictor(model)
    if not (callable(model) and hasattr(model, 'num_classes')):
        raise TypeError('the model must be an mmseg segmentor or a callable with a num_classes attribute')
    return model


def predictor_device(predictor: WindowPredictor) -> torch.device:
    """The device a predictor runs on (its own ``device``, its parameters', or the CPU)."""
    device = getattr(predictor, 'device', None)
    if device is not None:
        return torch.device(device)
    params = getattr(predictor, 'parameters', None)
    if callable(params):
        first = next(iter(params()), None)
        if first is not None:
            return first.device
    return torch.device('cpu')


def class_table(predictor: WindowPredictor) -> tuple[list[str], list[Sequence[int]]]:
    """Class names and palette of a predictor (the DASPM table, or generic names, when it has none)."""
    k = predictor.num_classes
    classes = list(getattr(predictor, 'classes', None) or
                   (DASPM_CLASSES if k == len(DASPM_CLASSES) else [f'class {i}' for i in range(k)]))
    palette = getattr(predictor, 'palette', None)
    if not palette:
        palette = DASPM_PALETTE if k == len(DASPM_PALETTE) else \
            [[(67 * i + 40) % 256, (151 * i + 90) % 256, (29 * i + 160) % 256] for i in range(k)]
    return classes[:k], [list(c) for c in palette[:k]]
