"""Finding, on the CPU, where a computation would make the host wait for a GPU.

Tensors that would live on the GPU (the model's parameters and buffers, the batch after it is
copied to the device) are marked; every tensor computed from a marked one is marked in turn. A
read of a marked tensor by the host (``.item()``, ``.tolist()``, ``bool()``, ``unique``,
``nonzero``, boolean indexing, ...) is a wait for the GPU, and is recorded. Tensors computed only
from host data (the loader's labels, draws of a CPU generator) stay unmarked: reading them waits
for nothing.

It cannot see a tensor created on the device by a factory (``torch.zeros(device=...)``) until it
is combined with a marked one, nor ``.to('cpu')`` (on the CPU it is no copy). On a GPU,
``torch.cuda.set_sync_debug_mode('error')`` (tests/test_cuda_path.py) catches what this misses.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_MARK = '_daspm_on_device'
#: Tensor methods and torch functions whose result the host must read (size or value)
_READS = {'item', 'tolist', 'numpy', 'cpu', '__bool__', '__float__', '__int__', '__index__', 'nonzero',
          'argwhere', 'unique', 'unique_consecutive', 'masked_select'}
_INDEXING = {'__getitem__', '__setitem__'}
#: reads whose result is on the host (reading it again waits for nothing)
_TO_HOST = {'cpu', 'numpy', 'tolist', 'item'}


def mark_on_device(tensors: Iterable[Tensor]) -> None:
    """Mark ``tensors`` as living on the GPU."""
    for tensor in tensors:
        setattr(tensor, _MARK, True)


def mark_module(module: torch.nn.Module) -> None:
    """Mark a module's parameters and buffers as living on the GPU."""
    mark_on_device(module.parameters())
    mark_on_device(module.buffers())


def on_device(tensor: Any) -> bool:
    return isinstance(tensor, Tensor) and getattr(tensor, _MARK, False)


def on_device_copy(tensor: Tensor, device: Any = None) -> Tensor:
    """What ``host_to_device`` gives on a GPU: a copy, on the device (signature of host_to_device)."""
    copy = tensor.clone()
    mark_on_device([copy])
    return copy


class DeviceReads(TorchFunctionMode):
    """Records the host's reads of tensors that would be on the GPU, as 'name (where)' strings."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', str(func))
        if name == '__get__':  # properties (shape, dtype, grad, ...): reading them waits for nothing
            return func(*args, **kwargs)
        inputs, _ = tree_flatten((args, kwargs))
        marked = any(on_device(t) for t in inputs)
        if marked and (name in _READS or (name in _INDEXING and _boolean_index(args))):
            self.reads.append(f'{name} ({_caller()})')
        result = func(*args, **kwargs)
        if name == 'cpu' and args and result is args[0]:
            result = result.view_as(result)  # on the CPU .cpu() is no copy; on a GPU it is the host's own
        if marked and name not in _TO_HOST:
            outputs, _ = tree_flatten(result)
            in_place = name.endswith('_') and not name.endswith('__') or name == '__setitem__'
            targets = outputs + ([args[0]] if in_place and args and isinstance(args[0], Tensor) else [])
            targets += [t for t in tree_flatten(kwargs.get('out'))[0] if isinstance(t, Tensor)]
            mark_on_device(t for t in targets if isinstance(t, Tensor))
        return result


def _boolean_index(args) -> bool:
    index = args[1] if len(args) > 1 else ()
    indices, _ = tree_flatten(index)
    return any(isinstance(i, Tensor) and i.dtype == torch.bool for i in indices)


def _caller() -> str:
    """The innermost frame outside torch and this file: where the read happens."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename.replace('\\', '/')
        if '/torch/' not in path and not path.endswith('device_reads.py'):
            return f'{path.rsplit("/", 1)[-1]}:{frame.f_lineno}'
        frame = frame.f_back
    return '?'
