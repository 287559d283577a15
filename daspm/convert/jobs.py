"""Typed records of a conversion (its options, one pair's job and result) and the worker pool that runs jobs."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from tqdm import tqdm

J = TypeVar('J')
R = TypeVar('R')


@dataclass(frozen=True)
class ConvertOptions:
    """What a user asks of one pair-format conversion (the command line, as one record)."""

    raw_dir: str | os.PathLike
    out_dir: str | os.PathLike | None = None
    nproc: int = 1
    symlink_images: bool = False
    overwrite: bool = False
    progress: bool = True
    label_table: str | None = None          # None: the format's default table
    label_map: Mapping[int, int] = field(default_factory=dict)  # extra CODE=ID entries
    val_ratio: float = 0.1                  # targets without split files: a seeded random split
    test_ratio: float = 0.2
    split_seed: int = 0


@dataclass(frozen=True)
class PairJob:
    """One raw image and label to convert into ``img_out`` + ``ann_out`` (``rules``: the format's worker settings)."""

    name: str
    image: Path
    label: Path
    img_out: Path
    ann_out: Path
    resume: bool
    symlink: bool
    rules: Any


@dataclass(frozen=True)
class PairResult:
    """What a worker found for one pair: class counts, and whether a finished output was only counted."""

    name: str
    image: Path
    skipped: bool
    counts: dict[int, int]
    factor: int = 1
    image_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImageJob:
    """One custom image (and its mask, for labelled data) to convert into ``out`` (``table``: its class table)."""

    name: str
    image: str
    mask: str | None
    out: str
    table: Any
    resume: bool


def run_pool(worker: Callable[[J], R], jobs: Sequence[J], nproc: int, desc: str, progress: bool,
             key: Callable[[R], str] = lambda r: r.name, chunksize: int = 1) -> list[R]:
    """``worker`` over ``jobs`` (a process pool for nproc > 1) with a progress bar; results sorted by ``key``."""
    results: list[R] = []
    bar_args = dict(total=len(jobs), desc=desc, unit='img', disable=not progress)
    if nproc > 1 and len(jobs) > 1:
        # The pool is forked before tqdm may start its monitor thread.
        with Pool(min(nproc, len(jobs))) as pool, tqdm(**bar_args) as bar:
            for res in pool.imap_unordered(worker, jobs, chunksize=chunksize):
                results.append(res)
                bar.update()
    else:
        with tqdm(**bar_args) as bar:
            for job in jobs:
                results.append(worker(job))
                bar.update()
    # imap_unordered yields in completion order; sorting makes the outputs independent of it.
    return sorted(results, key=key)


__all__ = ['ConvertOptions', 'ImageJob', 'PairJob', 'PairResult', 'run_pool']
