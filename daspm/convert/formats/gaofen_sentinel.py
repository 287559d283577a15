"""Gaofen-2 (source) and Sentinel-2 (target): the published DASPM data, GeoTIFF pairs in the five DASPM classes.

Raw layout (input, never modified), either spelling::

    <raw>/image/<name>.tif     <raw>/label/<name>.tif     <raw>/{train,val,test}.txt (optional)
    <raw>/images/<name>.tif    <raw>/labels/<name>.tif    <raw>/splits/{train,val,test}.txt (optional)

The first is the layout the published DASPM data come in; split files may lie in either place.
``gaofen2m`` images are 3-band RGB with labels on the image grid; ``sentinel10m`` images may have
any band count, with labels on their grid or an integer factor finer (10 m images, 2 m labels).
Labels hold raw codes (``label_tables.py``: two tables, ``--label-table``) or DASPM colours.

Converted layout (output)::

    <out>/img_dir/<name>.tif   image, byte copy (or symlink)
    <out>/ann_dir/<name>.tif   uint8 train ids, 255 = ignore, DASPM colour table
    <out>/{train,val,test}.txt
    <out>/sample_class_stats.json  <out>/samples_with_class.json  <out>/daspm_dataset.json
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from daspm.classes import DASPM_CLASSES, DASPM_PALETTE
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, RAW_IMAGES, RAW_LAYOUTS, RAW_SPLITS,
                                        SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import open_raster, pixel_size

from ..class_stats import count_classes, read_class_counts
from ..jobs import ConvertOptions, PairJob, PairResult
from ..label_tables import (DEFAULT_LABEL_TABLE, LABEL_TABLES, describe_label_table, get_label_table,
                            label_table_manifest, label_to_train_ids)
from ..outputs import Wording, is_done, listing, place_image, write_annotation
from ..report import config_lines
from .base import MANIFEST_FORMAT, Pair, PairFormat, RawInput, class_lines

_LAYOUT_HELP = ('expected <raw>/image/ + <raw>/label/ (the published DASPM layout) or '
                '<raw>/images/ + <raw>/labels/, each holding <name>.tif; see docs/datasets.md')
_TIF_SUFFIXES = ('.tif', '.tiff')
# Pixel-size ratios are floats from the geotransform; 1e-3 absorbs rounding in exported
# transforms while still rejecting any real non-integer factor (e.g. 10 m / 3 m).
_FACTOR_TOL = 1e-3


@dataclass(frozen=True)
class GeoTiffRules:
    """What a worker checks of one pair: the image band count and whether labels may be finer."""

    dataset: str
    image_bands: int | None  # required band count; None accepts any (band selection is later)
    subpixel: bool           # labels may lie on a finer grid than the image (integer factor >= 1)
    label_table: str


def _tif_files(folder: Path) -> dict[str, Path]:
    """``{stem: path}`` of the GeoTIFFs in ``folder``; two files of one stem raise."""
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith('.') or p.suffix.lower() not in _TIF_SUFFIXES or not p.is_file():
            continue
        if p.stem in files:
            raise DaspmInputError(
                f'{folder}: both {files[p.stem].name} and {p.name} exist; names must be unique '
                'without their suffix, remove or rename one')
        files[p.stem] = p
    return files


def find_raw_dirs(raw_dir: str | os.PathLike) -> tuple[Path, Path]:
    """The (image folder, label folder) of a raw dataset in either accepted spelling."""
    raw = Path(raw_dir)
    if not raw.exists():
        raise DaspmInputError(
            f'{raw}: input directory not found; pass the raw dataset folder ({_LAYOUT_HELP})')
    if not raw.is_dir():
        raise DaspmInputError(f'{raw}: not a directory; pass the raw dataset folder ({_LAYOUT_HELP})')
    present = [(img, lab) for img, lab in RAW_LAYOUTS
               if (raw / img).is_dir() or (raw / lab).is_dir()]
    if len(present) > 1:
        found = sorted(d for pair in present for d in pair if (raw / d).is_dir())
        raise DaspmInputError(
            f'{raw}: holds folders of both layouts ({", ".join(d + "/" for d in found)}); '
            'keep one: image/ + label/ (the published DASPM layout) or images/ + labels/, '
            'and move or remove the other')
    if not present:
        raise DaspmInputError(
            f'{raw / RAW_LAYOUTS[0][0]} and {raw / RAW_IMAGES}: directory not found; {_LAYOUT_HELP}')
    img_dir, lab_dir = (raw / d for d in present[0])
    missing = [str(d) for d in (img_dir, lab_dir) if not d.is_dir()]
    if missing:
        raise DaspmInputError(f'{" and ".join(missing)}: directory not found; {_LAYOUT_HELP}')
    return img_dir, lab_dir


def find_pairs(raw_dir: str | os.PathLike) -> dict[str, tuple[Path, Path]]:
    """``{name: (image, label)}`` of a raw dataset, sorted by name; layout errors raise."""
    raw = Path(raw_dir)
    img_dir, lab_dir = find_raw_dirs(raw)
    images, labels = _tif_files(img_dir), _tif_files(lab_dir)
    if not images:
        raise DaspmInputError(f'{img_dir}: no .tif images found; put the images there ({_LAYOUT_HELP})')
    no_label = sorted(set(images) - set(labels))
    no_image = sorted(set(labels) - set(images))
    if no_label or no_image:
        parts = []
        if no_label:
            parts.append(f'images without a label in {lab_dir}: {listing(no_label)}')
        if no_image:
            parts.append(f'labels without an image in {img_dir}: {listing(no_image)}')
        raise DaspmInputError(
            f'{raw}: ' + '; '.join(parts) + '; every image needs a label of the same name '
            '(add the missing files or remove the unpaired ones)')
    return {name: (images[name], labels[name]) for name in sorted(images)}


def split_file(raw_dir: str | os.PathLike, split: str) -> Path | None:
    """The raw split file of ``split``: ``<raw>/splits/<split>.txt`` or ``<raw>/<split>.txt``, or None."""
    raw = Path(raw_dir)
    found = [p for p in (raw / RAW_SPLITS / f'{split}.txt', raw / f'{split}.txt') if p.is_file()]
    if len(found) > 1:
        raise DaspmInputError(
            f'{found[0]} and {found[1]}: two {split} split files; keep one (the published DASPM '
            f'layout has {split}.txt directly in {raw}) and delete the other')
    return found[0] if found else None


def read_splits(raw_dir: str | os.PathLike, names: set[str] | list[str]) -> dict[str, list[str]]:
    """Names listed in the split files (``<raw>/splits/<split>.txt`` or ``<raw>/<split>.txt``); unknown names raise."""
    known = set(names)
    splits: dict[str, list[str]] = {}
    for split in SPLITS:
        path = split_file(raw_dir, split)
        if path is None:
            continue
        entries = []
        for line in path.read_text(encoding='utf-8').splitlines():
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            # Tolerate "name.tif": the format asks for bare names but the intent is unambiguous.
            stem = line[: -len(Path(line).suffix)] if Path(line).suffix.lower() in _TIF_SUFFIXES else line
            entries.append(stem)
        unknown = sorted(set(entries) - known)
        if unknown:
            raise DaspmInputError(
                f'{path}: names not found among the images of {raw_dir}: {listing(unknown)}; '
                'list image names without suffix, one per line, or add the missing images')
        splits[split] = entries
    return splits


def check_label_grid(image_path: str | os.PathLike, label_path: str | os.PathLike, *,
                     subpixel: bool) -> int:
    """Check that the label covers the image on its grid (``subpixel``: or a finer integer one); return the factor.

    A factor of 1 (label grid == image grid) is valid in both modes.
    """
    with open_raster(image_path) as img, open_raster(label_path) as lab:
        img_crs, lab_crs = img.crs, lab.crs
        img_tr, lab_tr = img.transform, lab.transform
        img_shape, lab_shape = (img.height, img.width), (lab.height, lab.width)
        img_bounds, lab_bounds = img.bounds, lab.bounds
    if subpixel:
        fix = ('the label must cover the same bounds as the image, on the image grid or on a grid '
               'whose pixel size is the image pixel size divided by an integer (10 m / 5 = 2 m); '
               'resample the label with nearest neighbour onto that grid')
    else:
        fix = ('the label must be on the same grid as the image (same CRS, bounds and pixel size); '
               'reproject the label with nearest neighbour onto the image grid')
    where = f'{label_path} (image {image_path})'
    if (img_crs or None) != (lab_crs or None):
        raise DaspmInputError(f'{where}: label CRS {lab_crs} differs from image CRS {img_crs}; {fix}')
    if img_crs is None and img_tr.is_identity and lab_tr.is_identity:
        # Not georeferenced: the pixel grid itself is all we can compare.
        factor = lab_shape[0] // img_shape[0]
        if factor < 1 or lab_shape != (img_shape[0] * factor, img_shape[1] * factor):
            raise DaspmInputError(
                f'{where}: label size {lab_shape[1]}x{lab_shape[0]} is not an integer multiple of '
                f'image size {img_shape[1]}x{img_shape[0]} (files are not georeferenced); {fix}')
    else:
        (img_xres, img_yres), (lab_xres, lab_yres) = pixel_size(img_tr), pixel_size(lab_tr)
        rx, ry = img_xres / lab_xres, img_yres / lab_yres
        factor = max(1, round(rx))
        if abs(rx - factor) > _FACTOR_TOL or abs(ry - factor) > _FACTOR_TOL:
            raise DaspmInputError(
                f'{where}: label pixel size {lab_xres:g}x{lab_yres:g} is not the image pixel size '
                f'{img_xres:g}x{img_yres:g} divided by an integer; {fix}')
        tol = 0.5 * min(lab_xres, lab_yres)
        diffs = [abs(a - b) for a, b in zip(img_bounds, lab_bounds)]
        if max(diffs) > tol:
            raise DaspmInputError(
                f'{where}: label bounds {tuple(round(v, 3) for v in lab_bounds)} differ from image '
                f'bounds {tuple(round(v, 3) for v in img_bounds)} by up to {max(diffs):g} (more '
                f'than half a label pixel, {tol:g}); {fix}')
        if lab_shape != (img_shape[0] * factor, img_shape[1] * factor):
            raise DaspmInputError(
                f'{where}: label size {lab_shape[1]}x{lab_shape[0]} is not {factor} x image size '
                f'{img_shape[1]}x{img_shape[0]}; {fix}')
    if not subpixel and factor != 1:
        raise DaspmInputError(f'{where}: label grid is {factor}x finer than the image; {fix}')
    return factor


def read_image_format(image_path: str | os.PathLike) -> dict[str, Any]:
    """Data type, band count and band names (None unless every band is named) of an image."""
    with open_raster(image_path) as img:
        dtype, count, descriptions = img.dtypes[0], img.count, img.descriptions
    names = list(descriptions) if all(descriptions) else None
    return {'dtype': dtype, 'bands': count, 'band_names': names}


def _check_image(image_path: Path, rules: GeoTiffRules, fmt: dict[str, Any]) -> None:
    if rules.image_bands is not None and fmt['bands'] != rules.image_bands:
        raise DaspmInputError(
            f'{image_path}: {fmt["bands"]} bands, {rules.dataset} images must have {rules.image_bands} '
            '(RGB); export the image as 3-band RGB')


def _describe_dtype_bands(fmt: dict[str, Any]) -> str:
    return f'{fmt["dtype"]} with {fmt["bands"]} band{"s" if fmt["bands"] != 1 else ""}'


def common_image_format(formats: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    """Data type, band count and band names shared by all images; mixed dtypes or band counts raise."""
    first_path, first = next(iter(formats.items()))
    for path, fmt in formats.items():
        if (fmt['dtype'], fmt['bands']) != (first['dtype'], first['bands']):
            raise DaspmInputError(
                f'{path} is {_describe_dtype_bands(fmt)} but {first_path} is '
                f'{_describe_dtype_bands(first)}; all images of a dataset must share data type '
                'and band count (one LoadGeoTiff setting reads them all): re-export the odd ones '
                'or convert them as a separate dataset')
    names = {tuple(f['band_names']) if f['band_names'] else None for f in formats.values()}
    band_names = list(names.pop()) if len(names) == 1 and None not in names else None
    return {'dtype': first['dtype'], 'bands': first['bands'], 'band_names': band_names}


def read_train_ids(label_path: str | os.PathLike,
                   label_table: str = DEFAULT_LABEL_TABLE) -> tuple[np.ndarray, Any, Any]:
    """Read a raw label and map it to train ids; returns (train ids, crs, transform)."""
    with open_raster(label_path) as lab:
        data, nodata = lab.read(), lab.nodata
        crs, transform = lab.crs, lab.transform
    return label_to_train_ids(data, label_path, nodata, label_table), crs, transform


def write_train_ids(label_path: str | os.PathLike, out_path: str | os.PathLike,
                    label_table: str = DEFAULT_LABEL_TABLE) -> dict[int, int]:
    """Convert one raw label to a train-id GeoTIFF on the label's grid; return its class counts."""
    train_ids, crs, transform = read_train_ids(label_path, label_table)
    write_annotation(Path(out_path), train_ids, crs, transform, DASPM_CLASSES, DASPM_PALETTE)
    return count_classes(train_ids)


