"""mmseg's MiT (SegFormer) encoder with its attention computed by PyTorch's fused kernel.

mmseg 1.x's ``EfficientMultiheadAttention`` calls ``nn.MultiheadAttention`` with its default
``need_weights=True``. PyTorch then takes its explicit path: it materialises every attention
weight (at stride 4 of a 512 crop, 16384 x 256 per head and image), keeps it for the backward
pass, and averages it over the heads for a result mmseg throws away. With ``need_weights=False``
PyTorch calls ``scaled_dot_product_attention``: on a GPU one flash or memory-efficient kernel
that never stores the weights; on the CPU a fused kernel as well.

The function is the same (softmax(QK^T / sqrt(d)) V per head, the same projections and
parameters) up to float rounding; with attention dropout (0 in every DASPM config) the dropped
weights are drawn differently. Parameter names and checkpoints are mmseg's.
"""
from __future__ import annotations

from mmseg.models.backbones.mit import EfficientMultiheadAttention, MixVisionTransformer
from mmseg.models.utils import nchw_to_nlc, nlc_to_nchw
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['FusedEfficientMultiheadAttention', 'FusedMixVisionTransformer']


class FusedEfficientMultiheadAttention(EfficientMultiheadAttention):
    """SegFormer's attention (keys and values from a spatially reduced map) without attention weights."""

    def forward(self, x: Tensor, hw_shape: tuple[int, int], identity: Tensor | None = None) -> Tensor:
        context = x
        if self.sr_ratio > 1:
            context = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(x, hw_shape))))
        query = x
        if self.batch_first:  # the wrapped nn.MultiheadAttention takes (length, batch, channels)
            query, context = query.transpose(0, 1), context.transpose(0, 1)
        out = self.attn(query=query, key=context, value=context, need_weights=False)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return (x if identity is None else identity) + self.dropout_layer(self.proj_drop(out))


@MODELS.register_module()
class FusedMixVisionTransformer(MixVisionTransformer):
    """mmseg's ``MixVisionTransformer`` (same arguments, parameters and outputs) with fused attention.

    Args:
        fused_attention: False keeps mmseg's attention as it is (the weights are materialised).
        *args, **kwargs: those of mmseg's ``MixVisionTransformer``.
    """

    def __init__(self, *args, fused_attention: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fused_attention = bool(fused_attention)
        if self.fused_attention:
            for module in self.modules():
                if type(module) is EfficientMultiheadAttention:
                    # only the forward pass differs; the class swap keeps parameters and state dicts
                    module.__class__ = FusedEfficientMultiheadAttention
