"""Pseudo-label diagnostics: the scores on hand-made maps, the hook, the target labels' loader, and no leak.

The leak test trains DACS on a batch whose target crops carry their true labels and on the same
batch with the labels poisoned: the losses, the pseudo-labels and the updated weights must be the
same (training never reads the target labels), while the diagnostics differ (they do).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import write_tif
from dacs_helpers import CROP, build_dacs, make_batch
from daspm.datasets.uda_dataset import UDADataset, with_label_loader
from daspm.engine.hooks.pseudo_label_diagnostics import (NO_LABELS, PseudoLabelDiagnosticsHook,
                                                         pseudo_label_diagnostics)
from daspm.utils.errors import DaspmInputError


def _hand_made() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Six pixels; the last one unlabelled (255)."""
    pseudo = torch.tensor([[[0, 0, 1], [1, 2, 2]]])
    true = torch.tensor([[[0, 1, 1], [1, 2, 255]]])
    confident = torch.tensor([[[True, False, True], [True, True, False]]])
    return pseudo, confident, true


def test_scores_worked_out_by_hand() -> None:
    pseudo, confident, true = _hand_made()
    d = pseudo_label_diagnostics(pseudo, confident, true, num_classes=5)
    # labelled pixels: pred 0 0 1 1 2, true 0 1 1 1 2 (the sixth is ignored)
    assert d['pixels'] == 5
    # class 0: inter 1 / union 2; class 1: inter 2 / union 3; class 2: 1 / 1; classes 3, 4 absent
    assert d['iou'][:3] == pytest.approx([50.0, 200 / 3, 100.0]) and d['iou'][3:] == [None, None]
    assert d['miou'] == pytest.approx((50 + 200 / 3 + 100) / 3)
    assert d['accuracy'] == pytest.approx(4 / 5)
    # confident among the labelled: T F T T T; on them pred 0 1 1 2 = true 0 1 1 2
    assert d['confident_share'] == pytest.approx(4 / 5)
    assert d['miou_confident'] == pytest.approx(100.0) and d['accuracy_confident'] == pytest.approx(1.0)
    assert d['pseudo_share'] == pytest.approx([0.4, 0.4, 0.2, 0.0, 0.0])
    assert d['true_share'] == pytest.approx([0.2, 0.6, 0.2, 0.0, 0.0])
    # predicted 0 twice (one confident), 1 twice (both), 2 once (confident)
    assert d['confident_by_class'] == [0.5, 1.0, 1.0, None, None]


def test_no_confident_pixel_and_a_collapsed_class() -> None:
    pseudo = torch.zeros(1, 2, 2, dtype=torch.long)            # everything called class 0
    true = torch.tensor([[[0, 3], [3, 3]]])
    d = pseudo_label_diagnostics(pseudo, torch.zeros(1, 2, 2, dtype=torch.bool), true, num_classes=4)
    assert d['iou'] == [25.0, None, None, 0.0] and d['miou'] == pytest.approx(12.5)
    assert d['confident_share'] == 0.0 and d['miou_confident'] is None and d['accuracy_confident'] is None
    assert d['pseudo_share'] == [1.0, 0.0, 0.0, 0.0] and d['true_share'] == [0.25, 0.0, 0.0, 0.75]


def _fake_runner(model, work_dir: Path, iteration: int):
    return SimpleNamespace(model=model, work_dir=str(work_dir), iter=iteration, train_dataloader=None)


def _sample_with(label: torch.Tensor) -> SegDataSample:
    """A target sample carrying ``label`` ([H,W]) as its ground truth."""
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=label[None])
    return sample


def test_hook_writes_a_json_line_every_interval(tmp_path: Path) -> None:
    pseudo, confident, true = _hand_made()
    model = SimpleNamespace(debug_output=dict(pseudo_label=pseudo, pseudo_confident=confident),
                            num_classes=5, ignore_index=255)
    batch = dict(target_data_samples=[_sample_with(true[0])])
    hook = PseudoLabelDiagnosticsHook(interval=5, classes=['a', 'b', 'c', 'd', 'e'])
    for iteration in range(12):
        hook.after_train_iter(_fake_runner(model, tmp_path, iteration), iteration, batch)
    lines = [json.loads(line) for line in (tmp_path / 'pseudo_label_diagnostics.jsonl').read_text().splitlines()]
    assert [line['iter'] for line in lines] == [5, 10]
    expected = pseudo_label_diagnostics(pseudo, confident, true, 5)
    assert lines[0]['classes'] == ['a', 'b', 'c', 'd', 'e']
    assert lines[0]['miou'] == pytest.approx((50 + 200 / 3 + 100) / 3)  # as worked out above
    assert lines[1]['pseudo_share'] == pytest.approx(expected['pseudo_share'])


def test_hook_without_target_labels_says_how_to_load_them(tmp_path: Path) -> None:
    pseudo, confident, _ = _hand_made()
    model = SimpleNamespace(debug_output=dict(pseudo_label=pseudo, pseudo_confident=confident),
                            num_classes=5, ignore_index=255)
    with pytest.raises(DaspmInputError) as err:
        PseudoLabelDiagnosticsHook(interval=1).after_train_iter(
            _fake_runner(model, tmp_path, 0), 0, dict(target_data_samples=[SegDataSample()]))
    assert str(err.value) == NO_LABELS
    assert "target_label_loader=dict(type='LoadGeoTiffAnnotations')" in NO_LABELS


# ------------------------------------------------------------------ the target labels' loader
TARGET_PIPELINE = [
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0),
    dict(type='RandomResize', scale=(40, 40), ratio_range=(1.0, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(24, 24)),  # a class is 10-20 px wide: a crop spans two or more
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
SOURCE_PIPELINE = [
    dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, nominal_gsd=2.0, num_bands=3),
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='PackSegInputs'),
]


