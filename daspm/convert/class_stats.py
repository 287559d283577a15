"""Per-image class pixel counts in the Rare Class Sampling format (DAFormer's json files).

``sample_class_stats.json``: ``[{"<class id>": n_pixels, ..., "file": "ann_dir/<name>.tif"}, ...]``
``samples_with_class.json``: ``{"<class id>": [["ann_dir/<name>.tif", n_pixels], ...], ...}``

Class ids are strings (JSON keys), only classes with n > 0 appear, ignore (255) is never
counted, and paths are relative to the converted dataset root so the folder can be moved.
Both files are sorted by file name so that they do not depend on worker scheduling.
"""
from __future__ import annotations

import json
import os
from multiprocessing import Pool
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from daspm.classes import DASPM_CLASSES, IGNORE_INDEX
from daspm.utils.dataset_layout import ANN_DIR, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, open_raster

SampleClassStats = list[dict[str, object]]
SamplesWithClass = dict[str, list[list[object]]]


def count_classes(train_ids: np.ndarray, num_classes: int = len(DASPM_CLASSES)) -> dict[int, int]:
    """Pixels per class id (only ids with n > 0); ignore pixels are skipped."""
    hist = np.bincount(train_ids.ravel(), minlength=256) if train_ids.dtype == np.uint8 \
        else np.bincount(train_ids.ravel().astype(np.int64), minlength=256)
    return {c: int(hist[c]) for c in range(num_classes) if hist[c] > 0}


def read_class_counts(ann_path: str | os.PathLike,
                      num_classes: int = len(DASPM_CLASSES)) -> dict[int, int]:
    """Class counts of a converted train-id label; other values than 0..C-1 and 255 raise."""
    with open_raster(ann_path) as src:
        data = src.read(1)
    if data.dtype != np.uint8:
        raise DaspmInputError(
            f'{ann_path}: converted labels must be uint8 train ids, got {data.dtype}; '
            're-run the converter with --overwrite')
    hist = np.bincount(data.ravel(), minlength=256)
    hist[IGNORE_INDEX] = 0
    bad = np.flatnonzero(hist[num_classes:]) + num_classes
    if bad.size:
        raise DaspmInputError(
            f'{ann_path}: values {", ".join(map(str, bad.tolist()))} are not train ids '
            f'0..{num_classes - 1} or {IGNORE_INDEX}; re-run the converter with --overwrite')
    return {c: int(hist[c]) for c in range(num_classes) if hist[c] > 0}


def build_class_stats(counts: Mapping[str, Mapping[int, int]]) -> tuple[SampleClassStats,
                                                                         SamplesWithClass]:
    """Both RCS structures from ``{relative label path: {class id: n}}``, sorted by path."""
    sample_class_stats: SampleClassStats = []
    by_class: dict[int, list[list[object]]] = {}
    for file in sorted(counts):
        entry: dict[str, object] = {}
        for c in sorted(counts[file]):
            n = int(counts[file][c])
            if n > 0:
                entry[str(c)] = n
                by_class.setdefault(int(c), []).append([file, n])
        entry['file'] = file
        sample_class_stats.append(entry)
    samples_with_class = {str(c): by_class[c] for c in sorted(by_class)}
    return sample_class_stats, samples_with_class


def _count_one(args: tuple[str, str, int]) -> tuple[str, dict[int, int]]:
    root, rel, num_classes = args
    return rel, read_class_counts(Path(root) / rel, num_classes)


def compute_class_stats(root: str | os.PathLike, files: Iterable[str] | None = None, *,
                        nproc: int = 1, num_classes: int = len(DASPM_CLASSES)
                        ) -> tuple[SampleClassStats, SamplesWithClass]:
    """Read the train-id labels under ``root`` (default: every ``ann_dir/*.tif``) and count classes.

    ``files`` are paths relative to ``root``; the result uses them verbatim.
    """
    root = Path(root)
    if files is None:
        ann_dir = root / ANN_DIR
        if not ann_dir.is_dir():
            raise DaspmInputError(
                f'{ann_dir}: no such directory; point at the root of a converted dataset '
                '(the folder holding img_dir/ and ann_dir/)')
        files = [f'{ANN_DIR}/{p.name}' for p in sorted(ann_dir.glob('*.tif'))
                 if not p.name.startswith('.')]
    jobs = [(str(root), rel, num_classes) for rel in files]
    if nproc > 1 and len(jobs) > 1:
        with Pool(min(nproc, len(jobs))) as pool:
            counts = dict(pool.imap_unordered(_count_one, jobs, chunksize=4))
    else:
        counts = dict(map(_count_one, jobs))
    return build_class_stats(counts)


def write_class_stats(root: str | os.PathLike, sample_class_stats: SampleClassStats,
                      samples_with_class: SamplesWithClass) -> tuple[Path, Path]:
    """Write both json files into ``root`` atomically; return their paths."""
    root = Path(root)
    paths = (root / SAMPLE_CLASS_STATS, root / SAMPLES_WITH_CLASS)
    for path, obj in zip(paths, (sample_class_stats, samples_with_class)):
        write_json(path, obj)
    return paths


def _is_flat(obj: object) -> bool:
    values = obj.values() if isinstance(obj, dict) else obj
    return not any(isinstance(v, (dict, list)) for v in values)  # type: ignore[union-attr]


def dumps_compact(obj: object, indent: int = 0) -> str:
    """JSON with one line per innermost list/dict: readable and diffable, unlike indent=2."""
    if not isinstance(obj, (dict, list)) or not obj or _is_flat(obj):
        return json.dumps(obj)
    pad, inner = ' ' * indent, ' ' * (indent + 2)
    if isinstance(obj, dict):
        items = [f'{inner}{json.dumps(str(k))}: {dumps_compact(v, indent + 2)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + f'\n{pad}}}'
    items = [f'{inner}{dumps_compact(v, indent + 2)}' for v in obj]
    return '[\n' + ',\n'.join(items) + f'\n{pad}]'


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as JSON, atomically (a reader never sees half a file)."""
    with atomic_output(path) as tmp:
        tmp.write_text(dumps_compact(obj) + '\n', encoding='utf-8')
    return Path(path)


def class_pixel_totals(sample_class_stats: SampleClassStats) -> dict[int, int]:
    """Total pixels per class over all files (for summaries and the RCS class frequencies)."""
    totals: dict[int, int] = {}
    for entry in sample_class_stats:
        for key, n in entry.items():
            if key != 'file':
                totals[int(key)] = totals.get(int(key), 0) + int(n)  # type: ignore[arg-type]
    return dict(sorted(totals.items()))
