"""ImageNet feature distance (FD) regulariser of DAFormer: label downscaling, mask and loss."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...utils.device import host_to_device

__all__ = ['downscale_label_ratio', 'feature_distance_mask', 'feature_distance_loss', 'masked_mean']


def _as_b1hw(label: Tensor) -> Tensor:
    """Accept [B,H,W] or [B,1,H,W] labels and return [B,1,H,W]."""
    if label.dim() == 3:
        return label.unsqueeze(1)
    if label.dim() == 4 and label.shape[1] == 1:
        return label
    raise ValueError(f'label must be [B,H,W] or [B,1,H,W], got {tuple(label.shape)}')


def _majority(label: Tensor, num_classes: int, min_ratio: float, ignore_index: int,
              pool) -> Tensor:
    """One-hot (ignore = extra class), pool with ``pool``, majority class or ignore if unsure."""
    label = _as_b1hw(label)[:, 0].long()
    # Ignore and any out-of-range value become the extra class ``num_classes``.
    valid = (label >= 0) & (label < num_classes) & (label != ignore_index)
    idx = torch.where(valid, label, torch.full_like(label, num_classes))
    onehot = F.one_hot(idx, num_classes + 1).permute(0, 3, 1, 2).float()
    share, majority = pool(onehot).max(dim=1, keepdim=True)
    out = majority.long()
    unsure = (share < min_ratio) | (out == num_classes)
    return out.masked_fill(unsure, ignore_index)


def downscale_label_ratio(label: Tensor, scale_factor: int, min_ratio: float, num_classes: int,
                          ignore_index: int = 255) -> Tensor:
    """Majority-downscale a label by ``scale_factor`` to [B,1,h,w] long; ignore where unsure.

    A cell is ``ignore_index`` when its majority is the ignore class or the majority's share of
    the cell is below ``min_ratio``. Sizes not divisible by the factor use ``ceil_mode``: the last
    row/column of cells covers the remaining pixels and its shares are over those pixels only.
    """
    k = int(scale_factor)
    if k < 1:
        raise ValueError(f'scale_factor must be >= 1, got {scale_factor}')
    return _majority(label, num_classes, min_ratio, ignore_index,
                     lambda x: F.avg_pool2d(x, kernel_size=k, stride=k, ceil_mode=True))


def feature_distance_mask(label: Tensor, feat_shape: Sequence[int],
                          classes: Sequence[int] | None, scale_min_ratio: float,
                          num_classes: int, ignore_index: int = 255) -> Tensor:
    """[B,1,h,w] bool mask of feature cells whose downscaled label is one of ``classes``.

    ``classes=None`` keeps every non-ignore class. The scale factor is ``H // h``; when the
    ceil-mode downscale does not land exactly on ``feat_shape`` (odd strides, padded encoders),
    adaptive average pooling onto ``feat_shape`` is used instead so the mask always matches.
    """
    label = _as_b1hw(label)
    h, w = int(feat_shape[-2]), int(feat_shape[-1])
    H, W = label.shape[-2:]
    scale = max(H // h, 1)
    if -(-H // scale) == h and -(-W // scale) == w:
        down = downscale_label_ratio(label, scale, scale_min_ratio, num_classes, ignore_index)
    else:
        down = _majority(label, num_classes, scale_min_ratio, ignore_index,
                         lambda x: F.adaptive_avg_pool2d(x, (h, w)))
    if classes is None:
        return down != ignore_index
    keep = host_to_device(torch.as_tensor(list(classes), dtype=down.dtype), down.device)
    return torch.isin(down, keep)


def feature_distance_loss(student_feat: Tensor, imnet_feat: Tensor, mask: Tensor | None,
                          weight: float) -> Tensor:
    """``weight`` x mean over masked cells of ||student - imnet|| (L2 over channels).

    The ImageNet feature is detached. An empty mask gives ``student_feat.sum() * 0``: zero, yet
    still attached to the graph so ``backward()`` works and yields zero gradients (the reference
    took the mean of an empty tensor and produced NaN).
    """
    if student_feat.shape != imnet_feat.shape:
        raise ValueError(f'feature shapes differ: {tuple(student_feat.shape)} vs '
                         f'{tuple(imnet_feat.shape)}')
    dist = torch.norm(student_feat - imnet_feat.detach(), p=2, dim=1)  # [B,h,w]
    if mask is not None:
        m = mask[:, 0] if mask.dim() == 4 else mask
        if m.shape != dist.shape:
            raise ValueError(f'mask shape {tuple(mask.shape)} does not match features '
                             f'{tuple(student_feat.shape)}')
        if dist.device.type != 'cpu':
            return masked_mean(dist, m.bool()) * weight
        # on the CPU nothing waits: the selected cells' own mean, as every CPU result so far
        dist = dist[m.bool()]
    if dist.numel() == 0:
        return student_feat.sum() * 0.0
    return dist.mean() * weight


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` (bool, same shape), 0 for an empty mask: without waiting for the device.

    Selecting the cells by boolean indexing gives a tensor whose size depends on the data, so
    on a GPU the host waits for every queued kernel in the middle of the step; a masked sum over
    the count waits for nothing. Equal to the selected cells' mean up to float rounding (the
    sum runs in another order). An empty mask gives 0 that stays attached to the graph, with
    zero gradients.
    """
    selected = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return selected.sum() / mask.sum().clamp_min(1).to(values.dtype)
