"""LoveDA, WHDLD and UTCD -> the converted layout, in the seven LoveDA classes (the reference's second family).

The reference adapts LoveDA (source) to UTCD and to WHDLD (targets), all in LoveDA's classes
(``daspm.classes.LOVEDA_CLASSES``: background, building, road, water, barren, forest,
agricultural). Raw layouts (input, never modified)::

    LoveDA  <raw>/{Train,Val}/{Urban,Rural}/images_png/<id>.png   RGB, 1024 x 1024
            <raw>/{Train,Val}/{Urban,Rural}/masks_png/<id>.png    0 = no data, 1..7 = the classes
            (Test/ has no masks and is skipped)
    WHDLD   <raw>/Images/<name>.jpg                               RGB, 256 x 256
            <raw>/ImagesPNG/<name>.png                            1 building, 2 road, 3 pavement,
                                                                  4 vegetation, 5 bare soil, 6 water
    UTCD    <raw>/image_spm/ + <raw>/label_spm/ (the reference's folders), or image/ + label/,
            or images/ + labels/, one <name>.<png|jpg|tif> image and <name>.<png|tif> label each

WHDLD and UTCD may bring ``train.txt``/``val.txt``/``test.txt`` (also ``<split>_da.txt``, the
reference's WHDLD names) in ``<raw>/`` or ``<raw>/splits/``; missing splits are completed (see
:func:`complete_splits`). Converted layout (output)::

    <out>/img_dir/<name>.<suffix of the input>   byte copy (or symlink)
    <out>/ann_dir/<name>.tif                     uint8 train ids 0..6, 255 = ignore, colour table
    <out>/<split>.txt                            LoveDA: train, val, train_urban, ..., urban, rural
    <out>/sample_class_stats.json  <out>/samples_with_class.json  <out>/daspm_dataset.json

The manifest records ``image_suffix``, which the datasets read, and the label table used.
Every output file is written under a temporary name and renamed when complete, so an existing
``ann_dir`` file is a finished one: an interrupted conversion resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from tqdm import tqdm

from daspm.classes import IGNORE_INDEX, LOVEDA_CLASSES, LOVEDA_PALETTE
from daspm.utils.colors import colormap_table
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, MANIFEST_IMAGE_SUFFIX, SAMPLE_CLASS_STATS,
                                        SAMPLES_WITH_CLASS, SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, open_raster, write_geotiff

from .class_stats import build_class_stats, class_pixel_totals, count_classes, read_class_counts, write_class_stats, \
    write_json
from .converter import MANIFEST_FORMAT, MANIFEST_VERSION, default_output_dir
from .outputs import check_orphans, clean_partials, is_done, is_within, listing

NUM_CLASSES = len(LOVEDA_CLASSES)
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff')
LABEL_SUFFIXES = ('.png', '.tif', '.tiff')
ANN_COLORMAP = colormap_table(LOVEDA_PALETTE)

# -- label tables: raw code -> LoveDA train id (255 = ignore) ---------------------------------------

#: LoveDA masks: 0 = no data, 1..7 = background, building, road, water, barren, forest, agricultural.
LOVEDA_CODES: Mapping[int, int] = MappingProxyType({0: IGNORE_INDEX, **{c: c - 1 for c in range(1, 8)}})
#: WHDLD onto LoveDA (the reference's whdld.py): building, road kept; pavement -> background;
#: vegetation -> forest; bare soil -> barren; water -> water.
WHDLD_CODES: Mapping[int, int] = MappingProxyType({1: 1, 2: 2, 3: 0, 4: 5, 5: 4, 6: 3})
#: Labels already in LoveDA train ids (what the reference's UTCD dataset trains on: label_spm/).
TRAIN_ID_CODES: Mapping[int, int] = MappingProxyType({**{c: c for c in range(NUM_CLASSES)},
                                                      IGNORE_INDEX: IGNORE_INDEX})

LOVEDA_CODE_NAMES = {0: 'no data', **{i + 1: n for i, n in enumerate(LOVEDA_CLASSES)}}
WHDLD_CODE_NAMES = {1: 'building', 2: 'road', 3: 'pavement', 4: 'vegetation', 5: 'bare soil', 6: 'water'}
TRAIN_ID_NAMES = {**{i: n for i, n in enumerate(LOVEDA_CLASSES)}, IGNORE_INDEX: 'ignore'}

_UTCD_HINT = ('values above 6 look like raw 10-class UTCD codes, which the reference\'s '
              'tools/convert_datasets/global23k.py moved to 11..20 rather than to LoveDA train ids: '
              'give their LoveDA class with --label-map CODE=ID (e.g. --label-map 8=5,9=6,10=255)')


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


@dataclass(frozen=True)
class FamilySpec:
    """A dataset of the family: its layout reader, label tables and the configs it feeds."""

    name: str
    description: str
    tool: str
    layout_help: str
    find_input: Callable[[Path], RawInput]
    tables: Mapping[str, Mapping[int, int]]
    code_names: Mapping[str, Mapping[int, str]]
    default_table: str
    complete_splits: bool  # targets: always write train/val/test (oracle training, evaluation)
    configs: tuple[str, ...]
    unknown_hint: str = ''


# -- helpers ---------------------------------------------------------------------------------------------

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


def _pair_folder(img_dir: Path, lab_dir: Path, help_text: str) -> list[tuple[str, Path, Path]]:
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


def _check_input_dir(raw: Path, help_text: str) -> None:
    if not raw.exists():
        raise DaspmInputError(f'{raw}: input directory not found; {help_text}')
    if not raw.is_dir():
        raise DaspmInputError(f'{raw}: not a directory; {help_text}')


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


# -- raw layouts ----------------------------------------------------------------------------------------

LOVEDA_HELP = ('expected the official LoveDA layout <raw>/{Train,Val}/{Urban,Rural}/{images_png,masks_png}/ '
               '(unzip Train.zip and Val.zip into <raw>); see docs/datasets.md')


def find_loveda(raw: Path) -> RawInput:
    """Pairs of the official LoveDA layout, grouped into split lists (train, val, *_urban, *_rural, urban, rural)."""
    _check_input_dir(raw, LOVEDA_HELP)
    if not any((raw / s).is_dir() for s in ('Train', 'Val')):
        if any((raw / scene).is_dir() for scene in ('Urban', 'Rural')):
            raise DaspmInputError(f'{raw}: holds Urban/ or Rural/ directly; pass the folder above it, the one '
                                  f'holding Train/ and Val/ ({LOVEDA_HELP})')
        raise DaspmInputError(f'{raw / "Train"} and {raw / "Val"}: directory not found; {LOVEDA_HELP}')
    pairs: list[Pair] = []
    seen: dict[str, Path] = {}
    splits: dict[str, list[str]] = {}
    for split in ('Train', 'Val'):
        if not (raw / split).is_dir():
            continue
        scenes = [s for s in ('Urban', 'Rural') if (raw / split / s).is_dir()]
        if not scenes:
            raise DaspmInputError(f'{raw / split}: holds neither Urban/ nor Rural/; {LOVEDA_HELP}')
        for scene in scenes:
            img_dir, lab_dir = raw / split / scene / 'images_png', raw / split / scene / 'masks_png'
            missing = [str(d) for d in (img_dir, lab_dir) if not d.is_dir()]
            if missing:
                raise DaspmInputError(f'{" and ".join(missing)}: directory not found; {LOVEDA_HELP}')
            groups = (split.lower(), f'{split.lower()}_{scene.lower()}', scene.lower())
            for name, image, label in _pair_folder(img_dir, lab_dir, LOVEDA_HELP):
                if name in seen:
                    raise DaspmInputError(f'{image} and {seen[name]} have the same name {name!r}; LoveDA names are '
                                          'unique across Train/Val and Urban/Rural: remove the copy')
                seen[name] = image
                pairs.append(Pair(name, image, label, groups))
                for g in groups:
                    splits.setdefault(g, []).append(name)
    order = [f'{s}{t}' for t in ('', '_urban', '_rural') for s in ('train', 'val')] + ['urban', 'rural']
    splits = {g: splits[g] for g in order if g in splits}
    notes = ['Test/ skipped: LoveDA publishes no test masks'] if (raw / 'Test').is_dir() else []
    layout = {'images': '{Train,Val}/{Urban,Rural}/images_png', 'labels': '{Train,Val}/{Urban,Rural}/masks_png',
              'splits': {}}
    return RawInput(sorted(pairs, key=lambda p: p.name), layout, splits, notes)


WHDLD_HELP = 'expected the WHDLD layout <raw>/Images/<name>.jpg + <raw>/ImagesPNG/<name>.png; see docs/datasets.md'


def find_whdld(raw: Path) -> RawInput:
    """Pairs of the WHDLD layout and the split files it brings (if any)."""
    _check_input_dir(raw, WHDLD_HELP)
    img_dir, lab_dir = raw / 'Images', raw / 'ImagesPNG'
    missing = [str(d) for d in (img_dir, lab_dir) if not d.is_dir()]
    if missing:
        raise DaspmInputError(f'{" and ".join(missing)}: directory not found; {WHDLD_HELP}')
    pairs = [Pair(n, i, lab) for n, i, lab in _pair_folder(img_dir, lab_dir, WHDLD_HELP)]
    splits, where = read_split_files(raw, {p.name for p in pairs})
    return RawInput(pairs, {'images': 'Images', 'labels': 'ImagesPNG', 'splits': where}, splits)


UTCD_LAYOUTS = (('image_spm', 'label_spm'), ('image', 'label'), ('images', 'labels'))
UTCD_HELP = ('expected <raw>/image_spm/ + <raw>/label_spm/ (the reference\'s folders), <raw>/image/ + <raw>/label/ '
             'or <raw>/images/ + <raw>/labels/, each holding <name>.png|jpg|tif; see docs/datasets.md')


def find_utcd(raw: Path) -> RawInput:
    """Pairs of a UTCD folder (any of the accepted spellings) and its split files (if any)."""
    _check_input_dir(raw, UTCD_HELP)
    present = [(i, lab) for i, lab in UTCD_LAYOUTS if (raw / i).is_dir() or (raw / lab).is_dir()]
    if len(present) > 1:
        found = sorted(d + '/' for pair in present for d in pair if (raw / d).is_dir())
        raise DaspmInputError(f'{raw}: holds folders of several layouts ({", ".join(found)}); keep one pair and '
                              'move the others out of the input')
    if not present:
        raise DaspmInputError(f'{raw / "image_spm"} and {raw / "label_spm"}: directory not found; {UTCD_HELP}')
    img_dir, lab_dir = (raw / d for d in present[0])
    missing = [str(d) for d in (img_dir, lab_dir) if not d.is_dir()]
    if missing:
        raise DaspmInputError(f'{" and ".join(missing)}: directory not found; {UTCD_HELP}')
    pairs = [Pair(n, i, lab) for n, i, lab in _pair_folder(img_dir, lab_dir, UTCD_HELP)]
    splits, where = read_split_files(raw, {p.name for p in pairs})
    return RawInput(pairs, {'images': img_dir.name, 'labels': lab_dir.name, 'splits': where}, splits)


_UDA = 'configs/daspm/{}_uda_warm_fdthings_rcs_croppl_a999_{}.py'
FAMILY: dict[str, FamilySpec] = {
    'loveda': FamilySpec(
        'loveda', 'LoveDA (0.3 m RGB, Urban + Rural) in its seven classes: the source domain', 'loveda.py', LOVEDA_HELP,
        find_loveda, {'loveda': LOVEDA_CODES}, {'loveda': LOVEDA_CODE_NAMES}, 'loveda', complete_splits=False,
        configs=(_UDA.format('loveda2utcd', '*'), _UDA.format('loveda2whdld', '*'))),
    'whdld': FamilySpec(
        'whdld', 'WHDLD (2 m RGB, 256 x 256) mapped onto the LoveDA classes: a target domain', 'whdld.py',
        WHDLD_HELP, find_whdld, {'whdld-to-loveda': WHDLD_CODES}, {'whdld-to-loveda': WHDLD_CODE_NAMES},
        'whdld-to-loveda', complete_splits=True, configs=(_UDA.format('loveda2whdld', '*'),)),
    'utcd': FamilySpec(
        'utcd', 'UTCD in the LoveDA classes: a target domain', 'utcd.py', UTCD_HELP, find_utcd,
        {'train-ids': TRAIN_ID_CODES, 'loveda-codes': LOVEDA_CODES},
        {'train-ids': TRAIN_ID_NAMES, 'loveda-codes': LOVEDA_CODE_NAMES}, 'train-ids', complete_splits=True,
        configs=(_UDA.format('loveda2utcd', '*'),), unknown_hint=_UTCD_HINT),
}


# -- label tables -------------------------------------------------------------------------------------

def parse_label_map(text: str | None) -> dict[int, int]:
    """``'8=5,9=6,10=255'`` -> ``{8: 5, 9: 6, 10: 255}``; train ids must be 0..6 or 255."""
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
        if code < 0 or not (0 <= train_id < NUM_CLASSES or train_id == IGNORE_INDEX):
            raise DaspmInputError(f'--label-map {text!r}: {item!r}: codes are >= 0 and train ids 0..{NUM_CLASSES - 1} '
                                  f'({", ".join(LOVEDA_CLASSES)}) or {IGNORE_INDEX} (ignore)')
        mapping[code] = train_id
    return mapping


def label_table(dataset: str, name: str | None = None, label_map: Mapping[int, int] | None = None
                ) -> tuple[str, dict[int, int]]:
    """The (name, code -> train id table) a conversion uses: a named table plus ``--label-map`` entries."""
    spec = FAMILY[dataset]
    name = name or spec.default_table
    if name not in spec.tables:
        raise DaspmInputError(f'--label-table {name!r}: unknown for {dataset}; choose one of {", ".join(spec.tables)}')
    table = dict(spec.tables[name])
    if label_map:
        table.update(label_map)
        name = f'{name} + --label-map ' + ','.join(f'{k}={v}' for k, v in sorted(label_map.items()))
    return name, dict(sorted(table.items()))


def describe_tables(dataset: str) -> str:
    """Every label table of ``dataset`` as plain text (for --help)."""
    spec = FAMILY[dataset]
    parts = []
    for name, table in spec.tables.items():
        lines = [f'label table {name}' + (' (default)' if name == spec.default_table else '') + ':',
                 '  raw value  meaning          -> train id']
        for code, tid in table.items():
            target = 'ignore' if tid == IGNORE_INDEX else f'{tid} {LOVEDA_CLASSES[tid]}'
            lines.append(f'  {code:<10} {spec.code_names[name].get(code, ""):<16} -> {target}')
        parts.append('\n'.join(lines))
    return '\n\n'.join(parts) + '\nany other value is an error (or give it a class with --label-map CODE=ID).'


def codes_to_train_ids(codes: np.ndarray, path: str | os.PathLike, table: Mapping[int, int], table_name: str,
                       hint: str = '') -> np.ndarray:
    """Map an (H, W) integer label through ``table`` to uint8 LoveDA train ids; unknown values raise."""
    if not np.issubdtype(codes.dtype, np.integer):
        raise DaspmInputError(f'{path}: label data type is {codes.dtype}, expected integer class codes; '
                              're-export the label as an 8-bit single-band PNG')
    if codes.dtype in (np.uint8, np.uint16):
        present = np.flatnonzero(np.bincount(codes.ravel(), minlength=1)).tolist()  # linear, no sort
    else:
        present = np.unique(codes).tolist()
    bad = [v for v in present if v not in table]
    if bad:
        extra = f'; {hint}' if hint and any(v > NUM_CLASSES - 1 and v != IGNORE_INDEX for v in bad) else ''
        raise DaspmInputError(
            f'{path}: label values {listing([str(v) for v in bad])} are not in the label table {table_name!r} '
            f'(known: {", ".join(str(k) for k in table)}){extra}; fix the label, choose another --label-table, '
            f'or give the values a class with --label-map CODE=ID (ID 0..{NUM_CLASSES - 1} or {IGNORE_INDEX})')
    lut = np.full(max(256, max(table) + 1), IGNORE_INDEX, dtype=np.uint8)
    for code, train_id in table.items():
        lut[code] = train_id
    return lut[codes if codes.dtype == np.uint8 else codes.astype(np.intp)]


# -- one pair ---------------------------------------------------------------------------------------------

def _read_label(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with open_raster(path) as src:
            if src.count != 1:
                raise DaspmInputError(
                    f'{path}: label has {src.count} bands; expected one band of class codes (a colour-coded '
                    'label must be turned into codes first, see docs/datasets.md)')
            return src.read(1)


def _image_header(path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with open_raster(path) as src:
            return dict(bands=src.count, dtype=src.dtypes[0], shape=(src.height, src.width))


def _write_ann(path: Path, train_ids: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        write_geotiff(path, train_ids, crs=None, transform=Affine.identity(), nodata=IGNORE_INDEX,
                      band_descriptions=['train id'], colormap=ANN_COLORMAP,
                      tags={'daspm_classes': ';'.join(f'{i}={n}' for i, n in enumerate(LOVEDA_CLASSES)),
                            'ignore_index': str(IGNORE_INDEX)})


def _place_image(src: Path, dst: Path, symlink: bool) -> None:
    with atomic_output(dst) as tmp:  # an interrupted copy never looks finished
        if symlink:
            tmp.unlink()
            os.symlink(src.resolve(), tmp)
        else:
            shutil.copy2(src, tmp)


def _convert_one(job: tuple) -> dict[str, Any]:
    """Worker: check one pair, convert it (or count a finished output when resuming)."""
    name, image, label, out_dir, suffix, symlink, resume, table, table_name, hint = job
    image, label, out = Path(image), Path(label), Path(out_dir)
    img_out, ann_out = out / IMG_DIR / f'{name}{suffix}', out / ANN_DIR / f'{name}.tif'
    head = _image_header(image)
    if head['bands'] != 3 or head['dtype'] != 'uint8':
        raise DaspmInputError(f'{image}: {head["dtype"]} with {head["bands"]} band(s); the LoveDA family configs read '
                              '8-bit RGB (3 bands): re-export the image as 8-bit RGB')
    if resume and is_done([image, label], [img_out], stamp=ann_out):
        return dict(name=name, skipped=True, counts=read_class_counts(ann_out, NUM_CLASSES))
    codes = _read_label(label)
    if codes.shape != head['shape']:
        raise DaspmInputError(f'{label}: label size {codes.shape[1]}x{codes.shape[0]} differs from its image {image} '
                              f'({head["shape"][1]}x{head["shape"][0]}); labels must be on the image grid')
    train_ids = codes_to_train_ids(codes, label, table, table_name, hint)
    # label first: a label error leaves no image copy; the image before the annotation, so
    # "ann_dir file exists" means the pair is done
    _place_image(image, img_out, symlink)
    _write_ann(ann_out, train_ids)
    return dict(name=name, skipped=False, counts=count_classes(train_ids, NUM_CLASSES))


# -- output folder ---------------------------------------------------------------------------------------

def _prepare_output(raw: Path, out: Path, dataset: str, table_name: str, table: Mapping[int, int],
                    overwrite: bool) -> tuple[bool, dict[str, Any]]:
    """Check the output folder (never inside the input); returns (resuming, previous manifest)."""
    raw_r, out_r = raw.resolve(), out.resolve()
    if is_within(out_r, raw_r):
        raise DaspmInputError(f'{out}: output directory is inside the input {raw}; converters never write into their '
                              'input: choose an output outside it (default: <raw>_converted beside it)')
    if is_within(raw_r, out_r):
        raise DaspmInputError(f'{raw}: input directory is inside the output {out}; choose another output directory')
    if out.exists() and not out.is_dir():
        raise DaspmInputError(f'{out}: exists and is not a directory; choose another output path')
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return False, {}
    try:
        previous = json.loads((out / MANIFEST).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        previous = None
    if not isinstance(previous, dict) or previous.get('format') != MANIFEST_FORMAT:
        raise DaspmInputError(f'{out}: output directory is not empty and holds no readable {MANIFEST} (not a previous '
                              'DASPM conversion); choose an empty or new directory, nothing there is overwritten')
    if overwrite:
        for sub in (IMG_DIR, ANN_DIR):
            if (out / sub).is_dir() and not (out / sub).is_symlink():
                shutil.rmtree(out / sub)
        for fname in (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST,
                      *(f'{s}.txt' for s in (*SPLITS, *(previous.get('splits') or {})))):
            if (out / fname).is_file():
                (out / fname).unlink()
        return False, previous
    if previous.get('dataset') != dataset:
        raise DaspmInputError(f'{out}: holds a {previous.get("dataset")} conversion, not {dataset}; choose another '
                              'output directory or pass --overwrite to replace it')
    before = (previous.get('label_table') or {}).get('codes')
    now = {str(k): v for k, v in table.items()}
    # A table that only adds codes (e.g. --label-map for the values a first run stopped at) maps the
    # labels converted before exactly as they were: resuming is safe. Any changed entry is not.
    if before is not None and any(now.get(k) != v for k, v in before.items()):
        raise DaspmInputError(f'{out}: was converted with the label table {previous["label_table"].get("name")!r}, '
                              f'not {table_name!r}; resuming would mix two tables: give the same options, or '
                              '--overwrite to convert everything again')
    return True, previous


def _manifest(spec: FamilySpec, raw: str | os.PathLike, raw_input: RawInput, splits: dict[str, list[str]],
              suffix: str, symlink: bool, status: str, table_name: str, table: Mapping[int, int],
              notes: list[str]) -> dict[str, Any]:
    return {
        'format': MANIFEST_FORMAT, 'version': MANIFEST_VERSION, 'dataset': spec.name, 'status': status,
        'classes': list(LOVEDA_CLASSES), 'palette': [list(c) for c in LOVEDA_PALETTE], 'ignore_index': IGNORE_INDEX,
        'num_images': len(raw_input.pairs), 'source': str(raw), 'raw_layout': raw_input.layout,
        'label_table': {'name': table_name, 'codes': {str(k): v for k, v in table.items()}},
        'splits': {s: len(v) for s, v in splits.items()}, 'images': 'symlink' if symlink else 'copy',
        MANIFEST_IMAGE_SUFFIX: suffix,
        'image_format': {'dtype': 'uint8', 'bands': 3, 'band_names': None, 'label_factor': 1},
        'notes': notes,
    }


# -- the driver ---------------------------------------------------------------------------------------------

def convert_family(raw_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, dataset: str,
                   nproc: int = 1, symlink_images: bool = False, overwrite: bool = False, progress: bool = True,
                   table_name: str | None = None, label_map: Mapping[int, int] | None = None,
                   val_ratio: float = 0.1, test_ratio: float = 0.2, split_seed: int = 0) -> dict[str, Any]:
    """Convert a raw LoveDA / WHDLD / UTCD folder; return the manifest, run counts and class pixel totals."""
    if dataset not in FAMILY:
        raise DaspmInputError(f'unknown dataset {dataset!r}; choose one of {", ".join(FAMILY)}')
    if nproc < 1:
        raise DaspmInputError(f'--nproc must be at least 1, got {nproc}')
    spec = FAMILY[dataset]
    table_name, table = label_table(dataset, table_name, label_map)
    raw = Path(raw_dir)
    out = Path(out_dir) if out_dir is not None else default_output_dir(raw)
    # every check that needs no output comes before the output folder is touched
    raw_input = spec.find_input(raw)
    names = [p.name for p in raw_input.pairs]
    splits, notes = dict(raw_input.splits), list(raw_input.notes)
    if spec.complete_splits:
        splits, split_notes = complete_splits(names, splits, val_ratio=val_ratio, test_ratio=test_ratio,
                                              seed=split_seed)
        notes += split_notes
    suffixes = sorted({p.image.suffix.lower() for p in raw_input.pairs})
    if len(suffixes) > 1:
        by_suffix = {s: [p.image.name for p in raw_input.pairs if p.image.suffix.lower() == s] for s in suffixes}
        raise DaspmInputError(f'{raw}: images of several formats (' + '; '.join(
            f'{s}: {listing(n)}' for s, n in by_suffix.items()) + '); a dataset reads one format: convert the odd '
            'ones to the format of the others')
    suffix = suffixes[0]
    resume, previous = _prepare_output(raw, out, dataset, table_name, table, overwrite)
    if resume:
        clean_partials(out)
        # images keep their suffix (.png, .jpg); '[!.]*' leaves out hidden files (.DS_Store, ...)
        check_orphans(out, set(names), pattern='[!.]*', holder='a previous conversion')
    (out / IMG_DIR).mkdir(exist_ok=True)
    (out / ANN_DIR).mkdir(exist_ok=True)
    # written first so that an interrupted run is recognised as ours and resumed
    write_json(out / MANIFEST, _manifest(spec, raw_dir, raw_input, splits, suffix, symlink_images, 'in_progress',
                                         table_name, table, notes))

    jobs = [(p.name, str(p.image), str(p.label), str(out), suffix, symlink_images, resume, table, table_name,
             spec.unknown_hint) for p in raw_input.pairs]
    results: list[dict[str, Any]] = []
    bar = dict(total=len(jobs), desc=f'converting {dataset}', unit='img', disable=not progress)
    if nproc > 1 and len(jobs) > 1:
        with Pool(min(nproc, len(jobs))) as pool, tqdm(**bar) as pbar:  # forked before tqdm's thread
            for res in pool.imap_unordered(_convert_one, jobs, chunksize=4):
                results.append(res)
                pbar.update()
    else:
        with tqdm(**bar) as pbar:
            for job in jobs:
                results.append(_convert_one(job))
                pbar.update()
    results.sort(key=lambda r: r['name'])

    for split, entries in splits.items():
        with atomic_output(out / f'{split}.txt') as tmp:
            tmp.write_text(''.join(f'{n}\n' for n in entries), encoding='utf-8')
    for split in set(previous.get('splits') or {}) | set(SPLITS):
        if split not in splits and (out / f'{split}.txt').is_file():
            (out / f'{split}.txt').unlink()  # a split of a previous conversion that this input no longer has
    sample_class_stats, samples_with_class = build_class_stats(
        {f'{ANN_DIR}/{r["name"]}.tif': r['counts'] for r in results})
    write_class_stats(out, sample_class_stats, samples_with_class)
    manifest = _manifest(spec, raw_dir, raw_input, splits, suffix, symlink_images, 'complete', table_name, table,
                         notes)
    write_json(out / MANIFEST, manifest)
    return {
        'out_dir': str(out), 'manifest': manifest,
        'converted': sum(not r['skipped'] for r in results), 'skipped': sum(r['skipped'] for r in results),
        'class_pixels': class_pixel_totals(sample_class_stats),
    }


__all__ = ['FAMILY', 'FamilySpec', 'Pair', 'RawInput', 'LOVEDA_CODES', 'WHDLD_CODES', 'TRAIN_ID_CODES',
           'NUM_CLASSES', 'find_loveda', 'find_whdld', 'find_utcd', 'read_split_files', 'complete_splits',
           'parse_label_map', 'label_table', 'describe_tables', 'codes_to_train_ids', 'convert_family']
