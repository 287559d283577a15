"""The small interface the scene mapper needs from a model, and its adapter for mmseg segmentors.

The adapter runs an inference copy of the segmentor: batch norms folded into the convolutions
before them, and on the CPU dilated depthwise 3x3 convolutions (DAFormer's context module)
computed as nine shifted multiply-adds, which oneDNN's dilated depthwise kernel does about
half as fast (benchmarks/scene_throughput.py). The copy holds no per-call state, so several
windows may run through it at once from different threads.
"""
from __future__ import annotations

import copy
from typing import Protocol, Sequence, runtime_checkable

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..classes import DASPM_CLASSES, DASPM_PALETTE

# channels per block of the shifted depthwise convolution: the nine shifted reads of a block
# (16 x 128 x 128 floats = 1 MB for a 512-pixel window) stay in the cache
_SHIFTED_BLOCK = 16


@runtime_checkable
class WindowPredictor(Protocol):
    """Maps a batch of windows (B, C, h, w), scaled like the test pipeline, to logits (B, K, h, w)."""

    num_classes: int

    def __call__(self, images: Tensor) -> Tensor:
        """Class logits of every pixel (softmax is applied by the mapper)."""


class ShiftedDepthwiseConv2d(nn.Conv2d):
    """A depthwise 3x3 convolution (padding = dilation) that on the CPU sums nine shifted products.

    The same function as ``nn.Conv2d`` (up to float rounding of the sum order); elsewhere (GPU,
    autocast) it is ``nn.Conv2d`` itself.
    """

    @classmethod
    def applies_to(cls, conv: nn.Module) -> bool:
        """A plain dilated depthwise 3x3 conv with stride 1 whose output has the input's size."""
        return (type(conv) is nn.Conv2d and conv.groups == conv.in_channels == conv.out_channels
                and conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.dilation[0] == conv.dilation[1] > 1
                and conv.padding == conv.dilation and conv.padding_mode == 'zeros')

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> 'ShiftedDepthwiseConv2d':
        """The same layer, sharing the weights of ``conv``."""
        new = cls(conv.in_channels, conv.out_channels, 3, padding=conv.padding, dilation=conv.dilation,
                  groups=conv.groups, bias=conv.bias is not None, device='meta')
        new.weight, new.bias = conv.weight, conv.bias
        return new

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if x.device.type != 'cpu' or x.dtype != torch.float32 or torch.is_autocast_enabled('cpu'):
            return super()._conv_forward(x, weight, bias)
        d = self.dilation[0]
        h, w = x.shape[-2:]
        out = torch.empty_like(x)
        taps = []  # (out rows, out cols, in rows, in cols, i, j) of the eight off-centre taps inside the image
        for i in range(3):
            for j in range(3):
                dy, dx = (i - 1) * d, (j - 1) * d
                if (i, j) != (1, 1) and abs(dy) < h and abs(dx) < w:
                    taps.append((slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)),
                                 slice(max(0, dy), h + min(0, dy)), slice(max(0, dx), w + min(0, dx)), i, j))
        for c0 in range(0, x.shape[1], _SHIFTED_BLOCK):
            block = x[:, c0:c0 + _SHIFTED_BLOCK]
            kernel = weight[c0:c0 + _SHIFTED_BLOCK, 0]
            acc = out[:, c0:c0 + _SHIFTED_BLOCK]
            centre = kernel[:, 1, 1].view(1, -1, 1, 1)
            if bias is None:
                torch.mul(block, centre, out=acc)
            else:
                torch.addcmul(bias[c0:c0 + _SHIFTED_BLOCK].view(1, -1, 1, 1), block, centre, out=acc)
            # zero padding = taps that fall outside the image add nothing: no padded copy is made
            for rows, cols, in_rows, in_cols, i, j in taps:
                acc[:, :, rows, cols].addcmul_(block[:, :, in_rows, in_cols], kernel[:, i, j].view(1, -1, 1, 1))
        return out


def inference_copy(segmentor: nn.Module) -> nn.Module:
    """A copy of ``segmentor`` for inference only: BN folded, dilated depthwise convs shifted (see above).

    The caller's model is left as it is (it may be trained further or evaluated by mmseg).
    """
    model = copy.deepcopy(segmentor).eval().requires_grad_(False)
    for module in model.modules():
        if isinstance(module, ConvModule) and _foldable(module):
            # mmcv's own efficient_conv_bn_eval does this at every call, swapping conv.forward in and
            # out: not safe with windows in several threads, so the fold is made once here
            module.conv = fuse_conv_bn_eval(module.conv, module.norm)
            setattr(module, module.norm_name, nn.Identity())
            module.turn_on_efficient_conv_bn_eval(False)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if ShiftedDepthwiseConv2d.applies_to(child):
                setattr(parent, name, ShiftedDepthwiseConv2d.from_conv(child))
    return model


def _foldable(module: ConvModule) -> bool:
    """A ConvModule whose conv is directly followed by a BatchNorm with running statistics."""
    order = list(module.order)
    return (module.with_norm and isinstance(module.norm, _BatchNorm) and module.norm.track_running_stats
            and module.norm.running_mean is not None and type(module.conv) is nn.Conv2d
            and order.index('norm') == order.index('conv') + 1)


class SegmentorPredictor:
    """Window predictor around an mmseg EncoderDecoder or a UDA model with ``eval_model`` (DACS).

    The model's data preprocessor normalises (mean/std, channel order) exactly as in testing;
    ``encode_decode`` then gives logits at window resolution. The config's ``test_cfg`` mode is
    not used: the scene mapper is itself the sliding window. ``optimize``: run an inference copy
    (inference_copy); otherwise the model itself. Either way safe to call from several threads.
    """

    thread_safe = True

    def __init__(self, model: nn.Module, optimize: bool = True) -> None:
        self.model = model
        segmentor = getattr(model, 'eval_model', model)
        self.segmentor = inference_copy(segmentor) if optimize else segmentor
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


def as_predictor(model, optimize: bool = True) -> WindowPredictor:
    """An mmseg model wrapped as SegmentorPredictor; anything with ``num_classes`` and ``__call__`` as is."""
    if hasattr(model, 'encode_decode') or hasattr(model, 'eval_model'):
        return SegmentorPredictor(model, optimize=optimize)
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
