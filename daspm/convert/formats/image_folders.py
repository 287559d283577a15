"""Shared parts of the image-folder formats (LoveDA, UTCD, WHDLD, Global23k): PNG/JPEG pairs on one pixel grid.

Each format module says where its pairs lie; this module pairs two folders by file name, reads
and completes split files, builds the label table (a named table plus ``--label-map``) and
converts one pair (:func:`convert_image_pair`). Converted layout (output)::

    <out>/img_dir/<name>.<suffix of the input>   byte copy (or symlink)
    <out>/ann_dir/<name>.tif                     uint8 train ids, 255 = ignore, colour table
    <out>/<split>.txt
    <out>/sample_class_stats.json  <out>/samples_with_class.json  <out>/daspm_dataset.json

The manifest records ``image_suffix``, which the datasets read, and the label table used.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from affine import Affine

from daspm.classes import IGNORE_INDEX
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, MANIFEST_IMAGE_SUFFIX, SAMPLE_CLASS_STATS,
                                        SAMPLES_WITH_CLASS, SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import open_raster

from ..class_stats import count_classes, read_class_counts
from ..jobs import ConvertOptions, PairJob, PairResult
from ..outputs import (Wording, is_done, listing, load_manifest, place_image, quiet_georeference,
                       write_annotation)
from .base import MANIFEST_FORMAT, PairFormat, RawInput, class_lines

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff')
LABEL_SUFFIXES = ('.png', '.tif', '.tiff')


@dataclass(frozen=True)
class FolderRules:
    """What a worker needs of one pair: the label table, its name, a hint for unknown values, the classes."""

    table: Mapping[int, int]
    table_name: str
    hint: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, ...], ...]
    reader: str  # who reads the images, for the message on a wrong image format


# -- pairs and splits ------------------------------------------------------------------------------


def _files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """``{stem: path}`` of the files with one of ``suffixes``; two files of one stem raise."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith('.') or not p.is_file() or p.suffix.lower() not in suffixes:
            continue
        if p.stem in found:
            raise DaspmInputError(f'{folder}: both {found[p.stem].name} and {p.name} exist; names must be unique '
                                  'without their suffix: remove or rename one')
        found[p.stem] = p
    return found


def pair_folder(img_dir: Path, lab_dir: Path, help_text: str) -> list[tuple[str, Path, Path]]:
    """(name, image, label) of two folders matched by file name; unpaired files raise."""
    images, labels = _files(img_dir, IMAGE_SUFFIXES), _files(lab_dir, LABEL_SUFFIXES)
    if not images:
        raise DaspmInputError(f'{img_dir}: no images ({", ".join(IMAGE_SUFFIXES)}) found; {help_text}')
    no_label, no_image = sorted(set(images) - set(labels)), sorted(set(labels) - set(images))
    if no_label or no_image:
        parts = ([f'images without a label in {lab_dir}: {listing(no_label)}'] if no_label else []) + \
                ([f'labels without an image in {img_dir}: {listing(no_image)}'] if no_image else [])
        raise DaspmInputError('; '.join(parts) + '; every image needs a label of the same name (add the '
                              'missing files or move the unpaired ones out of the input)')
    return [(name, images[name], labels[name]) for name in sorted(images)]


def _read_split_file(path: Path, known: set[str]) -> list[str]:
    """Names of a split file (one per line, suffix tolerated); names that are not images raise."""
    entries = []
    for line in path.read_text(encoding='utf-8').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        name = Path(line).name
        entries.append(Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name)
    unknown = sorted(set(entries) - known)
    if unknown:
        raise DaspmInputError(f'{path}: names not found among the images: {listing(unknown)}; list image names '
                              '(without folder or suffix), one per line, or add the missing images')
    return entries


