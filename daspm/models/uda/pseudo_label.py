"""Teacher pseudo-labels and their confidence weight (DACS)."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['pseudo_labels_from_logits', 'pseudo_labels_with_share', 'pseudo_labels_with_confidence']


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
    label, weight, share = pseudo_labels_with_share(logits, threshold, margins, valid, per_pixel)
    return label, weight, share.item()


def pseudo_labels_with_share(
    logits: Tensor,
    threshold: float = 0.968,
    margins: tuple[int, int, int, int] = (0, 0, 0, 0),
    valid: Tensor | None = None,
    per_pixel: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`pseudo_labels_from_logits` with the share as a 0-dim float64 tensor on the logits' device.

    Nothing here waits for the device (no ``.item()``): the training step logs the tensor, and the
    logger reads it after the step. The values are those of the Python arithmetic this replaces:
    the share of a padded batch is the float64 quotient of the two counts, and the weight map
    holds it rounded to float32.
    """
    return pseudo_labels_with_confidence(logits, threshold, margins, valid, per_pixel)[:3]


def pseudo_labels_with_confidence(
    logits: Tensor,
    threshold: float = 0.968,
    margins: tuple[int, int, int, int] = (0, 0, 0, 0),
    valid: Tensor | None = None,
    per_pixel: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`pseudo_labels_with_share` plus the [B,H,W] bool map of confident pixels (for diagnostics)."""
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
            share = confident.float().mean().double()
        else:
            if valid.shape != max_prob.shape:
                raise ValueError(f'valid mask {tuple(valid.shape)} does not match logits {tuple(max_prob.shape)}')
            valid = valid.to(max_prob.device)
            share = (confident & valid).sum().double() / valid.sum().clamp(min=1).double()
        weight = confident.float() if per_pixel else share.to(max_prob.dtype).expand_as(max_prob).clone()
        if valid is not None:
            weight.masked_fill_(~valid, 0)  # not weight[~valid] = 0: boolean indexing waits for the GPU
        b, h, w = weight.shape
        if top > 0:
            weight[:, :top, :] = 0
        if bottom > 0:
            weight[:, max(h - bottom, 0):, :] = 0
        if left > 0:
            weight[:, :, :left] = 0
        if right > 0:
            weight[:, :, max(w - right, 0):] = 0
    return pseudo_label.long(), weight, share, confident
