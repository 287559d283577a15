"""Data-parallel training of the DACS student over several processes (torch.distributed, any backend).

mmengine wraps a model in ``MMDistributedDataParallel`` (torch DDP) by default. That does not fit
DACS: DDP averages gradients from hooks that its own ``forward`` arms, once per backward pass,
while DACS calls the student's parts directly (``extract_feat``, ``decode_head``) and makes
several backward passes per optimizer step (source, feature distance through a retained graph,
mixed, MIC); DDP would also wrap the frozen teacher and ImageNet model. mmengine's wrapper then
calls ``forward(mode='loss')``, which would train the student on the source only.

:class:`UDADistributedDataParallel` averages the gradients of the trained parameters (for DACS:
the student's; the teacher and the ImageNet model have none) across the processes once per
optimizer step, right before it, in a few flat buckets. The teacher and the ImageNet model stay
plain modules inside DACS: each process updates its teacher from its own student, and the
students are the same on every process because they start equal and take the same steps.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS
from torch import Tensor, nn
from torch import distributed as torch_dist

__all__ = ['GradientAverager', 'UDADistributedDataParallel']

#: the parts of DACS that are not trained and must keep plain BatchNorm (see _keep_frozen_parts_local)
FROZEN_PARTS = ('ema_model', 'imnet_model')


class GradientAverager:
    """Average the ``.grad`` of a fixed list of parameters over all processes of ``group``.

    The gradients are copied into flat buckets of at most ``bucket_cap_mb`` (one per device and
    dtype at least), all-reduced asynchronously, divided by the number of processes and copied
    back. The buckets are allocated once, at the first call, and reused. As in DDP, a parameter
    without a gradient on this process takes part with zeros, so that every process reduces the
    same buckets (a parameter no process used then gets a zero gradient instead of none).
    """

    def __init__(self, params: Iterable[nn.Parameter], bucket_cap_mb: float = 25.0,
                 group: torch_dist.ProcessGroup | None = None) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.bucket_bytes = int(bucket_cap_mb * 2**20)
        self.group = group
        self.world_size = torch_dist.get_world_size(group)
        self._buckets: list[tuple[list[nn.Parameter], Tensor, list[Tensor]]] = []
        self._layout: list[tuple[torch.device, torch.dtype]] = []
        self.calls = 0  # optimizer steps synchronised (for logs and tests)

    def _make_buckets(self) -> None:
        """Group consecutive parameters by (device, dtype) into buckets of at most ``bucket_bytes``."""
        groups: dict[tuple[torch.device, torch.dtype], list[list[nn.Parameter]]] = {}
        filled: dict[tuple[torch.device, torch.dtype], int] = {}  # bytes in the last chunk of each group
        for p in self.params:
            key = (p.device, p.dtype)
            chunks = groups.setdefault(key, [[]])
            size = p.numel() * p.element_size()
            if chunks[-1] and filled[key] + size > self.bucket_bytes:
                chunks.append([])
                filled[key] = 0
            chunks[-1].append(p)
            filled[key] = filled.get(key, 0) + size
        self._buckets = []
        for (device, dtype), chunks in groups.items():
            for chunk in chunks:
                flat = torch.empty(sum(p.numel() for p in chunk), device=device, dtype=dtype)
                views = [v.view(p.shape) for v, p in zip(flat.split([p.numel() for p in chunk]), chunk)]
                self._buckets.append((chunk, flat, views))
        self._layout = [(p.device, p.dtype) for p in self.params]

    @property
    def num_buckets(self) -> int:
        """Buckets (all-reduce calls) per synchronised step; 0 before the first call."""
        return len(self._buckets)

    @torch.no_grad()
    def __call__(self) -> None:
        """Replace every gradient by its mean over the processes."""
        if self.world_size == 1 or not self.params:
            return
        if not self._buckets or self._layout[0] != (self.params[0].device, self.params[0].dtype):
            self._make_buckets()  # first call, or the model moved (as a whole) since
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        works = []
        for chunk, flat, _ in self._buckets:
            torch.cat([p.grad.reshape(-1) for p in chunk], out=flat)
            works.append(torch_dist.all_reduce(flat, group=self.group, async_op=True))
        for (chunk, flat, views), work in zip(self._buckets, works):
            work.wait()
            flat.div_(self.world_size)
            torch._foreach_copy_([p.grad for p in chunk], views)
        self.calls += 1


def _keep_frozen_parts_local(module: nn.Module) -> None:
    """Give the teacher and the ImageNet model plain BatchNorm again when the runner converted them.

    mmengine's ``sync_bn`` converts every BatchNorm of the model before wrapping it. Only the
    student is trained: the teacher's statistics are those of its own target batch (as in a
    single process), and the ImageNet model runs in eval mode.
    """
    for name in FROZEN_PARTS:
        part = getattr(module, name, None)
        if isinstance(part, nn.Module) and any(isinstance(m, nn.SyncBatchNorm) for m in part.modules()):
            setattr(module, name, revert_sync_batchnorm(part))


# mmengine's Runner looks wrapper types up in its own (root) registry, which does not search
# mmseg's child registry: registered there, every scope finds it.
@MODEL_WRAPPERS.register_module()
class UDADistributedDataParallel(nn.Module):
    """Data parallel over processes for DACS (the student only) and for any mmengine model.

    Set by the UDA configs as ``model_wrapper_cfg = dict(type='UDADistributedDataParallel')``;
    the runner builds it in distributed runs only. A module with a ``grad_sync`` attribute (DACS)
    gets it set to the gradient average, which it calls before its optimizer step; for other
    models ``train_step`` is mmengine's with the average between backward pass and step (the
    entry points use it on machines without CUDA, where mmengine's DDP wrapper cannot be built).

    Args:
        module: the model (DACS, or a segmentor).
        bucket_cap_mb: largest flat bucket of gradients reduced in one call.
        broadcast_buffers: before evaluating after training steps, copy rank 0's buffers (BatchNorm
            statistics, which each process updates from its own batches) to every process, so
            that all evaluate the model rank 0 writes into checkpoints.
    """

    def __init__(self, module: nn.Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True) -> None:
        super().__init__()
        if not (torch_dist.is_available() and torch_dist.is_initialized()):
            raise RuntimeError('UDADistributedDataParallel needs an initialised process group: start the training '
                               'with a launcher (--launcher pytorch|slurm, tools/dist_train.sh, '
                               'run_experiments.py --gpus N)')
        _keep_frozen_parts_local(module)
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.grad_averager = GradientAverager(module.parameters(), bucket_cap_mb)
        self._buffers_stale = False
        # every process starts from rank 0's weights, as with DDP
        for tensor in module.state_dict().values():
            torch_dist.broadcast(tensor, src=0)
        self.syncs_itself = hasattr(module, 'grad_sync')
        if self.syncs_itself:
            module.grad_sync = self.grad_averager

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped model's forward."""
        return self.module(*args, **kwargs)

    def train_step(self, data: dict | tuple | list, optim_wrapper: OptimWrapper) -> dict[str, Tensor]:
        """One training iteration with the gradients averaged over the processes before the optimizer step."""
        self._buffers_stale = True
        if self.syncs_itself:
            return self.module.train_step(data, optim_wrapper)
        # mmengine's BaseModel.train_step with update_params split around the average
        with optim_wrapper.optim_context(self.module):
            data = self.module.data_preprocessor(data, True)
            if isinstance(data, dict):
                losses = self.module(**data, mode='loss')
            else:
                losses = self.module(*data, mode='loss')
        loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.backward(optim_wrapper.scale_loss(loss))
        if optim_wrapper.should_update():
            self.grad_averager()
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        return log_vars

    def val_step(self, data: dict | tuple | list) -> list:
        """The wrapped model's ``val_step``, with rank 0's buffers after training steps."""
        self._share_buffers()
        return self.module.val_step(data)

    def test_step(self, data: dict | tuple | list) -> list:
        """The wrapped model's ``test_step``, with rank 0's buffers after training steps."""
        self._share_buffers()
        return self.module.test_step(data)

    def _share_buffers(self) -> None:
        # every process evaluates the same number of batches, so all arrive here together
        if not (self.broadcast_buffers and self._buffers_stale):
            return
        for buffer in self.module.buffers():
            torch_dist.broadcast(buffer, src=0)
        self._buffers_stale = False
