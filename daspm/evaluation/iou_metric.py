"""IoU metric that also returns per-class IoU and accuracy (mmseg's only logs them)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's IoUMetric plus ``IoU.<class>`` / ``Acc.<class>`` entries (NaN where a class is absent)."""

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Summary metrics of IoUMetric, then per-class values in percent."""
        summary = super().compute_metrics(results)
        if self.format_only:
            return summary
        intersect, union, pred_area, label_area = (sum(part) for part in zip(*results))
        per_class = self.total_area_to_metrics(intersect, union, pred_area, label_area,
                                               ['mIoU'], None, self.beta)
        metrics = OrderedDict(summary)
        for name, iou, acc in zip(self.dataset_meta['classes'], per_class['IoU'], per_class['Acc']):
            metrics[f'IoU.{name}'] = float(np.round(float(iou) * 100, 2))
            metrics[f'Acc.{name}'] = float(np.round(float(acc) * 100, 2))
        return metrics
