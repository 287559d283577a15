"""How confident a trained model is on the target, and how often its confident pixels are right.

DACS weights every target pixel of the mixed loss by the share of pixels the teacher predicts
with a softmax confidence >= the threshold (0.968). This script measures that share on whole
target tiles for the checkpoints of finished runs, next to the accuracy of the confident pixels
and of all pixels (the target labels are read for this measurement only):

    .venv/bin/python benchmarks/target_confidence.py RUN_DIR [RUN_DIR ...] [--split train.txt] [--data-root DIR]

``--data-root`` measures on another converted target (e.g. a shifted one) than the run's.

Batch norm is evaluated both with its running statistics (``eval``) and with the statistics of
the batch (``bn-train``, two tiles per batch), the mode the DACS teacher predicts in. UDA runs
are measured with their student and their teacher.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from daspm.apis.config_loading import load_config
from daspm.apis.inference import init_segmentor
from mmseg.registry import DATASETS

REPO = Path(__file__).resolve().parents[1]


def load_tiles(cfg, split: str, data_root: str | None = None) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Images [N,C,H,W], labels [N,H,W] and metainfo of a target split, from the config's test dataset."""
    root = {'data_root': data_root} if data_root else {}
    dataset = DATASETS.build({**cfg.test_dataloader.dataset, 'ann_file': split, **root})
    samples = [dataset[i] for i in range(len(dataset))]
    return (torch.stack([s['inputs'].float() for s in samples]),
            torch.stack([s['data_samples'].gt_sem_seg.data[0] for s in samples]),
            [s['data_samples'].metainfo for s in samples])


@torch.no_grad()
def measure(segmentor: nn.Module, images, labels, metas, threshold: float, bn_train: bool) -> dict:
    """Confident share, accuracy of confident pixels and overall accuracy (ignore label excluded)."""
    segmentor.eval()
    if bn_train:
        for module in segmentor.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.train()
    confident = correct_confident = correct = valid = 0
    num_classes = segmentor.decode_head.num_classes
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for start in range(0, len(images), 2):
        batch = images[start:start + 2]
        probs = segmentor.encode_decode(batch, metas[start:start + 2]).softmax(1)
        conf, pred = probs.max(1)
        gt = labels[start:start + 2]
        keep = gt != 255
        hit = (pred == gt) & keep
        sure = (conf >= threshold) & keep
        confident += int(sure.sum())
        correct_confident += int((hit & sure).sum())
        correct += int(hit.sum())
        valid += int(keep.sum())
        confusion += torch.bincount(gt[keep] * num_classes + pred[keep], minlength=num_classes ** 2).view(
            num_classes, num_classes)
    segmentor.eval()
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    iou = confusion.diag()[union > 0].double() / union[union > 0]
    return dict(share=confident / valid, confident_acc=correct_confident / max(confident, 1), acc=correct / valid,
                miou=100 * float(iou.mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', type=Path, help='run directories (config.py + last_checkpoint)')
    parser.add_argument('--split', default='train.txt', help='target split file (default: the training split)')
    parser.add_argument('--threshold', type=float, default=0.968)
    parser.add_argument('--data-root', help="converted target dataset to measure on (default: the run's)")
    args = parser.parse_args()
    print(f'{"run":<48}{"model":>9}{"BN":>10}{"share>=thr":>12}{"acc(conf)":>11}{"acc":>8}{"mIoU":>8}', flush=True)
    for run in args.runs:
        checkpoint = Path((run / 'last_checkpoint').read_text().strip())
        if not checkpoint.is_absolute() and not checkpoint.is_file():
            checkpoint = run / checkpoint.name
        cfg = load_config(run / 'config.py')
        model = init_segmentor(cfg, checkpoint)
        images, labels, metas = load_tiles(cfg, args.split, args.data_root)
        parts = {'student': model.model, 'teacher': model.ema_model} if hasattr(model, 'ema_model') \
            else {'model': model}
        for part, segmentor in parts.items():
            for bn_train in (False, True):
                r = measure(segmentor, images, labels, metas, args.threshold, bn_train)
                print(f'{run.name[:47]:<48}{part:>9}{"train" if bn_train else "eval":>10}'
                      f'{r["share"]:>12.3f}{r["confident_acc"]:>11.3f}{r["acc"]:>8.3f}{r["miou"]:>8.1f}', flush=True)


if __name__ == '__main__':
    main()
