"""Hook that draws the UDA segmentor's last training batch as a PNG grid every N iterations."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...utils.colors import colorize, to_display_rgb

# (key in debug_output, title, kind) in the order of the method's debug grid.
PANELS: tuple[tuple[str, str, str], ...] = (
    ('source_image', 'source', 'image'),
    ('target_image', 'target', 'image'),
    ('mixed_image', 'mixed image', 'image'),
    ('source_label', 'source label', 'label'),
    ('pseudo_label', 'pseudo-label', 'label'),
    ('mix_mask', 'mix mask', 'grey'),
    ('mixed_label', 'mixed label', 'label'),
    ('pseudo_weight', 'pseudo-weight', 'grey'),
    ('fd_mask', 'FD mask', 'grey'),
)
# Panels drawn only when the segmentor sets them (DACS with MIC: the masked target image).
OPTIONAL_PANELS: tuple[tuple[str, str, str], ...] = (
    ('masked_image', 'masked image', 'image'),
)


@HOOKS.register_module()
class DebugImageHook(Hook):
    """Every ``interval`` iterations write ``<work_dir>/<out_dir_name>/iter_<N>.png`` from ``model.debug_output``.

    One row per image (at most ``max_images``) with the panels source, target, mixed image,
    source label, pseudo-label, mix mask, mixed label, pseudo-weight and FD mask, then the masked
    image when the segmentor sets one (MIC).
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1000, max_images: int = 2, out_dir_name: str = 'debug',
                 dpi: int = 80) -> None:
        self.interval = int(interval)
        self.max_images = int(max_images)
        self.out_dir_name = out_dir_name
        self.dpi = int(dpi)
        self._reported_missing = False

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Write the grid when ``runner.iter + 1`` is a multiple of ``interval``."""
        if self.interval <= 0 or not self.every_n_train_iters(runner, self.interval):
            return
        if not is_main_process():
            return
        model = _unwrap(runner.model)
        debug = getattr(model, 'debug_output', None)
        if not debug:
            if not self._reported_missing:
                print_log(f'DebugImageHook: {type(model).__name__} sets no debug_output; '
                          'no debug images are written', logger='current')
                self._reported_missing = True
            return
        path = Path(runner.work_dir) / self.out_dir_name / f'iter_{runner.iter + 1}.png'
        self.write_grid(debug, _palette(runner, model), path)

    def write_grid(self, debug: dict, palette: Sequence[Sequence[int]] | None, path: str | Path) -> Path:
        """Draw the panels of ``debug`` (tensors or arrays) into a PNG at ``path``."""
        from matplotlib.figure import Figure  # no pyplot: no global state, safe without a display

        panels = PANELS + tuple(p for p in OPTIONAL_PANELS if debug.get(p[0]) is not None)
        arrays = {key: _to_numpy(debug.get(key)) for key, _, _ in panels}
        batch = [a.shape[0] for a in arrays.values() if a is not None and a.ndim >= 3]
        rows = max(1, min(self.max_images, min(batch) if batch else 1))
        shape = _image_shape(arrays)
        mean, std = _to_numpy(debug.get('mean')), _to_numpy(debug.get('std'))
        fig = Figure(figsize=(1.6 * len(panels), 1.75 * rows), dpi=self.dpi)
        axes = fig.subplots(rows, len(panels), squeeze=False)
        for r in range(rows):
            for col, (key, title, kind) in enumerate(panels):
                ax = axes[r][col]
                # A frame without ticks keeps white mask areas apart from the page.
                ax.set_xticks([])
                ax.set_yticks([])
                value = arrays[key]
                if value is None or (value.ndim >= 3 and value.shape[0] <= r):
                    ax.set_axis_off()
                    ax.set_title(f'{title} (n/a)', fontsize=7)
                    continue
                if kind == 'image':
                    ax.imshow(_display_image(value[r], mean, std), interpolation='nearest')
                elif kind == 'label':
                    ax.imshow(colorize(_plane(value, r, shape).astype(np.int64).clip(0, 255),
                                       _full_palette(palette)), interpolation='nearest')
                else:
                    plane = _plane(value, r, shape).astype(np.float32)
                    ax.imshow(plane, cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
                    if key == 'pseudo_weight':
                        title = f'{title} {plane.mean():.2f}'
                ax.set_title(title, fontsize=7)
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9 if rows == 1 else 0.94,
                            wspace=0.05, hspace=0.25)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=self.dpi)
        return path


def _unwrap(model: Any) -> Any:
    """The segmentor inside a DDP/FSDP wrapper."""
    if is_model_wrapper(model) or (not hasattr(model, 'debug_output') and hasattr(model, 'module')):
        return model.module
    return model


def _palette(runner: Any, model: Any) -> Sequence[Sequence[int]] | None:
    """Class palette from the model's dataset_meta, else from the training dataset's metainfo."""
    meta = getattr(model, 'dataset_meta', None) or {}
    if meta.get('palette') is not None:
        return meta['palette']
    try:
        meta = runner.train_dataloader.dataset.metainfo or {}
    except Exception:  # noqa: BLE001  (no train dataloader, e.g. a test runner or a stub)
        return None
    return meta.get('palette')


def _full_palette(palette: Sequence[Sequence[int]] | None) -> np.ndarray:
    """The palette, extended with fixed pseudo-random colours for ids it does not cover."""
    extra = np.random.default_rng(0).integers(0, 256, (255, 3), dtype=np.uint8)
    if palette is None or len(palette) == 0:
        return extra
    own = np.asarray(palette, np.uint8).reshape(-1, 3)[:255]
    return np.concatenate([own, extra[len(own):]])


def _to_numpy(value: Any) -> np.ndarray | None:
    """Tensor (any device/dtype), array or list -> float/int numpy array; None stays None."""
    if value is None:
        return None
    if hasattr(value, 'detach'):
        value = value.detach()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()  # numpy has no bfloat16
        return value.cpu().numpy()
    return np.asarray(value)


def _image_shape(arrays: dict[str, np.ndarray | None]) -> tuple[int, int] | None:
    """(H, W) of the network input, used to upsample the FD mask and fill scalar weights."""
    for key in ('source_image', 'mixed_image', 'target_image', 'source_label', 'mixed_label'):
        value = arrays.get(key)
        if value is not None and value.ndim >= 3:
            return tuple(value.shape[-2:])  # type: ignore[return-value]
    return None


def _plane(value: np.ndarray, index: int, shape: tuple[int, int] | None) -> np.ndarray:
    """Item ``index`` of a [B,H,W] / [B,1,H,W] / [B] array as (H, W), nearest-upsampled to ``shape``."""
    item = np.asarray(value[index]) if value.ndim >= 1 else np.asarray(value)
    while item.ndim > 2:
        item = item[0]
    if item.ndim < 2:
        # A scalar per image (e.g. one pseudo-weight per batch) fills the panel.
        return np.full(shape or (8, 8), float(item.reshape(-1)[0]) if item.size else 0.0, np.float32)
    if shape is not None and item.shape != tuple(shape):
        rows = np.arange(shape[0]) * item.shape[0] // shape[0]
        cols = np.arange(shape[1]) * item.shape[1] // shape[1]
        item = item[rows][:, cols]
    return item


def _display_image(img: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
    """Normalised (C, H, W) network input -> uint8 RGB of its first three channels, 2-98 % stretched."""
    img = img.astype(np.float32)
    channels = img.shape[0]
    if std is not None:
        img = img * _per_channel(std, channels)
    if mean is not None:
        img = img + _per_channel(mean, channels)
    hwc = img.transpose(1, 2, 0)
    if channels < 3:
        # Grey (or two-band) input: repeat the first band so it displays as grey.
        hwc = np.concatenate([hwc, np.repeat(hwc[..., :1], 3 - channels, axis=2)], axis=2)
    return to_display_rgb(hwc)


def _per_channel(values: np.ndarray, channels: int) -> np.ndarray:
    """Mean/std values as a (C, 1, 1) array: one per channel, or one for all."""
    flat = np.asarray(values, np.float32).reshape(-1)
    if flat.size == 1:
        flat = np.repeat(flat, channels)
    elif flat.size < channels:
        flat = np.concatenate([flat, np.repeat(flat[-1:], channels - flat.size)])
    return flat[:channels].reshape(-1, 1, 1)
