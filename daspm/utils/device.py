"""Moving small host tensors to the training device without stalling the GPU."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['host_to_device']


def host_to_device(tensor: Tensor, device: torch.device | str) -> Tensor:
    """``tensor`` (on the CPU) on ``device``, copied asynchronously when ``device`` is a GPU.

    A plain ``.to('cuda')`` of pageable host memory waits until the GPU has finished all work
    queued before it: a host sync in the middle of a training step. Random draws made on a CPU
    generator (ClassMix, strong augmentation, MIC masks) are copied from pinned memory instead,
    which the caching host allocator keeps alive until the copy is done. Values are unchanged.
    """
    device = torch.device(device)
    if device.type != 'cuda' or tensor.device.type != 'cpu':
        return tensor.to(device)
    return tensor.contiguous().pin_memory().to(device, non_blocking=True)
