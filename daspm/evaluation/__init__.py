"""Evaluation metrics."""
from .iou_metric import PerClassIoUMetric

__all__ = ['PerClassIoUMetric']
