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
from daspm.utils.dataset_layout import MANIFEST, SAMPLE_CLASS_STATS
from daspm.utils.errors import DaspmInputError

from ..jobs import ConvertOptions, PairJob, PairResult
from ..outputs import OutputRules, Wording

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


def check_input_dir(raw: Path, help_text: str) -> None:
    """The raw folder exists and is a folder."""
    if not raw.exists():
        raise DaspmInputError(f'{raw}: input directory not found; {help_text}')
    if not raw.is_dir():
        raise DaspmInputError(f'{raw}: not a directory; {help_text}')


class PairFormat:
    """A dataset format converted pair by pair: subclasses and instances fill in the class attributes and hooks.

    The pipeline calls, in order: ``label_table`` -> ``find_input`` -> ``plan_splits`` ->
    ``image_suffix`` -> ``output_rules`` (resume checks) -> ``rules`` + ``worker`` per pair ->
    ``check_results`` -> ``manifest`` (in progress, then complete) -> ``summary`` (the CLI).
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

    def output_rules(self, table_name: str, table: Mapping[int, int]) -> OutputRules:
        """The output-folder policy of this conversion."""
        return OutputRules(self.words, self.read_previous, self.ours,
                           lambda out, prev: self.check_resume(out, prev, table_name, table))

    def check_results(self, raw: Path, results: Sequence[PairResult]) -> dict[str, Any]:
        """Checks over all pairs; returns what the complete manifest adds."""
        return {}

    def table_record(self, table_name: str, table: Mapping[int, int]) -> dict[str, Any]:
        """The label table as the manifest records it."""
        return {'name': table_name, 'codes': {str(k): v for k, v in table.items()}}

    def manifest_extras(self, suffix: str, notes: list[str], found: Mapping[str, Any]) -> dict[str, Any]:
        """What this format adds after the shared manifest fields (``found``: check_results, once complete)."""
        return dict(found)

    def manifest(self, status: str, options: ConvertOptions, raw_input: RawInput, splits: Mapping[str, list[str]],
                 table: tuple[str, Mapping[int, int]], suffix: str, notes: list[str],
                 found: Mapping[str, Any] = {}) -> dict[str, Any]:
        """``daspm_dataset.json``: written first (in progress), so an interrupted run is resumed, and when complete."""
        return {
            'format': MANIFEST_FORMAT, 'version': MANIFEST_VERSION, 'dataset': self.name, 'status': status,
            'classes': list(self.classes), 'palette': [list(c) for c in self.palette], 'ignore_index': IGNORE_INDEX,
            'num_images': len(raw_input.pairs), 'source': str(options.raw_dir), 'raw_layout': raw_input.layout,
            'label_table': self.table_record(*table), 'splits': {s: len(v) for s, v in splits.items()},
            'images': 'symlink' if options.symlink_images else 'copy',
            **self.manifest_extras(suffix, notes, found),
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


__all__ = ['MANIFEST_FORMAT', 'MANIFEST_VERSION', 'MANIFEST', 'Pair', 'RawInput', 'PairFormat', 'check_input_dir',
           'class_lines']
