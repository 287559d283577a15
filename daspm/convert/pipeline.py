"""The one conversion driver: raw image/label pairs -> ``img_dir/`` + ``ann_dir/``, split files, RCS statistics.

Every pair format (``daspm.convert.formats``) runs through :func:`convert`::

    convert(fmt, options)
      fmt.label_table() -> fmt.find_input() -> fmt.plan_splits() -> fmt.image_suffix()   nothing written yet
      -> prepare_output()                 ownership, --overwrite, resume checks (outputs.py)
      -> clean_partials() + check_orphans()                               resuming only
      -> manifest 'in_progress' -> run_pool(fmt.worker, PairJob...) -> fmt.check_results()
      -> write_splits() -> write_class_stats() -> manifest 'complete'

Every output file is written under a temporary name and renamed when finished, so an existing
``ann_dir`` file is a finished pair: an interrupted conversion resumes where it stopped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from daspm.utils.dataset_layout import ANN_DIR, IMG_DIR, MANIFEST
from daspm.utils.errors import DaspmInputError

from .class_stats import build_class_stats, class_pixel_totals, write_class_stats, write_json
from .formats import FORMATS
from .formats.base import PairFormat
from .jobs import ConvertOptions, PairJob, run_pool
from .outputs import check_orphans, clean_partials, default_output_dir, prepare_output, write_splits


def convert(fmt: PairFormat, options: ConvertOptions) -> dict[str, Any]:
    """Convert one raw folder of ``fmt``; return the manifest, run counts and class pixel totals."""
    if options.nproc < 1:
        raise DaspmInputError(f'--nproc must be at least 1, got {options.nproc}')
    table = fmt.label_table(options)
    raw = Path(options.raw_dir)
    out = Path(options.out_dir) if options.out_dir is not None else default_output_dir(raw)
    # Every check that needs no output happens before the output folder is touched.
    raw_input = fmt.find_input(raw)
    splits, notes = fmt.plan_splits(raw_input, options)
    suffix = fmt.image_suffix(raw, raw_input)
    resume, previous = prepare_output([raw], out, fmt.output_rules(*table), options.overwrite)
    if resume:
        clean_partials(out)
        check_orphans(out, {p.name for p in raw_input.pairs}, fmt.orphan_pattern, fmt.orphan_holder)
    (out / IMG_DIR).mkdir(exist_ok=True)
    (out / ANN_DIR).mkdir(exist_ok=True)
    record = (options, raw_input, splits, table, suffix, notes)
    # Written first so an interrupted run is recognised as ours and resumed, not refused.
    write_json(out / MANIFEST, fmt.manifest('in_progress', *record))

    rules = fmt.rules(*table, suffix)
    jobs = [PairJob(p.name, p.image, p.label, out / IMG_DIR / f'{p.name}{suffix}', out / ANN_DIR / f'{p.name}.tif',
                    resume, options.symlink_images, rules) for p in raw_input.pairs]
    results = run_pool(fmt.worker, jobs, options.nproc, f'converting {fmt.name}', options.progress,
                       chunksize=fmt.chunksize)
    found = fmt.check_results(raw, results)

    write_splits(out, splits, previous)
    sample_class_stats, samples_with_class = build_class_stats({f'{ANN_DIR}/{r.name}.tif': r.counts for r in results})
    write_class_stats(out, sample_class_stats, samples_with_class)
    manifest = fmt.manifest('complete', *record, found)
    write_json(out / MANIFEST, manifest)
    return {
        'out_dir': str(out), 'manifest': manifest,
        'converted': sum(not r.skipped for r in results), 'skipped': sum(r.skipped for r in results),
        'class_pixels': class_pixel_totals(sample_class_stats),
    }


def convert_dataset(raw_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, dataset: str,
                    **options: Any) -> dict[str, Any]:
    """:func:`convert` for the format named ``dataset``; ``options``: the fields of :class:`ConvertOptions`."""
    if dataset not in FORMATS:
        raise DaspmInputError(f'unknown dataset {dataset!r}; choose one of {", ".join(FORMATS)}')
    return convert(FORMATS[dataset], ConvertOptions(raw_dir, out_dir, **options))


__all__ = ['convert', 'convert_dataset']
