"""Process-group helpers for the distributed tests: CPU processes with gloo, results through files.

The workers run in processes started with ``torch.multiprocessing`` ('spawn'), which import this
module by name; they talk through a FileStore in a temporary folder (no port to pick) and write
what the test checks into ``out_dir/rank<r>.pt``.
"""
from __future__ import annotations

import copy
import datetime
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.multiprocessing as mp

from dacs_helpers import CONFIG, CROP, make_batch

#: seconds before a collective that never completes fails (instead of hanging the test run)
COLLECTIVE_TIMEOUT = 120


def run_processes(worker: Callable[..., None], world_size: int, tmp: Path, *args: Any,
                  timeout: float = 600) -> list[dict]:
    """Start ``world_size`` processes of ``worker(rank, world_size, store, out_dir, *args)``; their results.

    A process that fails or outlives ``timeout`` fails the call, and every process this call
    started is terminated (by its pid) before it returns.
    """
    out_dir = tmp / 'results'
    out_dir.mkdir(parents=True, exist_ok=True)
    store = tmp / 'store'
    context = mp.start_processes(worker, args=(world_size, str(store), str(out_dir), *args),
                                 nprocs=world_size, join=False, start_method='spawn')
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=1.0):
            if time.monotonic() > deadline:
                raise TimeoutError(f'distributed workers still running after {timeout} s')
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
    return [torch.load(out_dir / f'rank{r}.pt', weights_only=False) for r in range(world_size)]


def init_worker(rank: int, world_size: int, store: str) -> None:
    """Join the gloo process group (one thread per process: the test machine's cores are shared)."""
    torch.set_num_threads(1)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    torch.distributed.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world_size,
                                         timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT))
    import daspm.register  # noqa: F401  (the spawned process imports nothing by itself)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


def build_exact_dacs(**uda_options):
    """DACS whose gradient of a batch is the mean of its samples' gradients, and its optimizer wrapper.

    Equality of 2 processes x 1 sample with 1 process x 2 samples needs every loss to be a mean
    of per-sample terms of equal weight and nothing to couple the samples of a batch:
    * dropout and drop-path off (random per call);
    * GroupNorm instead of BatchNorm in the head (batch statistics couple the samples, in the
      student and in the teacher that pseudo-labels);
    * ``pseudo_weight='pixel'`` (the 'share' weight is a per-batch mean of confident pixels);
    * no ClassMix and no colour jitter / blur (their random draws come from one generator in
      sample order, so a sample's draws depend on the samples before it);
    * MIC with mask ratio 0 (every block kept: no random draws, one more backward pass);
    * source labels of make_batch, where each image has two FD cells: the FD mean over the cells
      of a batch is then the mean of the per-image means.
    Source cross-entropy and the weighted mixed / masked losses are means over all pixels, equal
    in number per sample. The classifier is made confident so that part of the target gets weight.
    """
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS

    from daspm.apis.config_loading import load_config

    torch.manual_seed(0)
    cfg = load_config(CONFIG)
    for preprocessor in (cfg.model.data_preprocessor, cfg.model.model.data_preprocessor):
        preprocessor.size = (CROP, CROP)
    cfg.model.model.backbone.update(drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0)
    cfg.model.model.decode_head.update(dropout_ratio=0.0, norm_cfg=dict(type='GN', num_groups=8, requires_grad=True))
    cfg.model.update(alpha=0.99, mix=None, color_jitter_probability=0.0, blur=False, pseudo_weight='pixel',
                     pseudo_threshold=0.999, mic=dict(mask_ratio=0.0, block_size=32))
    cfg.model.update(uda_options)
    model = MODELS.build(copy.deepcopy(cfg.model))
    torch.manual_seed(0)
    model.init_weights()
    model.train()
    with torch.no_grad():  # spread the logits: about a third of the target pixels pass the threshold
        model.model.decode_head.conv_seg.weight.mul_(50.0)
        model.model.decode_head.conv_seg.bias[2] += 2.0
    # the step runs as iteration 1 with the teacher equal to the student, and the "ImageNet" model
    # keeps its own initialisation (at iteration 0 it would copy the student: FD and its gradient 0)
    model.ema_model.load_state_dict(model.model.state_dict())
    return cfg, model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def sample_of(batch: dict, index: int) -> dict:
    """The batch of make_batch reduced to its sample ``index`` (what one process of two gets)."""
    return {key: value[index:index + 1] for key, value in batch.items()}


def capture_step_gradients(optim_wrapper, params) -> list[list[torch.Tensor]]:
    """The gradients of ``params`` at every optimizer step, as the optimizer sees them."""
    captured: list[list[torch.Tensor]] = []

    def hook(optimizer, args, kwargs):
        captured.append([torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params])

    optim_wrapper.optimizer.register_step_pre_hook(hook)
    return captured


