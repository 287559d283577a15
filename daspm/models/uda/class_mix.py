"""Cross-domain ClassMix (DACS): paste half of a source image's classes onto a target image."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ...utils.device import host_to_device

__all__ = ['class_mix_masks', 'mix_batch', 'class_mix', 'present_classes', 'host_label_classes']

# Key of (image, class) in present_classes: image * _IMAGE_STRIDE + (class + _CLASS_OFFSET), which
# keeps any int32 class value (also negative ones) apart and sorted within its image.
_CLASS_OFFSET = 1 << 32
_IMAGE_STRIDE = 1 << 33


def present_classes(labels: Tensor) -> list[list[int]]:
    """The sorted class values of each [H,W] label of a [B,H,W] batch, read back from the device once.

    ``torch.unique`` per image would wait for the device once per image (its result size is
    data-dependent); one ``unique`` over (image, class) keys waits once for the whole batch.
    """
    batch = labels.shape[0]
    image = torch.arange(batch, device=labels.device, dtype=torch.int64).view(batch, *[1] * (labels.dim() - 1))
    keys = torch.unique(image * _IMAGE_STRIDE + (labels.long() + _CLASS_OFFSET)).tolist()
    classes: list[list[int]] = [[] for _ in range(batch)]
    for key in keys:  # sorted: by image, then by class
        classes[key // _IMAGE_STRIDE].append(key % _IMAGE_STRIDE - _CLASS_OFFSET)
    return classes


def host_label_classes(samples: Sequence) -> list[list[int]] | None:
    """The sorted class values of each data sample's ``gt_sem_seg``, when all of them are on the host.

    The labels as the loader yields them, before the data preprocessor copies (and pads) them:
    reading their classes makes the host wait for nothing. None when a label is already on a GPU
    (then ``class_mix_masks`` reads the classes from the batch, one wait).
    """
    labels = [sample.gt_sem_seg.data for sample in samples]
    if any(label.device.type != 'cpu' for label in labels):
        return None
    return [torch.unique(label).tolist() for label in labels]


def class_mix_masks(labels: Tensor, ignore_index: int = 255,
                    generator: torch.Generator | None = None,
                    classes: Sequence[Sequence[int]] | None = None) -> Tensor:
    """Per image, a [B,1,H,W] float mask of ceil(n/2) of its n present (non-ignore) classes.

    ``classes``: each image's sorted class values when the caller already has them on the host
    (``host_label_classes``); otherwise they are read from ``labels``. The draws are the same.
    """
    if labels.dim() == 4:
        if labels.shape[1] != 1:
            raise ValueError(f'labels must be [B,1,H,W] or [B,H,W], got {tuple(labels.shape)}')
        labels = labels[:, 0]
    elif labels.dim() != 3:
        raise ValueError(f'labels must be [B,1,H,W] or [B,H,W], got {tuple(labels.shape)}')
    # randperm must run on the generator's device; the permutation is then moved to the labels.
    rand_device = generator.device if generator is not None else torch.device('cpu')
    masks = torch.zeros((labels.shape[0], 1, *labels.shape[1:]), dtype=torch.float32,
                        device=labels.device)
    if classes is None:
        classes = present_classes(labels)
    elif len(classes) != labels.shape[0]:
        raise ValueError(f'classes: one list per image expected, got {len(classes)} for {labels.shape[0]} images')
    for i, (label, present) in enumerate(zip(labels, classes)):
        present = [c for c in present if c != ignore_index]
        n = len(present)
        if n == 0:
            continue  # nothing to paste: the mixed image is the target image
        perm = torch.randperm(n, generator=generator, device=rand_device)
        chosen = torch.tensor([present[j] for j in perm[:(n + 1) // 2].tolist()], dtype=label.dtype)
        masks[i, 0] = torch.isin(label, host_to_device(chosen, label.device)).float()
    return masks


def _align_mask(mask: Tensor, like: Tensor) -> Tensor:
    """Make a [B,1,H,W] or [B,H,W] mask broadcast against a [B,C,H,W] or [B,H,W] tensor."""
    if mask.dim() == 4 and like.dim() == 3:
        return mask[:, 0]
    if mask.dim() == 3 and like.dim() == 4:
        return mask.unsqueeze(1)
    return mask


def mix_batch(mask: Tensor, source: Tensor, target: Tensor) -> Tensor:
    """``mask*source + (1-mask)*target``, broadcast over channels, keeping ``source``'s dtype.

    Integer tensors (labels) are mixed with ``torch.where(mask != 0, ...)``, which equals the
    formula for the binary masks ClassMix produces and avoids a float round trip.
    """
    m = _align_mask(mask, source).to(source.device)
    if source.is_floating_point():
        m = m.to(source.dtype)
        return m * source + (1 - m) * target.to(source.dtype)
    return torch.where(m != 0, source, target.to(source.dtype))


def class_mix(mask: Tensor, source_img: Tensor, target_img: Tensor, source_label: Tensor,
              pseudo_label: Tensor, pseudo_weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Mix images, labels ([B,1,H,W] long) and weights ([B,H,W]; source pixels get weight 1)."""
    if pseudo_label.dim() == 3:
        pseudo_label = pseudo_label.unsqueeze(1)
    if source_label.dim() == 3:
        source_label = source_label.unsqueeze(1)
    mixed_img = mix_batch(mask, source_img, target_img)
    mixed_label = mix_batch(mask, source_label.long(), pseudo_label.long())
    # Pasted source pixels carry ground truth, hence full confidence 1.
    mixed_weight = mix_batch(mask, torch.ones_like(pseudo_weight), pseudo_weight)
    return mixed_img, mixed_label, mixed_weight
