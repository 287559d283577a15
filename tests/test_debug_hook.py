"""DebugImageHook: a PNG grid every N iterations from the segmentor's debug_output."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import torch

from daspm.classes import DASPM_PALETTE
from daspm.engine.hooks.debug_images import PANELS, DebugImageHook

H = W = 16


def debug_output(batch: int = 3, fd: bool = True) -> dict:
    """What the UDA segmentor stores each iteration (normalised images, labels, masks)."""
    g = torch.Generator().manual_seed(0)
    mean, std = [0.0, 0.0, 0.0, 0.0], [255.0, 255.0, 255.0, 255.0]
    image = lambda: torch.rand(batch, 4, H, W, generator=g)  # noqa: E731  (4 bands: first 3 shown)
    source_label = torch.randint(0, 5, (batch, 1, H, W), generator=g)
    source_label[:, :, :2] = 255
    mix_mask = (torch.rand(batch, 1, H, W, generator=g) > 0.5).float()
    pseudo = torch.randint(0, 5, (batch, H, W), generator=g)
    out = dict(source_image=image(), target_image=image(), mixed_image=image(),
               source_label=source_label, pseudo_label=pseudo, mix_mask=mix_mask,
               mixed_label=torch.where(mix_mask.bool(), source_label, pseudo[:, None]),
               pseudo_weight=torch.full((batch, H, W), 0.7), mean=mean, std=std)
    out['fd_mask'] = torch.rand(batch, 1, H // 4, W // 4, generator=g) > 0.5 if fd else None
    return out


def fake_runner(tmp_path, model, **kwargs) -> SimpleNamespace:
    return SimpleNamespace(iter=0, work_dir=str(tmp_path), model=model, **kwargs)


def run_iters(hook, runner, n):
    for i in range(n):
        runner.iter = i
        hook.after_train_iter(runner, batch_idx=i)


def test_png_only_on_the_interval(tmp_path):
    model = SimpleNamespace(debug_output=debug_output(), dataset_meta=dict(palette=DASPM_PALETTE))
    hook = DebugImageHook(interval=3, max_images=2)
    run_iters(hook, fake_runner(tmp_path, model), 7)
    files = sorted(p.name for p in (tmp_path / 'debug').iterdir())
    assert files == ['iter_3.png', 'iter_6.png']
    png = cv2.imread(str(tmp_path / 'debug' / 'iter_3.png'))
    # 9 panels of 1.6 x 1.75 inches at 80 dpi, two rows (max_images=2 of a batch of 3)
    assert png.shape == (round(1.75 * 2 * 80), round(1.6 * len(PANELS) * 80), 3)
    assert (tmp_path / 'debug' / 'iter_3.png').stat().st_size > 0
    # Labels use the class palette (BGR in OpenCV): 'urban area' red shows up.
    r, g, b = DASPM_PALETTE[1]
    assert (png == [b, g, r]).all(axis=2).any()


def test_wrapped_model_without_fd_mask_and_palette_from_the_dataloader(tmp_path):
    palette = [[10, 200, 30], [40, 50, 220], [70, 80, 90], [100, 110, 120], [130, 140, 150]]
    inner = SimpleNamespace(debug_output=debug_output(batch=1, fd=False), dataset_meta=None)
    dataloader = SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(palette=palette)))
    runner = fake_runner(tmp_path, SimpleNamespace(module=inner), train_dataloader=dataloader)
    hook = DebugImageHook(interval=2, max_images=4, out_dir_name='dbg')
    run_iters(hook, runner, 2)
    png = cv2.imread(str(tmp_path / 'dbg' / 'iter_2.png'))
    assert png.shape[0] == round(1.75 * 80)  # one row: the batch holds one image
    assert (png == [30, 200, 10]).all(axis=2).any()


def test_no_debug_output_is_skipped(tmp_path):
    hook = DebugImageHook(interval=1)
    run_iters(hook, fake_runner(tmp_path, SimpleNamespace()), 3)
    run_iters(hook, fake_runner(tmp_path, SimpleNamespace(debug_output=None)), 3)
    assert not (tmp_path / 'debug').exists()


def test_grid_from_numpy_and_scalar_weight(tmp_path):
    out = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in debug_output(batch=2).items()}
    out['pseudo_weight'] = np.array([0.3, 0.9], np.float32)  # one weight per image
    out['source_image'] = out['source_image'][:, :1]  # single band shows as grey
    del out['mean']
    path = DebugImageHook(max_images=2).write_grid(out, None, tmp_path / 'grid.png')
    assert path.is_file() and path.stat().st_size > 0
