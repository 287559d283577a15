"""Mixed-precision training: ``--amp fp16|bf16`` as config entries, and one clear error where it cannot run.

The entries go into the run's config (its ``config.py`` records them), so the config alone says
how the run trains and a resume trains the same way.
"""
from __future__ import annotations

from typing import Any

from ..utils.errors import DaspmInputError

#: ``--amp`` choice -> the autocast dtype of mmengine's AmpOptimWrapper
AMP_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


def amp_config_options(amp: str | None) -> dict[str, Any]:
    """The config entries of ``--amp`` (none for None), to be merged like ``--cfg-options``.

    fp16 scales the loss dynamically (its range is small); bf16 has float32's range and needs no
    scaling, which also spares the check for infinite gradients a loss scaler makes every step.
    """
    if amp is None:
        return {}
    if amp not in AMP_DTYPES:
        raise DaspmInputError(f'--amp {amp}: choose one of {", ".join(AMP_DTYPES)}')
    return {'optim_wrapper.type': 'AmpOptimWrapper', 'optim_wrapper.dtype': AMP_DTYPES[amp],
            'optim_wrapper.loss_scale': 'dynamic' if amp == 'fp16' else dict(enabled=False)}


def command_line_options(amp: str | None, cfg_options: dict | None) -> dict[str, Any]:
    """The config entries a training command gets: ``--amp``'s, then ``--cfg-options`` (which take precedence)."""
    return {**amp_config_options(amp), **(cfg_options or {})}


def check_amp_device(cfg) -> None:
    """Refuse a mixed-precision config on a machine without an accelerator mmengine's AMP runs on.

    Without one, mmengine stops with an assertion deep inside the runner; this says what to change.
    """
    wrapper = cfg.get('optim_wrapper') or {}
    if wrapper.get('type') == 'AmpOptimWrapper':
        require_amp_device()


def require_amp_device() -> None:
    """Raise the one-line error of :func:`check_amp_device` unless a GPU (or NPU, MLU, MUSA) is visible."""
    from mmengine import device

    if not any(getattr(device, f'is_{kind}_available', lambda: False)() for kind in ('cuda', 'npu', 'mlu', 'musa')):
        raise DaspmInputError('mixed precision (optim_wrapper.type=AmpOptimWrapper, e.g. from --amp) needs a GPU, '
                              'and none is visible: train without --amp here, or with '
                              '--cfg-options optim_wrapper.type=OptimWrapper for a config that sets it')
