"""What a format adapter says: how to find image/label pairs and splits, its label tables, image policy and classes.

:class:`PairFormat` is the template that :func:`daspm.convert.pipeline.convert` runs; each
format module fills it in (its on-disk layout in its docstring) and overrides what differs.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

from daspm.classes import IGNORE_INDEX
from daspm.utils.dataset_layout import ANN_DIR, IMG_DIR, MANIFEST, SAMPLE_CLASS_STATS
from daspm.utils.errors import DaspmInputError

from ..class_stats import build_class_stats, class_pixel_totals, write_class_stats, write_json
from ..jobs import ConvertOptions, PairJob, PairResult
from ..outputs import OutputRules, Wording, check_orphans, clean_partials, default_output_dir, write_splits

MANIFEST_FORMAT = 'daspm-converted'
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Pair:
    """One raw image and its label, the output name, and the split files the layout puts it in."""

    name: str
    image: Path
    label: Path
    groups: tuple[str, ...] = ()


@dataclass
class RawInput:
    """What a raw folder holds: pairs, the split lists it defines, and how it was laid out."""

    pairs: list[Pair]
    layout: dict[str, Any]
    splits: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class PairPlan:
    """Everything a pair conversion found before writing: the route's one plan, handed down."""

    options: ConvertOptions
    raw: Path
    out: Path
    raw_input: RawInput
    splits: dict[str, list[str]]
    notes: list[str]
    suffix: str
    table: tuple[str, dict[int, int]]

    @property
    def inputs(self) -> list[Path]:
        """The folders the output must stay out of."""
        return [self.raw]


def check_input_dir(raw: Path, help_text: str) -> None:
    """The raw folder exists and is a folder."""
    if not raw.exists():
        raise DaspmInputError(f'{raw}: input directory not found; {help_text}')
    if not raw.is_dir():
        raise DaspmInputError(f'{raw}: not a directory; {help_text}')