def train_iteration(model, optim_wrapper, batch: dict, iteration: int) -> dict:
    """One ``train_step`` as the runner makes it at ``iteration``."""
    from mmengine.logging import MessageHub

    MessageHub.get_current_instance().update_info('iter', iteration)
    return model.train_step(copy.copy(batch), optim_wrapper)


class AllReduceCounter:
    """Counts ``torch.distributed.all_reduce`` calls while installed (the gradient average's buckets)."""

    def __init__(self) -> None:
        self.calls = 0
        self._original = torch.distributed.all_reduce

    def __enter__(self) -> AllReduceCounter:
        def counting(*args, **kwargs):
            self.calls += 1
            return self._original(*args, **kwargs)
        torch.distributed.all_reduce = counting
        return self

    def __exit__(self, *exc) -> None:
        torch.distributed.all_reduce = self._original


def ddp_worker(rank: int, world_size: int, store: str, out_dir: str, data_root: str) -> None:
    """Everything the test checks of one process of a 2-process DACS training (see test_distributed.py)."""
    init_worker(rank, world_size, store)
    from mmengine.model import convert_sync_batchnorm
    from mmengine.registry import MODEL_WRAPPERS

    from daspm.engine.model_wrappers import UDADistributedDataParallel

    result: dict[str, Any] = {}
    _, model, optim_wrapper = build_exact_dacs()
    result['generator_seed'] = model.generator.initial_seed()
    try:
        model.train_step(make_batch(1), optim_wrapper)
    except RuntimeError as err:  # DACS refuses to train unwrapped in a process group
        result['unwrapped_error'] = str(err)
    wrapped = MODEL_WRAPPERS.build(dict(type='UDADistributedDataParallel', module=model, bucket_cap_mb=1.0))
    grads = capture_step_gradients(optim_wrapper, list(model.model.parameters()))
    with AllReduceCounter() as counter:
        log = train_iteration(wrapped, optim_wrapper, sample_of(make_batch(2), rank), 1)
    result.update(grads=grads[0], log={k: float(v) for k, v in log.items()}, all_reduce_calls=counter.calls,
                  buckets=wrapped.grad_averager.num_buckets, syncs=wrapped.grad_averager.calls)

    # more iterations, each process on its own data: the students and teachers stay identical
    for iteration in (2, 3):
        train_iteration(wrapped, optim_wrapper, sample_of(make_batch(2, seed=iteration), rank), iteration)
    result['student'] = {k: v.clone() for k, v in model.model.state_dict().items()}
    result['teacher'] = {k: v.clone() for k, v in model.ema_model.state_dict().items()}

    # gradient accumulation: one average per optimizer step, not per iteration
    from mmengine.optim import build_optim_wrapper
    accumulating = build_optim_wrapper(model, dict(type='OptimWrapper', accumulative_counts=2,
                                                   optimizer=dict(type='SGD', lr=0.0)))
    accumulating.initialize_count_status(model, 0, 4)
    calls = []
    for iteration in (4, 5):
        with AllReduceCounter() as counter:
            train_iteration(wrapped, accumulating, sample_of(make_batch(2, seed=iteration), rank), iteration)
        calls.append(counter.calls)
    result['accumulated_all_reduce_calls'] = calls

    # SyncBN as mmengine's runner applies it (to the whole model), then the wrapper: student only
    from mmseg.registry import MODELS

    from daspm.apis.config_loading import load_config
    bn_model = MODELS.build(load_config(CONFIG).model)  # the config's BatchNorm head
    bn_wrapped = UDADistributedDataParallel(convert_sync_batchnorm(bn_model))
    result['sync_bn'] = {part: sum(isinstance(m, torch.nn.SyncBatchNorm) for m in getattr(bn_wrapped.module, part).modules())
                         for part in ('model', 'ema_model', 'imnet_model')}
    result['batch_norms'] = {part: sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                                       for m in getattr(bn_wrapped.module, part).modules())
                             for part in ('model', 'ema_model', 'imnet_model')}

    result['rcs_draws'] = [rcs_draws(data_root) for _ in range(2)]
    torch.save(result, Path(out_dir) / f'rank{rank}.pt')
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def rcs_draws(data_root: str, n: int = 6) -> list[tuple[int, str, str]]:
    """(class, source file, target file) of ``n`` items of a fresh UDADataset with rare class sampling."""
    from mmseg.registry import DATASETS

    from daspm.apis.config_loading import load_config

    cfg = load_config(CONFIG).train_dataloader.dataset
    cfg.source.data_root = f'{data_root}/gaofen_converted'
    cfg.target.data_root = f'{data_root}/sentinel_converted'
    cfg.rare_class_sampling.min_pixels = 100  # the 80 x 80 tiles are too small for 3000
    dataset = DATASETS.build(cfg)
    draws = []
    for i in range(n):
        item = dataset[i]
        draws.append((item['rcs_class'], Path(item['data_samples'].img_path).name,
                      Path(item['target_data_samples'].img_path).name))
    return draws
