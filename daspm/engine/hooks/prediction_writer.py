"""Hook that writes every test prediction as a coloured PNG and, when georeferenced, a GeoTIFF."""
from __future__ import annotations

from pathlib import Path

import cv2
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.class_map import write_class_map
from ...utils.colors import colorize


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Save ``pred_sem_seg`` of each test sample to ``out_dir/<name>.png`` (+ ``.tif`` with georeference)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Write the predictions of one test batch."""
        meta = runner.test_evaluator.dataset_meta or {}
        classes, palette = meta.get('classes'), meta.get('palette')
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for sample in outputs or []:
            pred = sample.pred_sem_seg.data[0].cpu().numpy().astype('uint8')
            stem = Path(sample.metainfo['img_path']).stem
            cv2.imwrite(str(self.out_dir / f'{stem}.png'), colorize(pred, palette)[..., ::-1])
            if sample.metainfo.get('geo_transform') is not None:
                write_class_map(self.out_dir / f'{stem}.tif', pred, crs=sample.metainfo.get('crs'),
                                geo_transform=sample.metainfo['geo_transform'],
                                classes=classes, palette=palette)
