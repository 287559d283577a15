"""How busy a piece of work keeps the GPU: kernel time over wall time, from torch.profiler.

Shared by the step and scene benchmarks (``--profile``). Only CUDA events are recorded unless an
operator table is asked for: recording every host operator of a MiT-B5 UDA step and averaging
them ran past gpu_check.sh's time limit on an H200.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch


def gpu_busy(run: Callable[[], Any], table_path: Path | None = None, label: str = '',
             cuda: bool = True) -> tuple[Any, float, float]:
    """Run ``run()`` under the profiler: (its result, GPU kernel seconds, wall seconds).

    With ``table_path`` the top operators by host time (and by GPU time) are appended there.
    ``cuda=False``: work on the CPU, profiled for the operator table alone (0 kernel seconds).
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = ([ProfilerActivity.CUDA] if cuda else []) + \
        ([ProfilerActivity.CPU] if table_path is not None or not cuda else [])
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        result = run()
        sync()
        wall = time.perf_counter() - start
    averages = prof.key_averages()
    if table_path is not None:
        with table_path.open('a') as table:
            table.write(f'{label}: {wall:.3f} s wall\n')
            table.write(averages.table(sort_by='self_cpu_time_total', row_limit=25) + '\n')
            if cuda:
                table.write(averages.table(sort_by='self_device_time_total', row_limit=15) + '\n')
            table.write('\n')
    kernel_us = sum(e.self_device_time_total for e in averages if e.device_type == DeviceType.CUDA)
    return result, kernel_us / 1e6, wall
