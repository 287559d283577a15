"""Pixel accuracy of a decode head's logits, computed without waiting for the device."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['pixel_accuracy']


def pixel_accuracy(logits: Tensor, label: Tensor, ignore_index: int) -> Tensor:
    """Share of non-ignored pixels whose argmax class is the label, in percent, as a (1,) tensor.

    The value mmseg's ``accuracy(logits, label, ignore_index=...)`` logs as ``acc_seg``:
    ``(correct + eps) * 100 / (counted + eps)`` with float32's eps. mmseg selects the counted
    pixels by boolean indexing, whose data-dependent size makes the host wait for the GPU in the
    middle of a training step; counting them with masked sums waits for nothing. It is only logged.
    """
    counted = label != ignore_index
    correct = (logits.argmax(dim=1) == label) & counted
    eps = torch.finfo(torch.float32).eps
    return ((correct.sum(dtype=torch.float32) + eps) * 100.0 / (counted.sum(dtype=torch.float32) + eps)).view(1)
