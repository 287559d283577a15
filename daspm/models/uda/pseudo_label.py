"""Teacher pseudo-labels and their confidence weight (DACS)."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['pseudo_labels_from_logits']


def pseudo_labels_from_logits(
    logits: Tensor,
    threshold: float = 0.968,
    margins: tuple[int, int, int, int] = (0, 0, 0, 0),
    valid: Tensor | None = None,
    per_pixel: bool = False,
) -> tuple[Tensor, Tensor, float]:
    """Return (argmax pseudo-label [B,H,W] long, weight map [B,H,W] float, confident share).

    The confident share is the fraction of *all* pixels of the batch whose maximum softmax
    probability is ``>= threshold``; it is one scalar per batch and fills the weight map. The
    weight is then set to 0 on ``margins = (top, bottom, left, right)`` rows/columns. The
    reference (DAFormer, Cityscapes) used top 15 / bottom 120 to drop the ego-car bonnet and the
    rectification border; that is a Cityscapes artefact, so for remote sensing the default is 0.

    ``valid`` ([B,H,W] bool, optional) marks the pixels that hold image data: the share is taken
    over them only and the others (batch padding) get weight 0.

    ``per_pixel=True`` (a deviation from DACS, for ambiguous sub-pixel targets) weighs each pixel
    on its own: 1 where the teacher is confident, 0 elsewhere, instead of the batch's share on
    every pixel. The returned share is the same either way.
    """
    if logits.dim() != 4:
        raise ValueError(f'logits must be [B,C,H,W], got shape {tuple(logits.shape)}')
    top, bottom, left, right = (int(m) for m in margins)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f'margins must be non-negative, got {margins}')
    with torch.no_grad():
        # Softmax in float32: fp16 logits saturate and would bias the confidence share.
        probs = torch.softmax(logits.detach().float(), dim=1)
        max_prob, pseudo_label = torch.max(probs, dim=1)
        confident = max_prob >= threshold
        if valid is None:
            share = confident.float().mean().item()
        else:
            if valid.shape != max_prob.shape:
                raise ValueError(f'valid mask {tuple(valid.shape)} does not match logits {tuple(max_prob.shape)}')
            valid = valid.to(max_prob.device)
            share = (confident & valid).sum().item() / max(int(valid.sum().item()), 1)
        weight = confident.float() if per_pixel else torch.full_like(max_prob, share)
        if valid is not None:
            weight[~valid] = 0
        b, h, w = weight.shape
        if top > 0:
            weight[:, :top, :] = 0
        if bottom > 0:
            weight[:, max(h - bottom, 0):, :] = 0
        if left > 0:
            weight[:, :, :left] = 0
        if right > 0:
            weight[:, :, max(w - right, 0):] = 0
    return pseudo_label.long(), weight, float(share)
