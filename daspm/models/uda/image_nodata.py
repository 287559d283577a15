"""Which target pixels hold image data: batch padding and the images' own nodata do not."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ...utils.sample_fields import IMAGE_NODATA_FIELD


def image_data_mask(samples, batch_shape: Sequence[int], device: torch.device) -> Tensor | None:
    """[B,H,W] bool: False on the pixels a sample's ``img_nodata_mask`` marks (NaN/Inf/nodata input).

    The mask comes from the image (the data pipeline's PackSegInputsWithNodata), never from a label.
    Pixels outside a sample's mask (batch padding) stay True here: ``unpadded_mask`` covers them.
    None when no sample of the batch has nodata, so such batches take the unchanged route.
    """
    masks = [sample.get(IMAGE_NODATA_FIELD) for sample in samples]
    if all(mask is None for mask in masks):
        return None
    h, w = (int(v) for v in batch_shape)
    has_data = torch.ones((len(masks), h, w), dtype=torch.bool, device=device)
    for i, mask in enumerate(masks):
        if mask is not None:
            nodata = mask.data[0, :h, :w].to(device)
            has_data[i, :nodata.shape[0], :nodata.shape[1]] = ~nodata
    return has_data


def both(first: Tensor | None, second: Tensor | None) -> Tensor | None:
    """The AND of two optional masks (None = every pixel valid)."""
    if first is None:
        return second
    if second is None:
        return first
    return first & second
