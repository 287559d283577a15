"""Two measurements behind the reference recipe on the published data (issue notes cite them).

1. The share of target crops that the headline config's own training pipeline pads: it resizes
   every target image to 1024x512 x ratio 0.5-2.0 (keep ratio) and crops 320, so small ratios
   leave crops smaller than 320 that the data preprocessor pads.
2. The colour jitter of ``daspm`` against kornia 0.5.8's formulas written out here (brightness
   added, contrast multiplied, HSV saturation scaled, clamps after each part), per [0, 1] pixel,
   and how far the torchvision-style formulas used before were from them.

    .venv/bin/python benchmarks/reference_recipe_checks.py [--data DIR] [--crops 2000] [--json OUT]

``--data`` is a converted published-layout target (default: generates a small one in a temporary
folder with ``tools/make_synthetic_dataset.py --layout reference``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from daspm.apis.config_loading import load_config
from daspm.models.uda.strong_augmentation import color_jitter

REPO = Path(__file__).resolve().parents[1]

HEADLINE = REPO / 'configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'


def padded_share(target_root: Path, crops: int, seed: int = 0) -> dict:
    """Run the headline target training pipeline ``crops`` times; count crops smaller than the crop."""
    import daspm.register  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    init_default_scope('mmseg')
    cfg = load_config(HEADLINE)
    crop = tuple(cfg.crop_size)
    target = dict(cfg.train_dataloader.dataset.target, data_root=str(target_root))
    dataset = DATASETS.build(target)
    np.random.seed(seed)  # mmcv's RandomResize / RandomCrop draw from numpy's global generator
    padded = 0
    for i in range(crops):
        shape = tuple(dataset[i % len(dataset)]['inputs'].shape[-2:])
        padded += shape != crop
    return dict(crops=crops, padded=padded, share=padded / crops,
                expected=(0.625 - 0.5) / 1.5)  # ratio < 320/512 of the 0.5-2.0 range (square tiles)


def _hsv_saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """HSV saturation x f, written out: V = max, min' = V (1 - S f), channels keep their place."""
    v = x.max(dim=1, keepdim=True).values
    mn = x.min(dim=1, keepdim=True).values
    s = torch.where(v > 0, (v - mn) / v.clamp_min(1e-12), torch.zeros_like(v))
    s_new = (s * f.view(-1, 1, 1, 1)).clamp(0, 1)
    mn_new = v * (1 - s_new)
    rel = torch.where(v > mn, (x - mn) / (v - mn).clamp_min(1e-12), torch.zeros_like(x))
    return mn_new + rel * (v - mn_new)


def kornia_058(x, b, c, s, order):
    """kornia 0.5.8 ColorJitter without hue (unchanged here), written out."""
    n = x.shape[0]
    for op in order:
        if op == 0:
            x = (x + (b - 1).view(n, 1, 1, 1)).clamp(0, 1)
        elif op == 1:
            x = (x * c.view(n, 1, 1, 1)).clamp(0, 1)
        elif op == 2:
            x = _hsv_saturation(x, s).clamp(0, 1)
    return x


def torchvision_style(x, b, c, s, order):
    """The formulas used before (multiplied brightness, contrast/saturation blended with grey)."""
    n = x.shape[0]
    for op in order:
        grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        if op == 0:
            x = (x * b.view(n, 1, 1, 1)).clamp(0, 1)
        elif op == 1:
            x = (x * c.view(n, 1, 1, 1) + grey.mean(dim=(-2, -1), keepdim=True) * (1 - c.view(n, 1, 1, 1))).clamp(0, 1)
        elif op == 2:
            x = (x * s.view(n, 1, 1, 1) + grey * (1 - s.view(n, 1, 1, 1))).clamp(0, 1)
    return x


def jitter_differences(images: torch.Tensor, strength: float = 0.2, seed: int = 0) -> dict:
    """Mean/max per-pixel difference of daspm's jitter vs the written-out formulas, and of the old one."""
    gen = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    ours, old = [], []
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        b, c, s = ((1 - strength) + 2 * strength * torch.rand(n, generator=gen) for _ in range(3))
        written = kornia_058(images, b, c, s, order)
        got = color_jitter(images, b, c, s, torch.zeros(n), order)
        ours.append((got - written).abs())
        old.append((torchvision_style(images, b, c, s, order) - written).abs())
    ours_t, old_t = torch.cat([o.flatten() for o in ours]), torch.cat([o.flatten() for o in old])
    return dict(daspm_vs_formulas_mean=ours_t.mean().item(), daspm_vs_formulas_max=ours_t.max().item(),
                previous_vs_formulas_mean=old_t.mean().item(), previous_vs_formulas_max=old_t.max().item())


def load_rgb_tiles(root: Path, limit: int = 16) -> torch.Tensor:
    """Up to ``limit`` 8-bit RGB images of a converted dataset as [N,3,H,W] in [0, 1] (cropped alike)."""
    import rasterio

    tiles = []
    for path in sorted((root / 'img_dir').glob('*.tif'))[:limit]:
        with rasterio.open(path) as src:
            tiles.append(torch.from_numpy(src.read([1, 2, 3]).astype(np.float32) / 255.0))
    side = min(min(t.shape[-2:]) for t in tiles)
    return torch.stack([t[:, :side, :side] for t in tiles])


def main() -> None:
    """Print both measurements (and write them as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', type=Path, help='converted published-layout target (sentinel_converted)')
    parser.add_argument('--crops', type=int, default=2000)
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            raw = Path(tmp) / 'data'
            subprocess.run([sys.executable, str(REPO / 'tools/make_synthetic_dataset.py'), str(raw),
                            '--layout', 'reference', '--tile-size', '160', '--num-source', '4',
                            '--num-target', '8', '--quiet'], check=True)
            subprocess.run([sys.executable, str(REPO / 'tools/convert_datasets/sentinel10m.py'),
                            str(raw / 'sentinel')], check=True, capture_output=True)
            data = raw / 'sentinel_converted'
        pad = padded_share(data, args.crops)
        jitter = jitter_differences(load_rgb_tiles(data))
    print(f'padded target crops: {pad["padded"]} of {pad["crops"]} = {100 * pad["share"]:.1f} % '
          f'(square tiles, expected {100 * pad["expected"]:.1f} %)')
    print(f'colour jitter vs kornia 0.5.8 formulas per [0,1] pixel: mean {jitter["daspm_vs_formulas_mean"]:.2e}, '
          f'max {jitter["daspm_vs_formulas_max"]:.2e}')
    print(f'previous (torchvision-style) jitter vs the same formulas: mean {jitter["previous_vs_formulas_mean"]:.3f}, '
          f'max {jitter["previous_vs_formulas_max"]:.3f}')
    if args.json:
        args.json.write_text(json.dumps(dict(padding=pad, jitter=jitter), indent=2) + '\n')


if __name__ == '__main__':
    main()
