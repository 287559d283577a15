"""The DAFormer decoder: per-level linear embeddings, upsampling to stride 4, context-aware fusion.

Submodule names follow the reference (mmseg 0.x) DAFormer head so that its released checkpoints
map one to one: ``embed_layers.{i}.proj`` (linear), ``fuse_layer.aspp_modules.{k}`` and
``fuse_layer.bottleneck`` (fusion 'aspp'), or ``fuse_layer.conv|bn`` (fusion 'conv1'), ``conv_seg``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.errors import DaspmInputError

FUSIONS = ('aspp', 'conv1')


class LinearEmbedding(nn.Module):
    """A linear projection of every pixel's feature vector (no norm, no activation)."""

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        # An nn.Linear (not a 1x1 conv) keeps the reference checkpoints' weight shapes [out, in].
        self.proj = nn.Linear(in_channels, embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        """Embed an (N, C, H, W) map into an (N, embed_dims, H, W) map."""
        n, _, h, w = x.shape
        out = self.proj(x.flatten(2).transpose(1, 2))  # (N, H*W, embed_dims)
        return out.transpose(1, 2).reshape(n, -1, h, w)


class SeparableASPP(nn.Module):
    """Parallel 1x1 and dilated depthwise-separable 3x3 branches, concatenated, then a 3x3 bottleneck."""

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int], *,
                 conv_cfg: dict | None, norm_cfg: dict | None, act_cfg: dict | None) -> None:
        super().__init__()
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        branches = []
        for dilation in dilations:
            if dilation == 1:
                branches.append(ConvModule(in_channels, channels, 1, **common))
            else:
                # mmcv's module gives both the depthwise and the pointwise conv their own BN + ReLU.
                branches.append(DepthwiseSeparableConvModule(
                    in_channels, channels, 3, padding=dilation, dilation=dilation, **common))
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvModule(len(dilations) * channels, channels, 3, padding=1, **common)

    def forward(self, x: Tensor) -> Tensor:
        """Fuse an (N, in_channels, H, W) map into (N, channels, H, W)."""
        return self.bottleneck(torch.cat([branch(x) for branch in self.aspp_modules], dim=1))


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """DAFormer decode head (Hoyer et al., CVPR 2022) with a separable-ASPP or a 1x1-conv fusion.

    Args:
        embed_dims: channels of each level's linear embedding (256 in DAFormer).
        fusion: ``'aspp'`` (context-aware fusion, the DAFormer default) or ``'conv1'`` (a single
            1x1 conv + BN + ReLU).
        dilations: ASPP branch dilations; 1 is a 1x1 conv, others depthwise-separable 3x3 convs.
        Other arguments are those of mmseg's ``BaseDecodeHead``.
    """

    def __init__(self, *, embed_dims: int = 256, fusion: str = 'aspp',
                 dilations: Sequence[int] = (1, 6, 12, 18), channels: int = 256,
                 input_transform: str = 'multiple_select', **kwargs) -> None:
        if fusion not in FUSIONS:
            raise DaspmInputError(f'DAFormerHead: fusion={fusion!r} is not one of {FUSIONS}; '
                                  'set decode_head.fusion in the config to one of them')
        if input_transform != 'multiple_select':
            raise DaspmInputError('DAFormerHead needs input_transform="multiple_select" (one feature map '
                                  f'per encoder level), got {input_transform!r}; fix decode_head in the config')
        super().__init__(channels=channels, input_transform=input_transform, **kwargs)
        self.embed_dims = embed_dims
        self.fusion = fusion
        self.dilations = tuple(dilations)
        self.embed_layers = nn.ModuleList(LinearEmbedding(c, embed_dims) for c in self.in_channels)
        fused_in = embed_dims * len(self.in_channels)
        if fusion == 'aspp':
            self.fuse_layer: nn.Module = SeparableASPP(
                fused_in, channels, self.dilations, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)
        else:
            self.fuse_layer = ConvModule(fused_in, channels, 1, conv_cfg=self.conv_cfg,
                                         norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: list[Tensor]) -> Tensor:
        """Fused (N, channels, H/4, W/4) features from the encoder's multi-level outputs."""
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]  # the first selected level is the stride-4 one
        embedded = []
        for feat, embed in zip(feats, self.embed_layers):
            out = embed(feat)
            if out.shape[2:] != size:
                out = resize(out, size=size, mode='bilinear', align_corners=self.align_corners)
            embedded.append(out)
        return self.fuse_layer(torch.cat(embedded, dim=1))

    def forward(self, inputs: list[Tensor]) -> Tensor:
        """Per-class logits at stride 4."""
        return self.cls_seg(self._forward_feature(inputs))
