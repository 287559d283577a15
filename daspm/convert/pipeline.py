"""The one conversion driver: every format (``daspm.convert.formats``) runs through :func:`convert`::

    convert(fmt, options)
      fmt.plan(options)                  every check that needs no output (layout, pairs, splits, tables)
      -> prepare_output()                ownership, --overwrite, resume checks (outputs.py, fmt.output_rules)
      -> fmt.start()                     partial files, orphans, manifest 'in_progress'
      -> run_pool(fmt.worker, fmt.jobs())  one typed job per pair, a progress bar, results sorted by name
      -> fmt.finish()                    checks over all pairs, split files, class statistics, manifest 'complete'

The pair formats share ``plan``/``start``/``jobs``/``finish`` (``formats.base.PairFormat``); the
custom format (``formats.custom``) fills them with its class table, target images and configs.
Every output file is written under a temporary name and renamed when finished, so an existing
``ann_dir`` file is a finished pair: an interrupted conversion resumes where it stopped.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Protocol, Sequence

from daspm.utils.errors import DaspmInputError

from .formats import FORMATS
from .formats.custom import CUSTOM, CustomOptions
from .jobs import ConvertOptions, run_pool
from .outputs import OutputRules, prepare_output


class Format(Protocol):
    """What :func:`convert` needs of a format adapter."""

    chunksize: int
    worker: Callable[[Any], Any]

    def plan(self, options: Any) -> Any: ...
    def output_rules(self, plan: Any) -> OutputRules: ...
    def start(self, plan: Any, resume: bool) -> None: ...
    def jobs(self, plan: Any, resume: bool) -> Sequence[Any]: ...
    def progress_label(self, plan: Any) -> str: ...
    def result_name(self, result: Any) -> str: ...
    def finish(self, plan: Any, results: Sequence[Any], previous: Mapping[str, Any]) -> dict[str, Any]: ...


def convert(fmt: Format, options: Any) -> dict[str, Any]:
    """Convert what ``options`` (the format's options record) name; return the manifest, counts and class pixels."""
    if options.nproc < 1:
        raise DaspmInputError(f'--nproc must be at least 1, got {options.nproc}')
    plan = fmt.plan(options)
    resume, previous = prepare_output(plan.inputs, plan.out, fmt.output_rules(plan), options.overwrite)
    fmt.start(plan, resume)
    results = run_pool(fmt.worker, fmt.jobs(plan, resume), options.nproc, fmt.progress_label(plan), options.progress,
                       key=fmt.result_name, chunksize=fmt.chunksize)
    return fmt.finish(plan, results, previous)


def convert_dataset(raw_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, dataset: str,
                    **options: Any) -> dict[str, Any]:
    """:func:`convert` for the pair format named ``dataset``; ``options``: the fields of :class:`ConvertOptions`."""
    if dataset not in FORMATS:
        raise DaspmInputError(f'unknown dataset {dataset!r}; choose one of {", ".join(FORMATS)}')
    return convert(FORMATS[dataset], ConvertOptions(raw_dir, out_dir, **options))


def convert_custom(images: str | os.PathLike, masks: str | os.PathLike, classes: str | os.PathLike,
                   out: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """:func:`convert` for a custom folder (and optional target images), with its configs; returns a report.

    ``options``: the fields of :class:`~daspm.convert.formats.custom.CustomOptions` (image_suffix,
    target_images, splits, model, ...).
    """
    return convert(CUSTOM, CustomOptions(images, masks, classes, out, **options))


__all__ = ['Format', 'convert', 'convert_custom', 'convert_dataset']
