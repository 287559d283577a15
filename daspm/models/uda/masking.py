"""Masked image consistency (MIC, Hoyer et al. CVPR 2023): random block masks of the target image.

The image is cut into square blocks of ``block_size`` pixels on a grid anchored at the top-left
corner; a block at the bottom or right border that the image cuts short is still one block (its
visible part is masked or kept as a whole). Each block is kept with probability
``1 - mask_ratio``, independently per image and block, and masked pixels are set to 0 in the
normalised network input (the reference multiplies the normalised image by the binary mask).

The reference counts ``round(H / block_size)`` blocks and stretches them to the image by nearest
resizing, so at sizes that are not multiples of the block size its blocks are not square. Here
blocks are exactly ``block_size`` pixels; at multiples of the block size both agree.
Randomness comes from ``generator`` (one ``torch.rand`` call per mask), as in ClassMix and the
strong augmentation, so a seeded generator reproduces the masks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor

from ...utils.device import host_to_device
from ...utils.errors import DaspmInputError
from ...utils.options import unknown_option_message

__all__ = ['MICOptions', 'block_mask', 'mask_images']


@dataclass(frozen=True)
class MICOptions:
    """The MIC settings of the DACS segmentor (``mic=dict(...)``): MIC's defaults."""

    mask_ratio: float = 0.7
    block_size: int = 64
    loss_weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f'mic.mask_ratio must be in [0, 1), got {self.mask_ratio}')
        if int(self.block_size) != self.block_size or self.block_size < 1:
            raise ValueError(f'mic.block_size must be a positive integer, got {self.block_size}')
        if self.loss_weight < 0:
            raise ValueError(f'mic.loss_weight must be >= 0, got {self.loss_weight}')

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> MICOptions | None:
        """``None`` (MIC off) or the options of a config dict; unknown keys name the known ones."""
        if cfg is None:
            return None
        known = set(cls.__dataclass_fields__)
        for name in cfg:
            if name not in known:
                raise DaspmInputError(unknown_option_message('model.mic', name, known))
        return cls(**dict(cfg))


def block_mask(batch: int, height: int, width: int, mask_ratio: float, block_size: int,
               generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Tensor:
    """[B,1,H,W] float mask of 0/1, constant on each ``block_size`` block, 1 with probability 1 - mask_ratio."""
    rows, cols = math.ceil(height / block_size), math.ceil(width / block_size)
    # draw on the generator's device (as class_mix / strong_augmentation do), then move
    rand_device = generator.device if generator is not None else torch.device('cpu')
    keep = torch.rand((batch, 1, rows, cols), generator=generator, device=rand_device) >= mask_ratio
    mask = keep.float().repeat_interleave(block_size, dim=2).repeat_interleave(block_size, dim=3)
    return host_to_device(mask[..., :height, :width], device if device is not None else rand_device)


def mask_images(images: Tensor, mask: Tensor) -> Tensor:
    """Normalised [B,C,H,W] images times a [B,1,H,W] mask: masked pixels become 0."""
    return images * mask.to(device=images.device, dtype=images.dtype)
