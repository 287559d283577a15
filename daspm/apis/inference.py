"""Predict a class map for one image file (GeoTIFF, PNG or JPG) with a trained segmentor."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from ..classes import IGNORE_INDEX
from ..utils.compat import allow_mmengine_checkpoints
from .checkpoint import load_checkpoint_checked
from .config_loading import load_config

_ANNOTATION_LOADERS = {'LoadGeoTiffAnnotations', 'LoadAnnotations'}
_PLAIN_IMAGE_SUFFIXES = {'.png', '.jpg', '.jpeg'}


@dataclass
class Prediction:
    """A predicted class map on the output grid and what is needed to draw and georeference it."""

    class_map: np.ndarray          # (H, W) uint8 class ids, 255 where the input had no data
    image: np.ndarray              # (H, W, C) float network input on the same grid
    crs: str | None
    geo_transform: tuple | None    # of the output grid
    subpixel_factor: float


def init_segmentor(config: str | Path | Config, checkpoint: str | Path, device: str = 'cpu'):
    """Build the model of ``config`` and load ``checkpoint`` (shape-checked, safe unpickling)."""
    import daspm.register  # noqa: F401  (registers the components)

    cfg = config if isinstance(config, Config) else load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    allow_mmengine_checkpoints()
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    model = MODELS.build(model_cfg)
    load_checkpoint_checked(model, checkpoint, config_hint=f'a checkpoint trained with {getattr(cfg, "filename", config)}')
    if not getattr(model, 'dataset_meta', None):
        # checkpoints written by mmengine carry dataset_meta; plain state dicts do not
        model.dataset_meta = dict(DATASETS.get(cfg.test_dataloader.dataset.type).METAINFO)
    model.cfg = cfg
    return model.to(device).eval()


def inference_pipeline_cfg(cfg: Config, image_path: str | Path) -> list[dict]:
    """The test pipeline without label loading; a plain RGB picture is read as RGB scaled by 255."""
    steps = [copy.deepcopy(s) for s in cfg.test_dataloader.dataset.pipeline
             if s['type'] not in _ANNOTATION_LOADERS]
    if Path(image_path).suffix.lower() in _PLAIN_IMAGE_SUFFIXES:
        for step in steps:
            if step['type'] == 'LoadGeoTiff':
                step.update(bands=[1, 2, 3], scale=255.0, num_bands=None)
    return steps


@torch.no_grad()
def predict_file(model, image_path: str | Path) -> Prediction:
    """Run the model on one image file and return the class map on the output (sub-pixel) grid."""
    steps = inference_pipeline_cfg(model.cfg, image_path)
    prepare, pack = Compose(steps[:-1]), Compose(steps[-1:])
    results = prepare(dict(img_path=str(image_path)))
    nodata = results.get('img_nodata_mask')
    image = results['img'].copy()
    packed = pack(results)
    device = next(model.parameters()).device
    batch = dict(inputs=[packed['inputs'].to(device)], data_samples=[packed['data_samples']])
    sample = model.test_step(batch)[0]
    class_map = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    if nodata is not None and nodata.shape == class_map.shape:
        class_map[nodata] = IGNORE_INDEX
    return Prediction(class_map=class_map, image=image, crs=results.get('crs'),
                      geo_transform=results.get('geo_transform'),
                      subpixel_factor=float(results.get('subpixel_factor', 1.0)))
