"""mmengine's RuntimeInfoHook, reading the logged tensors from the GPU only when something uses them.

``RuntimeInfoHook.after_train_iter`` turns every logged value of the step into a Python number
with ``.item()``. On a GPU that is a wait for the whole iteration at the end of every iteration:
the host cannot queue the next iteration's kernels while the GPU finishes this one, and the GPU
idles while the host runs the hooks, takes the next batch and starts the next step.

This hook keeps the step's logged tensors and reads them all at once (one copy per device and dtype) on
the iterations where something reads the train scalars of the message hub: the logger's and the
checkpoint hook's iterations, the end of the loader's first pass (the logger logs there too), the
last iteration, before validation and at the end of training.
The message hub then holds the same values, in the same order, as with RuntimeInfoHook.
``flush_interval`` bounds how many iterations are kept (each holds a few scalars on the GPU).

A loss that is not finite stops training there, in one line (iteration, loss part, the batch's
files), before the checkpoint or validation that reads the values: the check runs on the numbers
the read gives, so it adds no wait for the GPU, and no checkpoint with diverged weights is
written (checkpoint iterations always read first). The run directory keeps its last checkpoint
and its logs.

A hook or scheduler of your own that reads ``train/...`` scalars from the message hub every
iteration (e.g. ``ReduceOnPlateauLR`` on the training loss) needs ``RuntimeInfoHook`` itself:
``default_hooks = dict(runtime_info=dict(type='RuntimeInfoHook'))``.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import CheckpointHook, LoggerHook, RuntimeInfoHook
from mmengine.logging import MMLogger
from mmengine.registry import HOOKS
from torch import Tensor

from ...utils.errors import TrainingStopped

__all__ = ['DeferredRuntimeInfoHook']


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """RuntimeInfoHook whose ``after_train_iter`` defers reading tensors until the scalars are used.

    Args:
        flush_interval: at most this many iterations are kept before they are read (besides the
            iterations that read them anyway; see the module docstring).
    """

    def __init__(self, flush_interval: int = 100) -> None:
        if int(flush_interval) < 1:
            raise ValueError(f'flush_interval must be at least 1, got {flush_interval!r}')
        self.flush_interval = int(flush_interval)
        self._pending: list[tuple[str, Any]] = []
        self._pending_steps: list[int] = []  # the iteration (1-based) of each kept value
        self._batch_files: dict[int, list[str]] = {}  # the files of each kept iteration's batch
        self._pending_iters = 0
        self._read_intervals: list[int] = []
        self._reading_iters: set[int] = set()

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._read_intervals = _scalar_reading_intervals(runner)
        # the logger also logs at the end of the loader's first pass (mmengine's end_of_epoch)
        self._reading_iters = {_length(runner.train_dataloader)} - {None}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: dict | None = None) -> None:
        if outputs is not None:
            for key, value in outputs.items():
                if isinstance(value, Tensor):
                    if value.numel() != 1:
                        raise ValueError(f'the model logged {key!r} with {value.numel()} values; a log '
                                         'value must be a number or a tensor with one element')
                    value = value.detach()
                self._pending.append((f'train/{key}', value))
            self._pending_steps += [runner.iter + 1] * (len(self._pending) - len(self._pending_steps))
            self._batch_files[runner.iter + 1] = batch_files(data_batch)  # names only: no tensor is read
            self._pending_iters += 1
        done = runner.iter + 1  # iterations finished, this one included
        if (self._pending_iters >= self.flush_interval or done >= runner.max_iters or done in self._reading_iters
                or any(done % interval == 0 for interval in self._read_intervals)):
            self.flush(runner)

    def before_val(self, runner) -> None:
        self.flush(runner)  # a best-checkpoint save after validation stores the message hub
        super().before_val(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)

    def flush(self, runner) -> None:
        """Read the kept values (one copy per device and dtype) into the message hub, in their order."""
        if not self._pending:
            return
        numbers = _as_numbers([value for _, value in self._pending])
        stop = non_finite_loss(self._pending, numbers, self._pending_steps)
        if stop is not None:
            step, parts = stop
            self._stop(runner, step, parts)
        for (key, _), number in zip(self._pending, numbers):
            runner.message_hub.update_scalar(key, number)
        self._pending, self._pending_steps, self._batch_files = [], [], {}
        self._pending_iters = 0

    def _stop(self, runner, step: int, parts: list[str]) -> None:
        """End training at iteration ``step``, whose loss ``parts`` are not finite (logged, then raised)."""
        files = self._batch_files.get(step) or []
        shown = ', '.join(files[:4]) + (f' (+{len(files) - 4} more)' if len(files) > 4 else '') \
            if files else 'files not known'
        last = runner.message_hub.get_info('last_ckpt')  # set by CheckpointHook (and kept by a resume)
        kept = f'the last checkpoint {Path(last).name}' if last else 'no checkpoint (none was due yet)'
        message = (f'training stopped: iteration {step} gave a loss that is not finite ({", ".join(parts)}) on '
                   f'the batch of {shown}; {runner.work_dir} keeps {kept} and the logs, nothing later was '
                   'saved; look for NaN or infinite pixels in those files, or lower the learning rate')
        log_to_files(message)  # the run's own log says why it ended (the console gets the error line)
        raise TrainingStopped(message)


def log_to_files(message: str) -> None:
    """Write ``message`` as a warning into the current logger's files only."""
    logger = MMLogger.get_current_instance()
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 0, message, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def non_finite_loss(pending: list[tuple[str, Any]], numbers: list[Any],
                    steps: list[int]) -> tuple[int, list[str]] | None:
    """The first iteration whose logged loss parts are not finite, and those parts as ``name=value``.

    The parts (``src.decode.loss_ce``, ...) come before the total ``loss`` they add up to, which
    is named only when it is the one value that is not finite.
    """
    bad: dict[int, list[str]] = {}
    for (key, _), number, step in zip(pending, numbers, steps):
        name = key.split('/', 1)[-1]
        if 'loss' in name and isinstance(number, float) and not math.isfinite(number):
            bad.setdefault(step, []).append(f'{name}={number}')
    if not bad:
        return None
    step = min(bad)
    parts = [p for p in bad[step] if not p.startswith('loss=')] or bad[step]
    return step, parts


def batch_files(data_batch: Any) -> list[str]:
    """The names of the image files of a batch (source, then target), from their data samples."""
    if not isinstance(data_batch, dict):
        return []
    names = []
    for key in ('data_samples', 'target_data_samples'):
        for sample in data_batch.get(key) or []:
            path = getattr(sample, 'metainfo', {}).get('img_path')
            if path:
                names.append(Path(path).name)
    return names


def _as_numbers(values: list[Any]) -> list[Any]:
    """``values`` with each one-element tensor as the Python number its ``.item()`` gives."""
    numbers = list(values)
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for index, value in enumerate(values):
        if isinstance(value, Tensor):
            groups.setdefault((value.device, value.dtype), []).append(index)
    for indices in groups.values():
        read = torch.stack([values[i].reshape(()) for i in indices]).cpu().tolist()
        for index, number in zip(indices, read):
            numbers[index] = number
    return numbers


def _length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:  # an iterable without a length
        return None


def _scalar_reading_intervals(runner) -> list[int]:
    """Every how many iterations the runner's logger and checkpoint hooks read the message hub."""
    intervals = []
    for hook in runner.hooks:
        if isinstance(hook, LoggerHook):
            intervals.append(hook.interval)
        elif isinstance(hook, CheckpointHook) and not hook.by_epoch:
            intervals.append(hook.interval)
    return [int(i) for i in intervals if isinstance(i, int) and i > 0]
