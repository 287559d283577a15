"""Rare Class Sampling (RCS): draw rare classes more often, then a source file holding the class.

The class statistics are written by the dataset converters (``sample_class_stats.json`` and
``samples_with_class.json`` in the converted root, label paths relative to it). They cover every
file of the dataset, so the sampler restricts them to the files of the training split.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..utils.dataset_layout import SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS
from ..utils.errors import DaspmInputError

# The statistics are written by the converters; named in the error for missing files.
_CONVERTER_HINT = ('python tools/convert_datasets/gaofen2m.py <raw dir> -o <data root> '
                   '(or sentinel10m.py for Sentinel data; they write the class statistics)')


def class_sampling_probabilities(class_pixels: dict[int, int], temperature: float,
                                 only: Sequence[int] | None = None) -> tuple[list[int], np.ndarray]:
    """RCS class probabilities ``p_c = softmax((1 - f_c) / T)`` over the classes with pixels.

    ``f_c`` is the share of all pixels in ``class_pixels``; ``only`` restricts the softmax to
    some classes (those that can be sampled) without changing the shares.
    """
    if temperature <= 0:
        raise DaspmInputError(f'rare class sampling: class_temp must be > 0, got {temperature}')
    total = sum(int(n) for n in class_pixels.values() if n > 0)
    classes = sorted(int(c) for c, n in class_pixels.items() if n > 0)
    if only is not None:
        classes = [c for c in classes if c in set(only)]
    if not classes:
        raise DaspmInputError('rare class sampling: the source labels hold no labelled pixels')
    counts = np.array([class_pixels[c] for c in classes], np.float64)
    freq = counts / total
    logits = (1.0 - freq) / temperature
    # Subtracting the maximum keeps exp() finite for small temperatures (T=0.01 -> logits ~100).
    weights = np.exp(logits - logits.max())
    return classes, weights / weights.sum()


def normalize_rel_path(path: str | os.PathLike) -> str:
    """A data-root-relative label path in the statistics' spelling ('ann_dir/x.tif')."""
    return Path(osp.normpath(str(path))).as_posix()


