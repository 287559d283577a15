"""Builders shared by the DACS tests: a tiny DACS model from the synthetic config and hand-made batches."""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import REPO
from daspm.apis.amp import amp_config_options
from daspm.apis.config_loading import load_config

CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
CROP = 64
#: 32x32 blocks of the source labels (one class each, aligned with the stride-32 feature cells)
SOURCE_BLOCKS = ((1, 0), (4, 2))


def build_dacs(device: str = 'cpu', amp: str | None = None, deterministic: bool = False,
               accumulate: int = 1, **uda_options):
    """The synthetic DACS model in training mode on ``device`` and its optimizer wrapper.

    ``amp``: 'fp16' or 'bf16', as the training commands' ``--amp`` sets the optimizer wrapper;
    ``deterministic`` switches dropout and drop-path off in the student (so a test can recompute
    its forward pass); ``accumulate`` > 1 keeps the gradients of the first step for inspection.
    """
    torch.manual_seed(0)
    cfg = load_config(CONFIG)
    for preprocessor in (cfg.model.data_preprocessor, cfg.model.model.data_preprocessor):
        preprocessor.size = (CROP, CROP)
    cfg.model.alpha = 0.99
    cfg.model.update(uda_options)
    if deterministic:
        cfg.model.model.backbone.update(drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0)
        cfg.model.model.decode_head.dropout_ratio = 0.0
    model = MODELS.build(copy.deepcopy(cfg.model)).to(device)
    # re-seeded so the student starts the same with or without an ImageNet model (built last)
    torch.manual_seed(0)
    model.init_weights()
    model.train()
    cfg.merge_from_dict(amp_config_options(amp))
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if accumulate > 1:
        optim_cfg.update(accumulative_counts=accumulate)
    wrapper = build_optim_wrapper(model, optim_cfg)
    if accumulate > 1:
        wrapper.initialize_count_status(model, 0, 2 * accumulate)
    return cfg, model, wrapper


def block_label(blocks: Sequence[Sequence[int]], crop: int = CROP) -> torch.Tensor:
    """[1,crop,crop] label of 2x2 blocks with the classes ``blocks`` (rows of two)."""
    half = crop // 2
    label = torch.empty(1, crop, crop, dtype=torch.long)
    for r, row in enumerate(blocks):
        for c, cls in enumerate(row):
            label[0, r * half:(r + 1) * half, c * half:(c + 1) * half] = cls
    return label


def make_batch(batch: int = 2, crop: int = CROP, channels: int = 3, seed: int = 0,
               target_shapes: Sequence[tuple[int, int]] | None = None) -> dict:
    """Source and target samples as the data loader yields them (images in [0, 1]).

    Source labels are 32-pixel blocks of the classes in ``SOURCE_BLOCKS`` (rolled per image), so
    ClassMix and the FD mask have non-trivial, hand-checkable content. ``target_shapes`` gives
    each target image its own (H, W), e.g. smaller than ``crop`` to make the batch padded.
    """
    gen = torch.Generator().manual_seed(seed)
    target_shapes = list(target_shapes or [(crop, crop)] * batch)

    def sample(shape, label=None):
        s = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        if label is not None:
            s.gt_sem_seg = PixelData(data=label)
        return s

    classes = [c for row in SOURCE_BLOCKS for c in row]
    src_samples, src_images = [], []
    for i in range(batch):
        rolled = classes[i % len(classes):] + classes[:i % len(classes)]
        src_samples.append(sample((crop, crop), block_label([rolled[:2], rolled[2:]], crop)))
        src_images.append(torch.rand(channels, crop, crop, generator=gen))
    tgt_images = [torch.rand(channels, h, w, generator=gen) for h, w in target_shapes]
    tgt_samples = [sample((h, w)) for h, w in target_shapes]
    return dict(inputs=src_images, data_samples=src_samples, target_inputs=tgt_images,
                target_data_samples=tgt_samples)
