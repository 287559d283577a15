"""Hook that scores the teacher's pseudo-labels on the target training crops against their true labels.

For diagnosis only: nothing it computes reaches training. It needs the target crops' labels,
which ``UDADataset(target_label_loader=...)`` loads into the batch; DACS never reads them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import Tensor

from ...utils.errors import DaspmInputError

NO_LABELS = ("PseudoLabelDiagnosticsHook: the target crops of the training batch carry no labels; set "
             "train_dataloader.dataset.target_label_loader=dict(type='LoadGeoTiffAnnotations') in the config "
             "(the label loader of the target's test pipeline) or remove the hook")


def _iou(pred: Tensor, true: Tensor, num_classes: int) -> list[float | None]:
    """Per-class IoU in per cent (None where a class is in neither map) of two flat label vectors."""
    out: list[float | None] = []
    for c in range(num_classes):
        p, t = pred == c, true == c
        union = int((p | t).sum())
        out.append(None if union == 0 else 100.0 * int((p & t).sum()) / union)
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _shares(labels: Tensor, num_classes: int) -> list[float]:
    counts = torch.bincount(labels, minlength=num_classes)[:num_classes].double()
    return (counts / counts.sum().clamp(min=1)).tolist()


def pseudo_label_diagnostics(pseudo_label: Tensor, confident: Tensor, true_label: Tensor, num_classes: int,
                             ignore_index: int = 255) -> dict[str, Any]:
    """Scores of pseudo-labels ([B,H,W] ints) and their confident pixels ([B,H,W] bool) against true labels.

    Over the pixels whose true label is not ``ignore_index``: ``miou`` / ``iou`` (per cent, mIoU
    over the classes present in either map), ``accuracy``, ``confident_share``, the same scores
    over the confident pixels only (``*_confident``), each class's share of the pseudo-labels
    (``pseudo_share``) and of the true labels (``true_share``), and per pseudo class the share
    of its pixels that are confident (``confident_by_class``, None for a class never predicted).
    """
    true = true_label.reshape(-1).long()
    keep = true != ignore_index
    pred, true = pseudo_label.reshape(-1).long()[keep], true[keep]
    conf = confident.reshape(-1).bool()[keep]
    pixels = int(keep.sum())
    iou = _iou(pred, true, num_classes)
    iou_conf = _iou(pred[conf], true[conf], num_classes)
    per_class = torch.bincount(pred, minlength=num_classes)[:num_classes]
    conf_per_class = torch.bincount(pred[conf], minlength=num_classes)[:num_classes]
    n_conf = int(conf.sum())
    return dict(
        pixels=pixels, miou=_mean(iou), iou=iou, accuracy=float((pred == true).double().mean()) if pixels else None,
        confident_share=n_conf / pixels if pixels else None,
        miou_confident=_mean(iou_conf), iou_confident=iou_conf,
        accuracy_confident=float((pred[conf] == true[conf]).double().mean()) if n_conf else None,
        pseudo_share=_shares(pred, num_classes), true_share=_shares(true, num_classes),
        confident_by_class=[int(k) / int(n) if n else None for k, n in zip(conf_per_class, per_class)])


def batch_target_labels(samples: Sequence[Any], shape: Sequence[int], ignore_index: int = 255) -> Tensor:
    """[B,H,W] true labels of the target samples, padded with ``ignore_index`` to ``shape`` (H, W)."""
    h, w = (int(v) for v in shape)
    out = torch.full((len(samples), h, w), ignore_index, dtype=torch.long)
    for i, sample in enumerate(samples):
        if 'gt_sem_seg' not in sample:
            raise DaspmInputError(NO_LABELS)
        label = sample.gt_sem_seg.data.reshape(sample.gt_sem_seg.data.shape[-2:]).long().cpu()
        lh, lw = min(h, label.shape[0]), min(w, label.shape[1])
        out[i, :lh, :lw] = label[:lh, :lw]
    return out


@HOOKS.register_module()
class PseudoLabelDiagnosticsHook(Hook):
    """Every ``interval`` iterations append one JSON line of :func:`pseudo_label_diagnostics` to
    ``<work_dir>/<file_name>``, from the UDA segmentor's ``debug_output`` (``pseudo_label``,
    ``pseudo_confident``) and the true labels of the iteration's target crops.

    Each line: ``iter`` (1-based, as the logger counts), ``classes``, and the scores. Class lists
    follow ``classes`` (default: the training dataset's class names).
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50, file_name: str = 'pseudo_label_diagnostics.jsonl',
                 classes: Sequence[str] | None = None) -> None:
        self.interval = int(interval)
        self.file_name = file_name
        self.classes = list(classes) if classes is not None else None

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Score the iteration's pseudo-labels when ``runner.iter + 1`` is a multiple of ``interval``."""
        if self.interval <= 0 or not self.every_n_train_iters(runner, self.interval) or not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        debug = getattr(model, 'debug_output', None) or {}
        if 'pseudo_label' not in debug or 'pseudo_confident' not in debug:
            raise DaspmInputError('PseudoLabelDiagnosticsHook: the model keeps no pseudo-labels in debug_output; '
                                  "use it with a UDA segmentor (model type='DACS') or remove the hook")
        pseudo = debug['pseudo_label'].detach().cpu()
        ignore = int(getattr(model, 'ignore_index', 255))
        true = batch_target_labels(data_batch['target_data_samples'], pseudo.shape[-2:], ignore)
        num_classes = int(getattr(model, 'num_classes', int(pseudo.max()) + 1))
        record = dict(iter=runner.iter + 1, classes=self._class_names(runner, num_classes),
                      **pseudo_label_diagnostics(pseudo, debug['pseudo_confident'].detach().cpu(), true,
                                                 num_classes, ignore))
        path = Path(runner.work_dir) / self.file_name
        with path.open('a') as out:
            out.write(json.dumps(record) + '\n')

    def _class_names(self, runner, num_classes: int) -> list[str]:
        if self.classes is not None:
            return self.classes
        dataloader = getattr(runner, 'train_dataloader', None)
        classes = getattr(getattr(dataloader, 'dataset', None), 'metainfo', {}).get('classes') \
            if dataloader is not None else None
        return list(classes) if classes else [str(c) for c in range(num_classes)]
