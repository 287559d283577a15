"""Strong photometric augmentation of mixed images (DACS): colour jitter + Gaussian blur.

Works on the normalised network input: it denormalises (``x*std + mean``), divides by
``value_scale`` (the denormalised value of white: 1 for images scaled to [0, 1], 255 for 8-bit
values), augments, and renormalises. All random decisions are drawn from ``generator`` (one fixed
sequence of draws per call), so a seeded generator reproduces the output exactly. Decisions are
taken per image (the reference drew one per batch; METHOD.md allows either).

The colour jitter follows kornia 0.5.8's ``ColorJitter``, which DAFormer pins: the four parts in
a random order, each factor f uniform in [1-s, 1+s]:

* brightness ``x + (f - 1)`` (additive),
* contrast ``x * f`` (multiplicative, no mean),
* saturation: HSV ``S * f`` (S clamped to [0, 1]),
* hue: HSV ``H + h`` with h uniform in [-s, s] turns.

With ``clamp=True`` every part clamps to [0, 1] as kornia 0.5.8 does, which is right for inputs
that lie in [0, value_scale] at test time (8-bit images). Inputs that test time does not clip
(reflectance divided by a constant) use ``clamp=False``: nothing is clipped. Nothing outside the
jitter clamps: mixing and blurring are convex combinations, so they stay in the input's range.

Multispectral inputs (C != 3): brightness and contrast act on every channel; saturation and hue
are only defined for RGB, so they act on the first three channels, taken as R, G, B (skipped when
C < 3).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from kornia.color import hsv_to_rgb, rgb_to_hsv
from kornia.filters import gaussian_blur2d
from torch import Tensor

from ...utils.device import host_to_device

__all__ = ['strong_augment', 'blur_kernel_size', 'color_jitter']


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


def _clamp01(x: Tensor, clamp: bool) -> Tensor:
    return x.clamp(0.0, 1.0) if clamp else x


def _adjust_hsv(rgb: Tensor, saturation: Tensor | None, hue: Tensor | None) -> Tensor:
    """Scale HSV saturation by a per-image factor or rotate the hue by per-image turns."""
    h, s, v = rgb_to_hsv(rgb).unbind(dim=1)
    if saturation is not None:
        s = (s * saturation.view(-1, 1, 1)).clamp(0.0, 1.0)
    if hue is not None:
        h = torch.fmod(h + hue.view(-1, 1, 1) * (2 * math.pi), 2 * math.pi)
    return hsv_to_rgb(torch.stack((h, s, v), dim=1))


def color_jitter(x: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor,
                 hue: Tensor, order: Sequence[int], clamp: bool = True) -> Tensor:
    """kornia 0.5.8 ColorJitter parts in ``order`` (0 brightness, 1 contrast, 2 saturation, 3 hue).

    ``x`` is [N,C,H,W] with 1 = white; factors are per image ([N]); hue in turns.
    """
    n = x.shape[0]
    for op in order:
        if op == 0:
            x = _clamp01(x + (brightness.view(n, 1, 1, 1) - 1.0), clamp)
        elif op == 1:
            x = _clamp01(x * contrast.view(n, 1, 1, 1), clamp)
        elif op in (2, 3) and x.shape[1] >= 3:
            rgb = _adjust_hsv(x[:, :3], saturation if op == 2 else None, hue if op == 3 else None)
            x = torch.cat([_clamp01(rgb, clamp), x[:, 3:]], dim=1)
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
    clamp: bool = True,
) -> Tensor:
    """Colour-jitter (p per image) and Gaussian-blur (p per image) normalised [B,C,H,W] images.

    ``value_scale`` is the denormalised value of white (1 for [0, 1] inputs, 255 for 8-bit
    values with mean/std in 8-bit units). ``clamp`` clamps the jitter parts to [0, white] as
    kornia 0.5.8; without jitter nothing is clamped. ``hue_strength`` bounds the hue shift in
    turns; None uses ``color_jitter_strength`` (the reference), 0 keeps hues.
    Returns a new tensor on the input's device with the input's dtype.
    """
    if images.dim() != 4:
        raise ValueError(f'images must be [B,C,H,W], got {tuple(images.shape)}')
    if value_scale <= 0:
        raise ValueError(f'value_scale must be positive, got {value_scale}')
    b, c, h, w = images.shape
    device, dtype = images.device, images.dtype
    mean_t = _channel_tensor(mean, c, device)
    std_t = _channel_tensor(std, c, device)

    # All draws happen in this fixed order, whatever is applied, so a seed fixes everything.
    # They stay on the generator's device (the CPU for DACS's generator): which images are
    # jittered or blurred is then known without waiting for the GPU, and only the factors of the
    # selected images are copied over.
    rand_device = generator.device if generator is not None else torch.device('cpu')

    def rand(n: int) -> Tensor:
        return torch.rand(n, generator=generator, device=rand_device)

    def on_device(values: Tensor) -> Tensor:
        return host_to_device(values, device)

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
        x = (images.detach().float() * std_t + mean_t) / value_scale

        sel = jitter_on.nonzero().flatten()
        if sel.numel() > 0 and s > 0:
            factors = on_device(torch.stack((brightness[sel], contrast[sel], saturation[sel], hue[sel])))
            sel = on_device(sel)
            x[sel] = color_jitter(x[sel], *factors.unbind(0), order, clamp=clamp)

        sel = blur_on.nonzero().flatten()
        if sel.numel() > 0:
            kernel = (blur_kernel_size(h), blur_kernel_size(w))
            # sigma stays on the host: kornia checks that it is positive where it lives (on the GPU
            # that check would wait for the device) and copies it over without waiting
            sig = sigma[sel].view(-1, 1).expand(-1, 2).contiguous()
            sel = on_device(sel)
            x[sel] = gaussian_blur2d(x[sel], kernel, sig, border_type='reflect')

    out = (x * value_scale - mean_t) / std_t
    return out.to(dtype)