def read_split_files(raw: Path, names: set[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Split lists from ``<raw>/[splits/]<split>[_da].txt``; returns (splits, their relative paths)."""
    splits, where = {}, {}
    for split in SPLITS:
        found = [p for folder in (raw, raw / 'splits') for stem in (split, f'{split}_da')
                 for p in [folder / f'{stem}.txt'] if p.is_file()]
        if len(found) > 1:
            raise DaspmInputError(f'{" and ".join(map(str, found))}: several {split} split files; keep one')
        if found:
            splits[split] = _read_split_file(found[0], names)
            where[split] = found[0].relative_to(raw).as_posix()
    return splits, where


def complete_splits(names: list[str], given: dict[str, list[str]], *, val_ratio: float, test_ratio: float,
                    seed: int) -> tuple[dict[str, list[str]], list[str]]:
    """Always a train, val and test list; returns (splits, notes saying what was derived).

    No split files: a seeded random split of the sorted names (``val_ratio``, ``test_ratio``, the
    rest trains). Some split files: a missing train split is every image not in val/test; a
    missing test split is the val split (the reference evaluates its UTCD runs on val.txt) and
    the other way round.
    """
    notes: list[str] = []
    if not given:
        if not (0 <= val_ratio < 1 and 0 <= test_ratio < 1 and val_ratio + test_ratio < 1):
            raise DaspmInputError(f'--val-ratio {val_ratio} and --test-ratio {test_ratio}: each must be in [0, 1) '
                                  'and their sum below 1')
        order = np.random.default_rng(seed).permutation(len(names))
        shuffled = [sorted(names)[i] for i in order]
        n_val, n_test = round(val_ratio * len(names)), round(test_ratio * len(names))
        if len(names) >= 3:  # tiny datasets still get one image per split
            n_val, n_test = max(n_val, 1 if val_ratio > 0 else 0), max(n_test, 1 if test_ratio > 0 else 0)
        splits = {'val': sorted(shuffled[:n_val]), 'test': sorted(shuffled[n_val:n_val + n_test]),
                  'train': sorted(shuffled[n_val + n_test:])}
        notes.append(f'no split files in the input: random split (seed {seed}) of {len(names)} images into '
                     f'train {len(splits["train"])} / val {n_val} / test {n_test} (--val-ratio, --test-ratio, '
                     '--split-seed change it)')
        return {s: splits[s] for s in SPLITS}, notes
    splits = dict(given)
    if 'val' not in splits and 'test' in splits:
        splits['val'] = list(splits['test'])
        notes.append('no val split in the input: val.txt = test.txt')
    if 'test' not in splits and 'val' in splits:
        splits['test'] = list(splits['val'])
        notes.append('no test split in the input: test.txt = val.txt (the reference evaluates on val.txt)')
    if 'train' not in splits:
        held_out = set(splits.get('val', [])) | set(splits.get('test', []))
        splits['train'] = [n for n in sorted(names) if n not in held_out]
        notes.append(f'no train split in the input: train.txt = the {len(splits["train"])} images not in val/test')
    return {s: splits[s] for s in SPLITS}, notes




# -- label tables ---------------------------------------------------------------------------------------

def parse_label_map(text: str | None, classes: Sequence[str]) -> dict[int, int]:
    """``'8=5,9=6,10=255'`` -> ``{8: 5, 9: 6, 10: 255}``; train ids must be class ids or 255."""
    if not text:
        return {}
    mapping: dict[int, int] = {}
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        try:
            code, train_id = (int(v) for v in item.split('='))
        except ValueError:
            raise DaspmInputError(f'--label-map {text!r}: {item!r} is not CODE=TRAIN_ID (e.g. 8=5,10=255)') from None
        if code < 0 or not (0 <= train_id < len(classes) or train_id == IGNORE_INDEX):
            raise DaspmInputError(f'--label-map {text!r}: {item!r}: codes are >= 0 and train ids 0..{len(classes) - 1} '
                                  f'({", ".join(classes)}) or {IGNORE_INDEX} (ignore)')
        mapping[code] = train_id
    return mapping


def codes_to_train_ids(codes: np.ndarray, path: str | os.PathLike, table: Mapping[int, int], table_name: str,
                       hint: str = '', num_classes: int = 7) -> np.ndarray:
    """Map an (H, W) integer label through ``table`` to uint8 train ids; unknown values raise."""
    if not np.issubdtype(codes.dtype, np.integer):
        raise DaspmInputError(f'{path}: label data type is {codes.dtype}, expected integer class codes; '
                              're-export the label as an 8-bit single-band PNG')
    if codes.dtype in (np.uint8, np.uint16):
        present = np.flatnonzero(np.bincount(codes.ravel(), minlength=1)).tolist()  # linear, no sort
    else:
        present = np.unique(codes).tolist()
    bad = [v for v in present if v not in table]
    if bad:
        extra = f'; {hint}' if hint and any(v > num_classes - 1 and v != IGNORE_INDEX for v in bad) else ''
        raise DaspmInputError(
            f'{path}: label values {listing([str(v) for v in bad])} are not in the label table {table_name!r} '
            f'(known: {", ".join(str(k) for k in table)}){extra}; fix the label, choose another --label-table, '
            f'or give the values a class with --label-map CODE=ID (ID 0..{num_classes - 1} or {IGNORE_INDEX})')
    lut = np.full(max(256, max(table) + 1), IGNORE_INDEX, dtype=np.uint8)
    for code, train_id in table.items():
        lut[code] = train_id
    return lut[codes if codes.dtype == np.uint8 else codes.astype(np.intp)]


# -- one pair ---------------------------------------------------------------------------------------------


# -- one pair -----------------------------------------------------------------------------------------


def _read_label(path: Path) -> np.ndarray:
    with quiet_georeference(), open_raster(path) as src:
        if src.count != 1:
            raise DaspmInputError(
                f'{path}: label has {src.count} bands; expected one band of class codes (a colour-coded '
                'label must be turned into codes first, see docs/datasets.md)')
        return src.read(1)


def _image_header(path: Path) -> dict[str, Any]:
    with quiet_georeference(), open_raster(path) as src:
        return dict(bands=src.count, dtype=src.dtypes[0], shape=(src.height, src.width))


def convert_image_pair(job: PairJob) -> PairResult:
    """Worker: check one pair, convert it (or count a finished output when resuming)."""
    rules: FolderRules = job.rules
    image, label, num_classes = job.image, job.label, len(rules.classes)
    head = _image_header(image)
    if head['bands'] != 3 or head['dtype'] != 'uint8':
        raise DaspmInputError(f'{image}: {head["dtype"]} with {head["bands"]} band(s); {rules.reader} read '
                              '8-bit RGB (3 bands): re-export the image as 8-bit RGB')
    if job.resume and is_done([image, label], [job.img_out], stamp=job.ann_out):
        return PairResult(job.name, image, True, read_class_counts(job.ann_out, num_classes))
    codes = _read_label(label)
    if codes.shape != head['shape']:
        raise DaspmInputError(f'{label}: label size {codes.shape[1]}x{codes.shape[0]} differs from its image {image} '
                              f'({head["shape"][1]}x{head["shape"][0]}); labels must be on the image grid')
    train_ids = codes_to_train_ids(codes, label, rules.table, rules.table_name, rules.hint, num_classes)
    # label first: a label error leaves no image copy; the image before the annotation, so
    # "ann_dir file exists" means the pair is done
    place_image(image, job.img_out, job.symlink)
    write_annotation(job.ann_out, train_ids, None, Affine.identity(), rules.classes, rules.palette)
    return PairResult(job.name, image, False, count_classes(train_ids, num_classes))


# -- the format template ---------------------------------------------------------------------------------


class FolderFormat(PairFormat):
    """An image-folder dataset: a layout reader, named label tables (plus ``--label-map``) and its configs."""

    worker = staticmethod(convert_image_pair)
    orphan_pattern = '[!.]*'  # images keep their suffix (.png, .jpg); leaves out hidden files (.DS_Store, ...)
    orphan_holder = 'a previous conversion'
    chunksize = 4
    words = Wording(
        inside_input='{out}: output directory is inside the input {raw}; converters never write into their input: '
                     'choose an output outside it (default: <raw>_converted beside it)',
        input_inside='{raw}: input directory is inside the output {out}; choose another output directory',
        not_dir='{out}: exists and is not a directory; choose another output path')

    def __init__(self, name: str, description: str, layout_help: str, find_input: Any,
                 tables: Mapping[str, Mapping[int, int]], code_names: Mapping[str, Mapping[int, str]],
                 complete_splits: bool, configs: tuple[str, ...], classes: Sequence[str],
                 palette: Sequence[Sequence[int]], dataset_type: str, unknown_hint: str = '',
                 reader: str = 'the LoveDA family configs') -> None:
        self.name, self.description, self.layout_help = name, description, layout_help
        self.find_input = find_input  # type: ignore[method-assign]
        self.tables, self.code_names, self.default_table = tables, code_names, next(iter(tables))
        self.complete_splits, self.configs, self.unknown_hint = complete_splits, configs, unknown_hint
        self.classes, self.palette = tuple(classes), tuple(tuple(c) for c in palette)
        self.dataset_type, self.reader = dataset_type, reader

    def label_table(self, options: ConvertOptions) -> tuple[str, dict[int, int]]:
        name = options.label_table or self.default_table
        if name not in self.tables:
            raise DaspmInputError(f'--label-table {name!r}: unknown for {self.name}; choose one of '
                                  f'{", ".join(self.tables)}')
        table = dict(self.tables[name])
        if options.label_map:
            table.update(options.label_map)
            name = f'{name} + --label-map ' + ','.join(f'{k}={v}' for k, v in sorted(options.label_map.items()))
        return name, dict(sorted(table.items()))

    def plan_splits(self, raw_input: RawInput, options: ConvertOptions) -> tuple[dict[str, list[str]], list[str]]:
        splits, notes = dict(raw_input.splits), list(raw_input.notes)
        if self.complete_splits:
            splits, split_notes = complete_splits([p.name for p in raw_input.pairs], splits,
                                                  val_ratio=options.val_ratio, test_ratio=options.test_ratio,
                                                  seed=options.split_seed)
            notes += split_notes
        return splits, notes

    def image_suffix(self, raw: Path, raw_input: RawInput) -> str:
        suffixes = sorted({p.image.suffix.lower() for p in raw_input.pairs})
        if len(suffixes) > 1:
            by_suffix = {s: [p.image.name for p in raw_input.pairs if p.image.suffix.lower() == s] for s in suffixes}
            raise DaspmInputError(f'{raw}: images of several formats (' + '; '.join(
                f'{s}: {listing(n)}' for s, n in by_suffix.items()) + '); a dataset reads one format: convert the odd '
                'ones to the format of the others')
        return suffixes[0]

    def rules(self, table_name: str, table: Mapping[int, int], suffix: str) -> FolderRules:
        return FolderRules(table, table_name, self.unknown_hint, self.classes, self.palette, self.reader)

    def read_previous(self, out: Path) -> dict[str, Any]:
        """The manifest of a previous conversion in ``out``; anything else raises."""
        previous = load_manifest(out / MANIFEST)
        if previous is None or previous.get('format') != MANIFEST_FORMAT:
            raise DaspmInputError(f'{out}: output directory is not empty and holds no readable {MANIFEST} (not a previous '
                                  'DASPM conversion); choose an empty or new directory, nothing there is overwritten')
        return previous

    def ours(self, out: Path, previous: Mapping[str, Any]) -> list[Path]:
        names = [IMG_DIR, ANN_DIR, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST,
                 *(f'{s}.txt' for s in (*SPLITS, *(previous.get('splits') or {})))]
        return [out / n for n in names]

    def check_resume(self, out: Path, previous: Mapping[str, Any], table_name: str, table: Mapping[int, int]) -> None:
        super().check_resume(out, previous, table_name, table)
        before = (previous.get('label_table') or {}).get('codes')
        now = {str(k): v for k, v in table.items()}
        # A table that only adds codes (e.g. --label-map for the values a first run stopped at) maps the
        # labels converted before exactly as they were: resuming is safe. Any changed entry is not.
        if before is not None and any(now.get(k) != v for k, v in before.items()):
            raise DaspmInputError(f'{out}: was converted with the label table {previous["label_table"].get("name")!r}, '
                                  f'not {table_name!r}; resuming would mix two tables: give the same options, or '
                                  '--overwrite to convert everything again')

    def manifest_extras(self, suffix: str, notes: list[str], found: Mapping[str, Any]) -> dict[str, Any]:
        return {MANIFEST_IMAGE_SUFFIX: suffix,
                'image_format': {'dtype': 'uint8', 'bands': 3, 'band_names': None, 'label_factor': 1},
                'notes': notes}

    def raw_help(self) -> str:
        return f'raw {self.name} folder (never modified); {self.layout_help}'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if len(self.tables) > 1:
            parser.add_argument('--label-table', choices=list(self.tables), default=self.default_table,
                                help='how label values map to the train ids (default %(default)s); see below')
        parser.add_argument('--label-map', default=None, metavar='CODE=ID,...',
                            help=f'extra or changed entries of the label table, e.g. 8={len(self.classes) - 2},10=255 '
                                 f'(ID 0..{len(self.classes) - 1} or 255 = ignore)')
        if self.complete_splits:
            parser.add_argument('--val-ratio', type=float, default=0.1,
                                help='share of images in val.txt when the input has no split files (default 0.1)')
            parser.add_argument('--test-ratio', type=float, default=0.2,
                                help='share of images in test.txt when the input has no split files (default 0.2)')
            parser.add_argument('--split-seed', type=int, default=0, help='seed of that random split (default 0)')

    def epilog(self) -> str:
        parts = []
        for name, table in self.tables.items():
            lines = [f'label table {name}' + (' (default)' if name == self.default_table else '') + ':',
                     '  raw value  meaning          -> train id']
            for code, tid in table.items():
                target = 'ignore' if tid == IGNORE_INDEX else f'{tid} {self.classes[tid]}'
                lines.append(f'  {code:<10} {self.code_names[name].get(code, ""):<16} -> {target}')
            parts.append('\n'.join(lines))
        return ('\n\n'.join(parts) + '\nany other value is an error (or give it a class with --label-map CODE=ID).'
                + '\n\nsee docs/datasets.md')

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        chosen = {'label_table': getattr(args, 'label_table', None),
                  'label_map': parse_label_map(args.label_map, self.classes)}
        if self.complete_splits:
            chosen.update(val_ratio=args.val_ratio, test_ratio=args.test_ratio, split_seed=args.split_seed)
        return chosen

    def summary(self, raw_dir: str, result: Mapping[str, Any]) -> list[str]:
        manifest = result['manifest']
        lines = [self.description,
                 f'read {raw_dir}: {manifest["raw_layout"]["images"]}/ + {manifest["raw_layout"]["labels"]}/',
                 f'wrote {result["out_dir"]}: {manifest["num_images"]} images ({result["converted"]} converted, '
                 f'{result["skipped"]} already done), images {manifest["image_suffix"]}, labels ann_dir/*.tif',
                 'splits: ' + (', '.join(f'{k} {v}' for k, v in manifest['splits'].items()) or 'none')]
        lines += [f'note: {note}' for note in manifest['notes']]
        lines += [f'label table: {manifest["label_table"]["name"]}',
                  'configs: ' + ', '.join(self.configs) + ' (and their source-only / target-oracle twins)']
        return lines + class_lines(manifest, result, 14)
