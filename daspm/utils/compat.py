"""Compatibility of mmengine 0.10.7 with today's torch.

torch >= 2.6 loads checkpoints with ``weights_only=True``. mmengine checkpoints carry a few
non-tensor objects in their ``meta`` (the message hub's HistoryBuffer with numpy arrays), which
that refuses. We allow-list exactly those types instead of switching unsafe loading on.
"""
from __future__ import annotations

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def _numpy_globals() -> list:
    """The numpy callables and types that the pickled arrays and scalars of mmengine's log refer to."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core to np._core
    # a HistoryBuffer keeps its values as float64 and their counts as int64
    dtype_classes = [type(np.dtype(t)) for t in ('float64', 'int64')]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype,
            *dtype_classes]


# Exactly what a checkpoint written by mmengine 0.10.7 here holds besides tensors (a test saves one
# and needs each entry): the message hub's HistoryBuffer, its numpy history (float64 values, int64
# counts), numpy scalars (the ETA), and ``getattr``: HistoryBuffer pickles its bound statistics methods as
# ``getattr(buffer, 'mean')``. getattr only looks attributes up: the weights-only unpickler still
# calls nothing but allow-listed callables (its REDUCE refuses any other function). Reference
# (mmseg 0.x) checkpoints hold tensors and plain Python values only (the old mmcv's pickled
# objects are for convert_checkpoint's --trust-pickle).
MMENGINE_CHECKPOINT_GLOBALS: list = [HistoryBuffer, getattr, *_numpy_globals()]


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints (idempotent)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