class PairFormat:
    """A dataset format converted pair by pair: subclasses and instances fill in the class attributes and hooks.

    :func:`daspm.convert.pipeline.convert` calls ``plan`` -> ``output_rules`` -> ``start`` ->
    ``jobs`` + ``worker`` -> ``finish``; these run the steps every pair format shares::

        plan():   label_table() -> find_input() -> plan_splits() -> image_suffix()   nothing written
        start():  clean_partials() + check_orphans() (resuming) -> manifest 'in_progress'
        jobs():   one PairJob per pair, carrying rules()
        finish(): check_results() -> write_splits() -> write_class_stats() -> manifest 'complete'

    and a format fills in or overrides the hooks below them.
    """

    name: str
    description: str
    layout_help: str
    classes: Sequence[str]
    palette: Sequence[Sequence[int]]
    tables: Mapping[str, Mapping[int, int]]
    default_table: str
    dataset_type: str  # the registered dataset class that reads the converted folder
    worker: ClassVar[Callable[[PairJob], PairResult]]
    orphan_pattern: ClassVar[str] = '*.tif'
    orphan_holder: ClassVar[str] = 'previous conversion'
    chunksize: ClassVar[int] = 1
    out_flags: tuple[str, ...] = ('-o', '--out')  # the output option's spellings
    words: ClassVar[Wording]

    def label_table(self, options: ConvertOptions) -> tuple[str, dict[int, int]]:
        """The (name, raw code -> train id) table this conversion uses; unknown names raise."""
        raise NotImplementedError

    def find_input(self, raw: Path) -> RawInput:
        """The pairs, split lists and layout of a raw folder; layout errors raise."""
        raise NotImplementedError

    def plan_splits(self, raw_input: RawInput, options: ConvertOptions) -> tuple[dict[str, list[str]], list[str]]:
        """The split lists to write and notes on how they were made (default: those of the input)."""
        return dict(raw_input.splits), list(raw_input.notes)

    def image_suffix(self, raw: Path, raw_input: RawInput) -> str:
        """The suffix of the converted images."""
        return '.tif'

    def rules(self, table_name: str, table: Mapping[int, int], suffix: str) -> Any:
        """The picklable settings every worker job carries."""
        raise NotImplementedError

    def read_previous(self, out: Path) -> dict[str, Any]:
        """The manifest of a previous conversion in a non-empty ``out``; anything else raises."""
        raise NotImplementedError

    def ours(self, out: Path, previous: Mapping[str, Any]) -> list[Path]:
        """What --overwrite removes."""
        raise NotImplementedError

    def check_resume(self, out: Path, previous: Mapping[str, Any], table_name: str, table: Mapping[int, int]) -> None:
        """Refuse resuming a conversion of another dataset or label table."""
        if previous.get('dataset') != self.name:
            raise DaspmInputError(
                f'{out}: holds a {previous.get("dataset")} conversion, not {self.name}; choose another '
                'output directory or pass --overwrite to replace it')

    def output_rules(self, plan: PairPlan) -> OutputRules:
        """The output-folder policy of this conversion."""
        return OutputRules(self.words, self.read_previous, self.ours,
                           lambda out, prev: self.check_resume(out, prev, *plan.table))

    def plan(self, options: ConvertOptions) -> PairPlan:
        """Every check that needs no output, before the output folder is touched."""
        table = self.label_table(options)
        raw = Path(options.raw_dir)
        out = Path(options.out_dir) if options.out_dir is not None else default_output_dir(raw)
        raw_input = self.find_input(raw)
        splits, notes = self.plan_splits(raw_input, options)
        return PairPlan(options, raw, out, raw_input, splits, notes, self.image_suffix(raw, raw_input), table)

    def start(self, plan: PairPlan, resume: bool) -> None:
        """Clean up after a killed run, refuse orphans, and mark the folder as an unfinished conversion."""
        out = plan.out
        if resume:
            clean_partials(out)
            check_orphans(out, {p.name for p in plan.raw_input.pairs}, self.orphan_pattern, self.orphan_holder)
        (out / IMG_DIR).mkdir(exist_ok=True)
        (out / ANN_DIR).mkdir(exist_ok=True)
        # Written first so an interrupted run is recognised as ours and resumed, not refused.
        write_json(out / MANIFEST, self.manifest('in_progress', plan))

    def jobs(self, plan: PairPlan, resume: bool) -> list[PairJob]:
        """One job per pair."""
        rules, out, suffix = self.rules(*plan.table, plan.suffix), plan.out, plan.suffix
        return [PairJob(p.name, p.image, p.label, out / IMG_DIR / f'{p.name}{suffix}', out / ANN_DIR / f'{p.name}.tif',
                        resume, plan.options.symlink_images, rules) for p in plan.raw_input.pairs]

    def progress_label(self, plan: PairPlan) -> str:
        """The progress bar's label."""
        return f'converting {self.name}'

    @staticmethod
    def result_name(result: PairResult) -> str:
        """The sort key of a worker's result."""
        return result.name

    def finish(self, plan: PairPlan, results: Sequence[PairResult], previous: Mapping[str, Any]) -> dict[str, Any]:
        """Checks over all pairs, split files, class statistics, the complete manifest; returns the run's result."""
        found = self.check_results(plan.raw, results)
        write_splits(plan.out, plan.splits, previous)
        sample_class_stats, samples_with_class = build_class_stats(
            {f'{ANN_DIR}/{r.name}.tif': r.counts for r in results})
        write_class_stats(plan.out, sample_class_stats, samples_with_class)
        manifest = self.manifest('complete', plan, found)
        write_json(plan.out / MANIFEST, manifest)
        return {
            'out_dir': str(plan.out), 'manifest': manifest,
            'converted': sum(not r.skipped for r in results), 'skipped': sum(r.skipped for r in results),
            'class_pixels': class_pixel_totals(sample_class_stats),
        }

    def check_results(self, raw: Path, results: Sequence[PairResult]) -> dict[str, Any]:
        """Checks over all pairs; returns what the complete manifest adds."""
        return {}

    def table_record(self, table_name: str, table: Mapping[int, int]) -> dict[str, Any]:
        """The label table as the manifest records it."""
        return {'name': table_name, 'codes': {str(k): v for k, v in table.items()}}

    def manifest_extras(self, suffix: str, notes: list[str], found: Mapping[str, Any]) -> dict[str, Any]:
        """What this format adds after the shared manifest fields (``found``: check_results, once complete)."""
        return dict(found)

    def manifest(self, status: str, plan: PairPlan, found: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``daspm_dataset.json``: written first (in progress), so an interrupted run is resumed, and when complete."""
        return {
            'format': MANIFEST_FORMAT, 'version': MANIFEST_VERSION, 'dataset': self.name, 'status': status,
            'classes': list(self.classes), 'palette': [list(c) for c in self.palette], 'ignore_index': IGNORE_INDEX,
            'num_images': len(plan.raw_input.pairs), 'source': str(plan.options.raw_dir),
            'raw_layout': plan.raw_input.layout, 'label_table': self.table_record(*plan.table),
            'splits': {s: len(v) for s, v in plan.splits.items()},
            'images': 'symlink' if plan.options.symlink_images else 'copy',
            **self.manifest_extras(plan.suffix, plan.notes, found or {}),
        }

    def raw_help(self) -> str:
        """The help of the RAW argument."""
        return f'raw {self.name} folder (never modified)'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """This format's options beyond the shared ones (RAW, -o, --nproc, --symlink-images, --overwrite)."""

    def epilog(self) -> str:
        """The text below the options in --help (the label tables)."""
        return ''

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        """The ConvertOptions fields this format's own arguments set."""
        return {}

    def summary(self, raw_dir: str, result: Mapping[str, Any]) -> list[str]:
        """The printed one-screen report of a conversion."""
        raise NotImplementedError


def class_lines(manifest: Mapping[str, Any], result: Mapping[str, Any], width: int) -> list[str]:
    """The summary's table of labelled pixels per class."""
    total = sum(result['class_pixels'].values())
    lines = [f'labelled pixels per class ({SAMPLE_CLASS_STATS}):']
    for cid, name in enumerate(manifest['classes']):
        n = result['class_pixels'].get(cid, 0)
        lines.append(f'  {cid} {name:<{width}} {n:>14,d}  {100.0 * n / total if total else 0.0:5.1f} %')
    return lines


__all__ = ['MANIFEST_FORMAT', 'MANIFEST_VERSION', 'MANIFEST', 'Pair', 'PairPlan', 'RawInput', 'PairFormat', 'check_input_dir',
           'class_lines']