def _datasets(tmp_path: Path) -> tuple[Path, Path]:
    source, target = tmp_path / 'gaofen', tmp_path / 'sentinel'
    write_tif(source / 'img_dir' / 's0.tif', np.zeros((3, 20, 20), np.uint8))
    write_tif(source / 'ann_dir' / 's0.tif', np.zeros((20, 20), np.uint8), nodata=255)
    # B4 rises from left to right, and so do the labels (class = 10 m column): a crop or a flip that
    # moved one without the other would break the order
    image = np.broadcast_to((1000 + 500 * np.arange(4))[None, None, :], (4, 4, 4)).astype(np.uint16)
    write_tif(target / 'img_dir' / 't0.tif', image, gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])
    write_tif(target / 'ann_dir' / 't0.tif', np.repeat(np.arange(4, dtype=np.uint8), 5)[None].repeat(20, 0),
              nodata=255)
    for root, name in ((source, 's0'), (target, 't0')):
        (root / 'train.txt').write_text(f'{name}\n')
        (root / 'daspm_dataset.json').write_text(json.dumps({'format': 'daspm-converted'}))
    return source, target


def _uda(source: Path, target: Path, **kwargs) -> UDADataset:
    return UDADataset(source=dict(type='GaofenDataset', data_root=str(source), ann_file='train.txt',
                                  pipeline=SOURCE_PIPELINE),
                      target=dict(type='SentinelDataset', data_root=str(target), ann_file='train.txt',
                                  pipeline=TARGET_PIPELINE), **kwargs)


def test_label_loader_goes_after_the_resampling() -> None:
    loader = dict(type='LoadGeoTiffAnnotations')
    assert [s['type'] for s in with_label_loader(TARGET_PIPELINE, loader)][:3] == [
        'LoadGeoTiff', 'SubPixelResample', 'LoadGeoTiffAnnotations']
    assert [s['type'] for s in with_label_loader(SOURCE_PIPELINE[:1] + SOURCE_PIPELINE[2:], loader)] == [
        'LoadGeoTiff', 'LoadGeoTiffAnnotations', 'PackSegInputs']


def test_target_crops_carry_aligned_labels_and_the_same_pixels(tmp_path: Path) -> None:
    source, target = _datasets(tmp_path)
    plain = _uda(source, target)
    labelled = _uda(source, target, target_label_loader=dict(type='LoadGeoTiffAnnotations'))
    flips = set()
    for seed in range(8):
        np.random.seed(seed)
        a = plain[0]
        np.random.seed(seed)
        b = labelled[0]
        assert 'gt_sem_seg' not in a['target_data_samples']
        assert torch.equal(a['target_inputs'], b['target_inputs'])  # the labels change no random draw
        image, label = b['target_inputs'][0].float(), b['target_data_samples'].gt_sem_seg.data[0].float()
        assert label.shape == image.shape == (24, 24)
        # image (channel 0 = B4) and labels rise towards the same side of the crop
        direction = np.sign((image[:, -1] - image[:, 0]).mean().item())
        assert direction != 0 and np.sign((label[:, -1] - label[:, 0]).mean().item()) == direction
        flips.add(direction)
    assert flips == {-1.0, 1.0}  # both flipped and unflipped crops were checked


# ----------------------------------------------------------------------------- the leak test
def _with_target_labels(batch: dict, labels: list[torch.Tensor]) -> dict:
    out = copy.deepcopy(batch)
    for sample, label in zip(out['target_data_samples'], labels):
        sample.gt_sem_seg = PixelData(data=label)
    return out


def _train_two_steps(batch: dict) -> tuple[list[dict], dict, dict]:
    _, model, wrapper = build_dacs(deterministic=True)
    logs = [{k: v.detach().clone() for k, v in model.train_step(copy.deepcopy(batch), wrapper).items()}
            for _ in range(2)]
    return logs, {k: v.detach().clone() for k, v in model.state_dict().items()}, dict(model.debug_output)


def test_training_never_reads_the_target_labels(tmp_path: Path) -> None:
    batch = make_batch(seed=3)
    gen = torch.Generator().manual_seed(1)
    true = [torch.randint(0, 5, (1, CROP, CROP), generator=gen) for _ in range(2)]
    poisoned = [(t + 1 + torch.randint(0, 3, t.shape, generator=gen)) % 5 for t in true]
    poisoned[1][:, :8] = 255
    logs_true, weights_true, debug_true = _train_two_steps(_with_target_labels(batch, true))
    logs_poisoned, weights_poisoned, debug_poisoned = _train_two_steps(_with_target_labels(batch, poisoned))
    for a, b in zip(logs_true, logs_poisoned):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    for key in weights_true:
        assert torch.equal(weights_true[key], weights_poisoned[key]), key
    assert torch.equal(debug_true['pseudo_label'], debug_poisoned['pseudo_label'])
    # the confident map DACS keeps for the hook is the one its pseudo-weight counts
    assert debug_true['pseudo_confident'].float().mean().item() == pytest.approx(logs_true[1]['pseudo_weight'].item())

    # ... while the diagnostics do read them
    scores = []
    for labels in (true, poisoned):
        model = SimpleNamespace(debug_output=debug_true, num_classes=5, ignore_index=255)
        hook = PseudoLabelDiagnosticsHook(interval=1, file_name=f'diag_{len(scores)}.jsonl')
        batch_with = _with_target_labels(batch, labels)
        hook.after_train_iter(_fake_runner(model, tmp_path, 1), 1, batch_with)
        scores.append(json.loads((tmp_path / f'diag_{len(scores)}.jsonl').read_text()))
    assert scores[0]['true_share'] != scores[1]['true_share']
    assert scores[0]['accuracy'] != scores[1]['accuracy']
