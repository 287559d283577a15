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
    """The numpy callables and dtypes that pickled arrays and scalars refer to."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core to np._core
    dtype_classes = [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'uint8', 'bool')]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


# HistoryBuffer pickles its bound statistics methods as ``getattr(buffer, 'mean')``, so
# ``getattr`` is needed too. It only looks attributes up: the weights-only unpickler still calls
# nothing but allow-listed callables (its REDUCE refuses any other function).
MMENGINE_CHECKPOINT_GLOBALS: list = [HistoryBuffer, getattr, *_numpy_globals()]


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints (idempotent)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
