"""Unsupervised domain adaptation dataset: one labelled source and one unlabelled target sample per item."""
from __future__ import annotations

import os
import os.path as osp
from typing import Any

import numpy as np
import torch
from mmseg.registry import DATASETS

from ..utils.errors import DaspmInputError
from .rare_class_sampling import RareClassSampler, normalize_rel_path

# Rare Class Sampling options (config keys of DAFormer's ``rare_class_sampling`` dict).
RCS_DEFAULTS: dict[str, Any] = dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5,
                                    drop_unqualified_classes=False)
# How often a source sample is re-drawn until its random crop holds enough of the drawn class.
MAX_CROP_TRIES = 10


@DATASETS.register_module()
class UDADataset:
    """Pairs source samples (with labels) and target samples for domain-adaptive training.

    Without Rare Class Sampling item ``i`` is source ``i // len(target)`` with target
    ``i % len(target)``, so one pass covers every pair once. With it, each item draws a class by
    the RCS probabilities, a source file holding enough of it, and a random target; the index
    is ignored.

    Args:
        source: config of the labelled source dataset (built with ``DATASETS.build``).
        target: config of the target dataset (its labels, if any, are not used for training).
        rare_class_sampling: None (off) or a dict with ``class_temp``, ``min_pixels``,
            ``min_crop_ratio`` and ``drop_unqualified_classes``.
        seed: mixed with the worker's torch seed to seed the RCS random generator.
        target_label_loader: None (default: the target crops carry no labels) or a transform
            config, e.g. ``dict(type='LoadGeoTiffAnnotations')``, put into the target pipeline
            (see ``with_label_loader``) so that each target crop carries its true labels, for
            diagnostics only (``PseudoLabelDiagnosticsHook``). DACS never reads them
            (tests/test_pseudo_label_diagnostics.py poisons them to check).
    """

    def __init__(self, source: dict, target: dict, rare_class_sampling: dict | None = None,
                 seed: int = 0, target_label_loader: dict | None = None) -> None:
        self.source = DATASETS.build(source)
        if target_label_loader is not None:
            target = dict(target, pipeline=with_label_loader(list(target['pipeline']), target_label_loader))
        self.target = DATASETS.build(target)
        self.seed = int(seed)
        self._check_classes()
        self._rng: np.random.Generator | None = None
        self._rng_pid: int | None = None
        self.rcs: RareClassSampler | None = None
        self._source_index: dict[str, int] = {}
        if rare_class_sampling is not None:
            self._init_rcs(dict(rare_class_sampling))

    # -- mmengine dataset protocol -------------------------------------------------------------

    @property
    def metainfo(self) -> dict:
        """The source dataset's metainfo (classes, palette), shared by both domains."""
        return self.source.metainfo

    def full_init(self) -> None:
        """Fully initialise both datasets (mmengine calls this after building a lazy dataset)."""
        for dataset in (self.source, self.target):
            if hasattr(dataset, 'full_init'):
                dataset.full_init()

    def __len__(self) -> int:
        """Number of (source, target) pairs."""
        return len(self.source) * len(self.target)

    def __getitem__(self, idx: int) -> dict:
        """A source sample and a target sample packed as ``inputs``/``data_samples`` and ``target_*``."""
        if self.rcs is not None:
            return self._rcs_item()
        n_target = len(self.target)
        idx = int(idx) % len(self)
        return self._pack(self.source[idx // n_target], self.target[idx % n_target], -1)

    # -- rare class sampling -------------------------------------------------------------------

    @property
    def rng(self) -> np.random.Generator:
        """Random generator of this process, created at first use so DataLoader workers differ."""
        pid = os.getpid()
        if self._rng is None or self._rng_pid != pid:
            # mmengine's worker_init_fn seeds torch per worker and rank; the DataLoader's worker
            # seed changes with every new iterator. Mixing both with the configured seed gives
            # each worker its own, reproducible stream; a generator inherited through fork would
            # make all workers draw the same classes.
            info = torch.utils.data.get_worker_info()
            entropy = [self.seed & 0xFFFFFFFF, torch.initial_seed(),
                       info.seed if info is not None else 0, _rank()]
            self._rng = np.random.default_rng(np.random.SeedSequence(entropy))
            self._rng_pid = pid
        return self._rng

    def _init_rcs(self, cfg: dict) -> None:
        unknown = sorted(set(cfg) - set(RCS_DEFAULTS))
        if unknown:
            raise DaspmInputError(
                f'UDADataset: unknown rare_class_sampling option(s) {unknown}; valid keys are '
                f'{sorted(RCS_DEFAULTS)}')
        cfg = {**RCS_DEFAULTS, **cfg}
        data_root = getattr(self.source, 'data_root', None)
        if not data_root:
            raise DaspmInputError(
                'UDADataset: rare class sampling reads the class statistics from the source '
                'dataset\'s data_root, but the source config has none; set data_root')
        for i in range(len(self.source)):
            seg_map = self.source.get_data_info(i).get('seg_map_path')
            if seg_map is None:
                raise DaspmInputError(
                    f'UDADataset: source sample {self.source.get_data_info(i).get("img_path")} has no '
                    'label; rare class sampling needs labelled source data')
            self._source_index[normalize_rel_path(osp.relpath(seg_map, data_root))] = i
        self.rcs = RareClassSampler(
            data_root, list(self._source_index), self.metainfo.get('classes', ()),
            temperature=cfg['class_temp'], min_pixels=cfg['min_pixels'],
            min_crop_ratio=cfg['min_crop_ratio'], seed=self.seed,
            drop_unqualified_classes=cfg['drop_unqualified_classes'])

    def _rcs_item(self) -> dict:
        rcs, rng = self.rcs, self.rng
        assert rcs is not None
        c = rcs.sample_class(rng)
        source_idx = self._source_index[rcs.sample_file(c, rng)]
        # The file has enough of c, but the pipeline's random crop may miss it: re-run the
        # pipeline (and its crop) a few times and keep the last try if none is good enough.
        for _ in range(MAX_CROP_TRIES):
            source = self.source[source_idx]
            gt = source['data_samples'].gt_sem_seg.data
            if int((gt == c).sum()) > rcs.min_crop_pixels:
                break
        target = self.target[int(rng.integers(len(self.target)))]
        return self._pack(source, target, c)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _pack(source: dict, target: dict, rcs_class: int) -> dict:
        return dict(inputs=source['inputs'], data_samples=source['data_samples'],
                    target_inputs=target['inputs'], target_data_samples=target['data_samples'],
                    rcs_class=int(rcs_class))

    def _check_classes(self) -> None:
        src = tuple(self.source.metainfo.get('classes') or ())
        tgt = tuple(self.target.metainfo.get('classes') or ())
        if src != tgt:
            raise DaspmInputError(
                f'UDADataset: source {type(self.source).__name__} and target '
                f'{type(self.target).__name__} have different classes ({list(src)} vs {list(tgt)}); '
                'use datasets with the same class table, or set metainfo=dict(classes=..., '
                'palette=...) on both dataset configs')


def _rank() -> int:
    """Distributed rank (0 when not distributed)."""
    from mmengine.dist import get_rank
    return int(get_rank())


def with_label_loader(pipeline: list, loader: dict) -> list:
    """``pipeline`` with ``loader`` after the image loading: after a ``SubPixelResample`` when there is
    one (the labels are on the output grid, as in the test pipelines), else after the first transform.
    """
    types = [step.get('type') if isinstance(step, dict) else type(step).__name__ for step in pipeline]
    at = types.index('SubPixelResample') + 1 if 'SubPixelResample' in types else 1
    return pipeline[:at] + [dict(loader)] + pipeline[at:]