def convert_geotiff_pair(job: PairJob) -> PairResult:
    """Worker: check and convert one image/label pair (or count an existing output)."""
    rules: GeoTiffRules = job.rules
    # The header checks are cheap, and re-doing them on resume keeps the factor and format
    # checks global.
    factor = check_label_grid(job.image, job.label, subpixel=rules.subpixel)
    fmt = read_image_format(job.image)
    _check_image(job.image, rules, fmt)
    if job.resume and is_done([job.image, job.label], [job.img_out], stamp=job.ann_out):
        return PairResult(job.name, job.image, True, read_class_counts(job.ann_out), factor, fmt)
    # Label first: a label error must not leave an image copy behind. The image is placed
    # before the annotation is renamed into place, so "ann_dir file exists" means done.
    train_ids, crs, transform = read_train_ids(job.label, rules.label_table)
    place_image(job.image, job.img_out, job.symlink)
    write_annotation(job.ann_out, train_ids, crs, transform, DASPM_CLASSES, DASPM_PALETTE)
    return PairResult(job.name, job.image, False, count_classes(train_ids), factor, fmt)


class GeoTiffFormat(PairFormat):
    """A published DASPM dataset: GeoTIFF pairs in ``image/`` + ``label/``, the five DASPM classes."""

    classes, palette = DASPM_CLASSES, DASPM_PALETTE
    tables, default_table = LABEL_TABLES, DEFAULT_LABEL_TABLE
    layout_help = _LAYOUT_HELP
    worker = staticmethod(convert_geotiff_pair)
    words = Wording(
        inside_input='{out}: output directory is inside the input {raw}; converters never write into their input, '
                     'choose an output outside it (default: <raw>_converted beside it)',
        input_inside='{raw}: input directory is inside the output {out}; choose another output directory',
        not_dir='{out}: exists and is not a directory; choose another output path')

    def __init__(self, name: str, description: str, image_bands: int | None, subpixel_labels: bool,
                 dataset_type: str) -> None:
        self.name, self.description, self.dataset_type = name, description, dataset_type
        self.image_bands, self.subpixel_labels = image_bands, subpixel_labels

    def label_table(self, options: ConvertOptions) -> tuple[str, dict[int, int]]:
        name = options.label_table or DEFAULT_LABEL_TABLE
        return name, dict(get_label_table(name))

    def find_input(self, raw: Path) -> RawInput:
        pairs = find_pairs(raw)
        splits = read_splits(raw, pairs.keys())
        img_dir, lab_dir = find_raw_dirs(raw)
        layout = {'images': img_dir.name, 'labels': lab_dir.name,
                  'splits': {s: split_file(raw, s).relative_to(raw).as_posix() for s in splits}}
        return RawInput([Pair(n, i, lab) for n, (i, lab) in pairs.items()], layout, splits)

    def rules(self, table_name: str, table: Mapping[int, int], suffix: str) -> GeoTiffRules:
        return GeoTiffRules(self.name, self.image_bands, self.subpixel_labels, table_name)

    def read_previous(self, out: Path) -> dict[str, Any]:
        """The manifest of a previous conversion in ``out``; a folder without one, or another file, raises."""
        path = out / MANIFEST
        if not path.is_file():
            raise DaspmInputError(
                f'{out}: output directory is not empty and holds no {MANIFEST} (not a previous DASPM '
                'conversion); choose an empty or new directory, nothing there is overwritten')
        try:
            manifest = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError) as err:
            raise DaspmInputError(
                f'{path}: unreadable manifest ({err}); delete the output directory or choose another') from None
        if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT:
            raise DaspmInputError(
                f'{path}: not a DASPM conversion manifest; choose an empty or new output directory')
        return manifest

    def ours(self, out: Path, previous: Mapping[str, Any]) -> list[Path]:
        names = [IMG_DIR, ANN_DIR, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST, *(f'{s}.txt' for s in SPLITS)]
        return [out / n for n in names]


    def check_resume(self, out: Path, previous: Mapping[str, Any], table_name: str, table: Mapping[int, int]) -> None:
        super().check_resume(out, previous, table_name, table)
        # Manifests written before the switch existed used the default table.
        before = (previous.get('label_table') or {}).get('name', DEFAULT_LABEL_TABLE)
        if before != table_name:
            raise DaspmInputError(
                f'{out}: was converted with --label-table {before}, not {table_name}; resuming would '
                f'mix two tables: pass --label-table {before} to resume, or --overwrite to convert '
                f'everything again with {table_name}')

    def check_results(self, raw: Path, results: Sequence[PairResult]) -> dict[str, Any]:
        # Checked before the factors: a mixed folder is the more basic mistake.
        image_format = common_image_format({r.image: r.image_format for r in results})
        factors = sorted({r.factor for r in results})
        if len(factors) > 1:
            by_factor = {f: [r.name for r in results if r.factor == f] for f in factors}
            raise DaspmInputError(
                f'{raw}: labels are finer than their images by different factors (1x = the image '
                'grid) ' + '; '.join(f'{f}x: {listing(n)}' for f, n in by_factor.items())
                + '; every pair must use the same factor: resample the odd labels with nearest '
                'neighbour onto the grid of the others')
        found: dict[str, Any] = {'subpixel_factor': factors[0]} if self.subpixel_labels else {}
        return {**found, 'image_format': {**image_format, 'label_factor': factors[0]}}

    def table_record(self, table_name: str, table: Mapping[int, int]) -> dict[str, Any]:
        return label_table_manifest(table_name)

    def raw_help(self) -> str:
        return ('raw dataset folder holding image/ + label/ (published layout) or images/ + labels/ '
                '(never modified)')

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--label-table', choices=list(LABEL_TABLES), default=DEFAULT_LABEL_TABLE,
                            help='how raw codes map to train ids (default %(default)s: 0 = '
                                 'unlabelled/Others -> ignore, 1..5 -> 0..4; five-classes: '
                                 '0..4 -> 0..4, 5 -> ignore); see below')

    def epilog(self) -> str:
        others = [t for t in LABEL_TABLES if t != DEFAULT_LABEL_TABLE]
        parts = [f'label table {DEFAULT_LABEL_TABLE} (default; raw code -> train id):\n'
                 + describe_label_table(DEFAULT_LABEL_TABLE)]
        parts += [f'label table {t} (--label-table {t}):\n' + describe_label_table(t) for t in others]
        return '\n\n'.join(parts) + '\n\nsee docs/datasets.md for why there are two tables.'

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {'label_table': args.label_table}

    def summary(self, raw_dir: str, result: Mapping[str, Any]) -> list[str]:
        manifest = result['manifest']
        layout = manifest['raw_layout']
        lines = [self.description, f'read {raw_dir}: {layout["images"]}/ + {layout["labels"]}/',
                 f'wrote {result["out_dir"]}: {manifest["num_images"]} images '
                 f'({result["converted"]} converted, {result["skipped"]} already done)']
        if manifest['splits']:
            lines.append('splits: ' + ', '.join(f'{k} {v} ({layout["splits"][k]})'
                                                for k, v in manifest['splits'].items()))
        else:
            lines.append('splits: none (no train/val/test.txt in the input): the datasets use every image')
        lines.append(f'label table: {manifest["label_table"]["name"]}')
        return lines + config_lines(self.name, manifest['image_format']) + class_lines(manifest, result, 20)


GAOFEN2M = GeoTiffFormat(
    'gaofen2m', 'Gaofen-2 / Google Earth RGB at 2 m with labels on the image grid (source)',
    image_bands=3, subpixel_labels=False, dataset_type='GaofenDataset')
SENTINEL10M = GeoTiffFormat(
    'sentinel10m', 'Sentinel-2 imagery with labels on the 2 m grid; images on that grid or '
                   'an integer factor coarser, e.g. 10 m (target)', image_bands=None,
    subpixel_labels=True, dataset_type='SentinelDataset')

__all__ = ['GAOFEN2M', 'SENTINEL10M', 'GeoTiffFormat', 'GeoTiffRules', 'check_label_grid', 'common_image_format',
           'convert_geotiff_pair', 'find_pairs', 'find_raw_dirs', 'read_image_format',
           'read_splits', 'read_train_ids', 'split_file', 'write_train_ids']
