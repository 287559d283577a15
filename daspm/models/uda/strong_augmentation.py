"""Strong photometric augmentation of mixed images (DACS): colour jitter + Gaussian blur.

Works on the normalised network input: it denormalises (``x*std + mean``, divided by
``value_scale``) to values in [0, 1], augments, and renormalises. All random decisions are drawn
from ``generator`` (one fixed sequence of draws per call), so a seeded generator reproduces the
output exactly. Decisions are taken per image (the reference drew one per batch; METHOD.md allows
either).

Multispectral inputs (C != 3): brightness and contrast act on every channel; saturation and hue
are only defined for RGB, so they act on the first three channels, taken as R, G, B (skipped when
C < 3). Contrast of a 3-channel image blends with its grayscale mean (torchvision/kornia
convention); with C != 3 there is no grayscale, so each channel blends with its own spatial mean.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from kornia.enhance import adjust_contrast_with_mean_subtraction, adjust_hue, \
    adjust_saturation_with_gray_subtraction
from kornia.filters import gaussian_blur2d
from torch import Tensor

__all__ = ['strong_augment', 'blur_kernel_size']


def blur_kernel_size(side: int) -> int:
    """Odd Gaussian kernel about 10% of ``side`` (at least 3, at most 2*side-1 for reflect pad)."""
    k = max(3, int(0.1 * side) // 2 * 2 + 1)
    return min(k, 2 * side - 1)


def _channel_tensor(values: Sequence[float] | Tensor, channels: int, device: torch.device) -> Tensor:
    """Per-channel statistics as a float32 [1,C,1,1] tensor (a single value is broadcast)."""
    t = torch.as_tensor(values, dtype=torch.float32, device=device).flatten()
    if t.numel() == 1:
        t = t.expand(channels)
    if t.numel() != channels:
        raise ValueError(f'got {t.numel()} mean/std values for {channels} channels')
    return t.view(1, channels, 1, 1)


def _color_jitter(x: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor,
                  hue: Tensor, order: list[int]) -> Tensor:
    """Apply the four adjustments in ``order`` to [N,C,H,W] images in [0,1], per-image factors."""
    n, c = x.shape[:2]
    for op in order:
        if op == 0:  # brightness: multiplicative, as kornia's ColorJitter (torchvision formula)
            x = (x * brightness.view(n, 1, 1, 1)).clamp(0.0, 1.0)
        elif op == 1:
            if c == 3:
                x = adjust_contrast_with_mean_subtraction(x, contrast)
            else:
                f = contrast.view(n, 1, 1, 1)
                x = (x * f + x.mean(dim=(-2, -1), keepdim=True) * (1 - f)).clamp(0.0, 1.0)
        elif op == 2 and c >= 3:
            rgb = adjust_saturation_with_gray_subtraction(x[:, :3], saturation)
            x = torch.cat([rgb, x[:, 3:]], dim=1)
        elif op == 3 and c >= 3:
            # hue is drawn in turns (as kornia's ColorJitter) and applied in radians.
            rgb = adjust_hue(x[:, :3], hue * (2 * math.pi)).clamp(0.0, 1.0)
            x = torch.cat([rgb, x[:, 3:]], dim=1)
    return x


@torch.no_grad()
def strong_augment(
    images: Tensor,
    mean: Sequence[float] | Tensor,
    std: Sequence[float] | Tensor,
    *,
    color_jitter_p: float = 0.8,
    color_jitter_strength: float = 0.2,
    hue_strength: float | None = None,
    blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.15, 1.15),
    generator: torch.Generator | None = None,
    value_scale: float = 1.0,
) -> Tensor:
    """Colour-jitter (p per image) and Gaussian-blur (p per image) normalised [B,C,H,W] images.

    ``value_scale`` divides the denormalised image to bring it into [0, 1] (1 for this project's
    [0, 1] inputs; 255 when mean/std are in 8-bit units, e.g. mmseg's ImageNet defaults). The
    denormalised image is clamped to [0, 1], so the output always denormalises into [0, 1].
    ``hue_strength`` bounds the hue shift in turns; None uses ``color_jitter_strength`` (the
    reference), 0 keeps hues (for imagery whose classes differ mainly by colour).
    Returns a new tensor on the input's device with the input's dtype.
    """
    if images.dim() != 4:
        raise ValueError(f'images must be [B,C,H,W], got {tuple(images.shape)}')
    b, c, h, w = images.shape
    device, dtype = images.device, images.dtype
    mean_t = _channel_tensor(mean, c, device)
    std_t = _channel_tensor(std, c, device)

    # All draws happen in this fixed order, whatever is applied, so a seed fixes everything.
    rand_device = generator.device if generator is not None else torch.device('cpu')

    def rand(n: int) -> Tensor:
        return torch.rand(n, generator=generator, device=rand_device).to(device)

    s = float(color_jitter_strength)
    jitter_on = rand(b) < color_jitter_p
    # Factor ranges as kornia's ColorJitter(s, s, s, s): [max(0, 1-s), 1+s] and hue in [-s, s] turns.
    lo = max(0.0, 1.0 - s)
    brightness = lo + (1.0 + s - lo) * rand(b)
    contrast = lo + (1.0 + s - lo) * rand(b)
    saturation = lo + (1.0 + s - lo) * rand(b)
    hs = min(s if hue_strength is None else float(hue_strength), 0.5)
    hue = -hs + 2 * hs * rand(b)  # drawn even when hs is 0, so the other draws keep their order
    order = torch.randperm(4, generator=generator, device=rand_device).tolist()
    blur_on = rand(b) < blur_p
    sig_lo, sig_hi = float(blur_sigma[0]), float(blur_sigma[1])
    sigma = sig_lo + (sig_hi - sig_lo) * rand(b)

    # Augment in float32, also inside an AMP autocast region (DACS runs this in the optimizer
    # wrapper's context): kornia's colour conversions are not reliable in half precision, and an
    # autocast blur would return bf16/fp16 into this float32 buffer.
    with torch.autocast(device_type=device.type, enabled=False):
        x = ((images.detach().float() * std_t + mean_t) / value_scale).clamp(0.0, 1.0)

        sel = jitter_on.nonzero().flatten()
        if sel.numel() > 0 and s > 0:
            x[sel] = _color_jitter(x[sel], brightness[sel], contrast[sel], saturation[sel], hue[sel],
                                   order)

        sel = blur_on.nonzero().flatten()
        if sel.numel() > 0:
            kernel = (blur_kernel_size(h), blur_kernel_size(w))
            sig = sigma[sel].view(-1, 1).expand(-1, 2).contiguous()
            x[sel] = gaussian_blur2d(x[sel], kernel, sig, border_type='reflect')

    out = (x * value_scale - mean_t) / std_t
    return out.to(dtype)
