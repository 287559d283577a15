"""DeferredRuntimeInfoHook: the message hub gets RuntimeInfoHook's values, read from the device only when used."""
from __future__ import annotations

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from daspm.engine.hooks.deferred_runtime_info import DeferredRuntimeInfoHook, _as_numbers
from device_reads import DeviceReads, mark_module

MAX_ITERS, LOG_INTERVAL, CHECKPOINT_INTERVAL = 7, 3, 5
DATASET = [dict(inputs=torch.tensor([float(i), 1.0]), targets=torch.tensor(float(i % 3))) for i in range(4)]


class LinearRegression(BaseModel):
    """A real mmengine model: the loss and an error of a linear layer, both logged as tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(inputs)[:, 0]
        if mode == 'loss':
            error = out - targets
            return dict(loss=(error ** 2).mean(), abs_error=error.abs().mean())
        return out


def train(tmp_path, hook_type: str, monkeypatch) -> tuple[Runner, list[int], list[str]]:
    """Train 7 iterations (2 batches per loader pass); the iterations whose values were read, and the reads."""
    flushes: list[int] = []
    original = DeferredRuntimeInfoHook.flush

    def recording_flush(self, runner):
        if self._pending:
            flushes.append(runner.iter)
        original(self, runner)

    monkeypatch.setattr(DeferredRuntimeInfoHook, 'flush', recording_flush)
    torch.manual_seed(0)
    model = LinearRegression()
    mark_module(model)  # the parameters "on the GPU": what they give is read only where recorded
    runner = Runner(
        model=model, work_dir=str(tmp_path / hook_type), experiment_name=f'deferred_test_{hook_type}',
        train_dataloader=dict(dataset=DATASET, sampler=dict(type='InfiniteSampler', shuffle=False),
                              batch_size=2, num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=MAX_ITERS),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(runtime_info=dict(type=hook_type), logger=dict(type='LoggerHook', interval=LOG_INTERVAL),
                           checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=CHECKPOINT_INTERVAL)),
        log_processor=dict(by_epoch=False), randomness=dict(seed=0),
        default_scope='mmseg')  # the scope the other tests build in
    with DeviceReads() as reads:
        runner.train()
    return runner, flushes, [r.split('(')[1].split(':')[0] for r in reads.reads]


def test_the_message_hub_and_checkpoints_hold_runtime_info_hook_s_values(tmp_path, monkeypatch):
    plain, _, plain_reads = train(tmp_path, 'RuntimeInfoHook', monkeypatch)
    deferred, flushes, deferred_reads = train(tmp_path, 'DeferredRuntimeInfoHook', monkeypatch)
    assert any(isinstance(hook, DeferredRuntimeInfoHook) for hook in deferred.hooks)
    for key in ('train/loss', 'train/abs_error', 'train/lr'):
        ours, theirs = deferred.message_hub.log_scalars[key].data, plain.message_hub.log_scalars[key].data
        assert len(ours[0]) == MAX_ITERS and ours[0].tolist() == theirs[0].tolist(), key
        assert ours[1].tolist() == theirs[1].tolist()
    # read at (0-based) iteration 1 (end of the loader's first pass: the logger logs), 2 and 5
    # (logger interval 3), 4 (checkpoint interval 5) and 6 (the last)
    assert flushes == [1, 2, 4, 5, 6]
    # each iteration RuntimeInfoHook reads both values with .item(); ours reads them in one copy per flush
    assert plain_reads.count('message_hub.py') == 2 * MAX_ITERS
    assert 'message_hub.py' not in deferred_reads
    assert deferred_reads.count('deferred_runtime_info.py') == len(flushes)
    # the checkpoint of iteration 5 holds the values of 5 iterations, as with RuntimeInfoHook
    for name in ('iter_5.pth', 'iter_7.pth'):
        hubs = [torch.load(tmp_path / kind / name, weights_only=False)['message_hub']['log_scalars']
                for kind in ('DeferredRuntimeInfoHook', 'RuntimeInfoHook')]
        assert hubs[0]['train/loss'].data[0].tolist() == hubs[1]['train/loss'].data[0].tolist()
    assert len(hubs[0]['train/loss'].data[0]) == MAX_ITERS


def test_values_read_at_once_are_what_item_gives():
    values = [torch.tensor(0.1), torch.tensor([2.5], dtype=torch.float64), torch.tensor(3), 4.0,
              torch.tensor(True), torch.tensor(0.3, dtype=torch.bfloat16), torch.tensor(-7)]
    numbers = _as_numbers(values)
    assert numbers == [v.item() if isinstance(v, torch.Tensor) else v for v in values]
    assert [type(n) for n in numbers] == [float, float, int, float, bool, float, int]


def test_bad_settings_and_log_values_are_refused():
    with pytest.raises(ValueError, match='flush_interval must be at least 1'):
        DeferredRuntimeInfoHook(flush_interval=0)
    hook = DeferredRuntimeInfoHook()
    with pytest.raises(ValueError, match="'acc' with 3 values"):
        hook.after_train_iter(runner=None, batch_idx=0, outputs=dict(acc=torch.ones(3)))