class RareClassSampler:
    """Class and file sampler of Rare Class Sampling, restricted to one split of a converted dataset.

    Args:
        data_root: converted dataset root holding the two statistics files.
        files_in_split: label paths relative to ``data_root`` (e.g. 'ann_dir/x.tif') of the split.
        class_names: names of the classes (for messages), index = class id.
        temperature: softmax temperature T of the class probabilities.
        min_pixels: a file is drawn for class c only if it has more than this many pixels of c.
        min_crop_ratio: the dataset re-draws a crop until it holds more than
            ``min_pixels * min_crop_ratio`` pixels of c (kept here so it travels with the sampler).
        seed: seed of ``self.rng`` (a convenience; callers may pass their own generator).
        drop_unqualified_classes: a class with pixels but no file above ``min_pixels`` is dropped
            with a warning instead of raising.
    """

    def __init__(self, data_root: str | os.PathLike, files_in_split: Sequence[str],
                 class_names: Sequence[str], temperature: float = 0.01, min_pixels: int = 3000,
                 min_crop_ratio: float = 0.5, seed: int | None = None,
                 drop_unqualified_classes: bool = False) -> None:
        self.data_root = Path(data_root)
        self.class_names = list(class_names)
        self.temperature = float(temperature)
        self.min_pixels = int(min_pixels)
        self.min_crop_ratio = float(min_crop_ratio)
        self.rng = np.random.default_rng(seed)
        split = [normalize_rel_path(f) for f in files_in_split]
        if not split:
            raise DaspmInputError(f'rare class sampling: the split of {self.data_root} has no files')
        stats, with_class = self._read_statistics()
        split_set = set(split)
        self.class_pixels = self._split_class_pixels(stats, split_set)
        per_class = self._split_files_per_class(with_class, split_set)
        self.files_per_class = self._qualifying_files(per_class, drop_unqualified_classes)
        self.classes, self.probs = class_sampling_probabilities(
            self.class_pixels, self.temperature, only=list(self.files_per_class))

    @property
    def min_crop_pixels(self) -> float:
        """A re-drawn crop is accepted when it holds more than this many pixels of the class."""
        return self.min_pixels * self.min_crop_ratio

    def class_name(self, c: int) -> str:
        """Name of class id ``c`` (the id itself when the names do not cover it)."""
        return self.class_names[c] if 0 <= c < len(self.class_names) else f'class {c}'

    def sample_class(self, rng: np.random.Generator | None = None) -> int:
        """Draw a class id with the RCS probabilities."""
        rng = self.rng if rng is None else rng
        return int(self.classes[rng.choice(len(self.classes), p=self.probs)])

    def sample_file(self, c: int, rng: np.random.Generator | None = None) -> str:
        """Draw, uniformly, a split file with more than ``min_pixels`` pixels of class ``c``."""
        rng = self.rng if rng is None else rng
        files = self.files_per_class[c]
        return files[int(rng.integers(len(files)))]

    # -- reading and restricting the statistics ------------------------------------------------

    def _read_statistics(self) -> tuple[list, dict]:
        loaded = []
        for name in (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS):
            path = self.data_root / name
            if not path.is_file():
                raise DaspmInputError(
                    f'rare class sampling needs {path}, which does not exist; the dataset '
                    f'converters write it: run `{_CONVERTER_HINT}`, or recompute the statistics of '
                    f'a converted folder with daspm.convert.compute_class_stats/write_class_stats, '
                    f'or turn rare class sampling off (rare_class_sampling=None)')
            try:
                loaded.append(json.loads(path.read_text(encoding='utf-8')))
            except (OSError, ValueError) as err:
                raise DaspmInputError(
                    f'{path} cannot be read as JSON ({err}); delete it and re-run the converter '
                    f'(`{_CONVERTER_HINT}`)') from err
        stats, with_class = loaded
        if not isinstance(stats, list) or not isinstance(with_class, dict):
            raise DaspmInputError(
                f'{self.data_root}: {SAMPLE_CLASS_STATS} must hold a list and {SAMPLES_WITH_CLASS} a '
                f'dict; re-run the converter (`{_CONVERTER_HINT}`)')
        return stats, with_class

    def _split_class_pixels(self, stats: list, split: set[str]) -> dict[int, int]:
        """Pixels per class summed over the split's files; every split file must be covered."""
        totals: dict[int, int] = {}
        seen = set()
        for entry in stats:
            file = normalize_rel_path(entry.get('file', ''))
            if file not in split:
                continue
            seen.add(file)
            for key, n in entry.items():
                if key != 'file' and int(n) > 0:
                    totals[int(key)] = totals.get(int(key), 0) + int(n)
        missing = sorted(split - seen)
        if missing:
            raise DaspmInputError(
                f'{self.data_root / SAMPLE_CLASS_STATS} has no entry for {len(missing)} file(s) of '
                f'the split (e.g. {missing[0]}); the statistics are stale: re-run the converter '
                f'(`{_CONVERTER_HINT}`) or recompute them with daspm.convert.compute_class_stats')
        return dict(sorted(totals.items()))

    def _split_files_per_class(self, with_class: dict, split: set[str]) -> dict[int, list[tuple[str, int]]]:
        per_class: dict[int, list[tuple[str, int]]] = {}
        for key, entries in with_class.items():
            kept = [(normalize_rel_path(f), int(n)) for f, n in entries if normalize_rel_path(f) in split]
            if kept:
                per_class[int(key)] = sorted(kept)
        return per_class

    def _qualifying_files(self, per_class: dict[int, list[tuple[str, int]]],
                          drop_unqualified: bool) -> dict[int, list[str]]:
        """Files with more than ``min_pixels`` of each class; a class without any is an error."""
        result: dict[int, list[str]] = {}
        unqualified = []
        for c in self.class_pixels:
            files = [f for f, n in per_class.get(c, []) if n > self.min_pixels]
            if files:
                result[c] = files
            else:
                unqualified.append(c)
        if not unqualified:
            return result
        # The largest per-file count of each class bounds min_pixels; half of the smallest such
        # maximum lets every class qualify with some margin for the crop check.
        largest = {c: max((n for _, n in per_class.get(c, [])), default=0) for c in self.class_pixels}
        suggestion = min(largest.values()) // 2
        names = ', '.join(f'{self.class_name(c)!r} (id {c}, at most {largest[c]} px in one file)'
                          for c in unqualified)
        message = (f'rare class sampling: no file of the split in {self.data_root} has more than '
                   f'min_pixels={self.min_pixels} pixels of class {names}; the images are too small '
                   f'for this threshold: set rare_class_sampling=dict(min_pixels={suggestion}, ...) '
                   f'or lower')
        if not drop_unqualified or not result:
            raise DaspmInputError(message + ' (or drop_unqualified_classes=True to skip such classes)')
        warnings.warn(message + '; these classes are not sampled (drop_unqualified_classes=True)')
        return result
