"""Moving host tensors and batches to the training device without stalling the GPU."""
from __future__ import annotations

from typing import Any

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

__all__ = ['host_to_device', 'batch_to_device']


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
    if not tensor.is_pinned():
        tensor = tensor.contiguous().pin_memory()
    return tensor.to(device, non_blocking=True)


def batch_to_device(data: Any, device: torch.device | str) -> Any:
    """A loader's batch (tensors and data samples in dicts, lists and tuples) with its tensors on a GPU.

    Each host tensor goes through ``host_to_device``. The data preprocessor's own ``.to(device)``
    copies pageable memory (mmengine's loaders pin tensors but not the labels inside data samples,
    and mmseg's preprocessor copies without ``non_blocking``), which makes the host wait for the
    previous iteration's kernels before it can queue this one's. Off a GPU ``data`` is returned as is.
    """
    device = torch.device(device)
    if device.type != 'cuda':
        return data
    return _on_device(data, device)


def _on_device(data: Any, device: torch.device) -> Any:
    if isinstance(data, Tensor):
        return host_to_device(data, device)
    if isinstance(data, BaseDataElement):
        moved = data.new()  # same metainfo and fields; the tensor fields are replaced below
        for key, value in data.items():
            if isinstance(value, (Tensor, BaseDataElement)):
                moved.set_data({key: _on_device(value, device)})
        return moved
    if isinstance(data, dict):
        return {key: _on_device(value, device) for key, value in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, '_fields'):  # not a namedtuple
        return type(data)(_on_device(value, device) for value in data)
    return data
