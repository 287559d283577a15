"""The shared conversion driver: raw ``image/`` + ``label/`` -> mmseg-style ``img_dir/`` + ``ann_dir/``.

Raw layout (input, never modified), either spelling::

    <raw>/image/<name>.tif     <raw>/label/<name>.tif     <raw>/{train,val,test}.txt (optional)
    <raw>/images/<name>.tif    <raw>/labels/<name>.tif    <raw>/splits/{train,val,test}.txt (optional)

The first is the layout the published DASPM data come in; split files may lie in either place.

Converted layout (output)::

    <out>/img_dir/<name>.tif   image, byte copy (or symlink)
    <out>/ann_dir/<name>.tif   uint8 train ids, 255 = ignore, DASPM colour table
    <out>/{train,val,test}.txt
    <out>/sample_class_stats.json  <out>/samples_with_class.json  <out>/daspm_dataset.json

Every output file is written under a temporary name and renamed when finished, so an existing
``ann_dir/<name>.tif`` is always complete; that is what makes resuming safe.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from daspm.classes import DASPM_CLASSES, DASPM_PALETTE, IGNORE_INDEX
from daspm.utils.colors import colormap_table
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, RAW_IMAGES, RAW_LAYOUTS, RAW_SPLITS,
                                        SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, open_raster, pixel_size, write_geotiff

from .class_stats import (build_class_stats, class_pixel_totals, count_classes, read_class_counts,
                          write_class_stats, write_json)
from .label_tables import (DEFAULT_LABEL_TABLE, get_label_table, label_table_manifest,
                           label_to_train_ids)
from .outputs import check_orphans, clean_partials, is_done, is_within, listing

MANIFEST_FORMAT = 'daspm-converted'
MANIFEST_VERSION = 1
_LAYOUT_HELP = ('expected <raw>/image/ + <raw>/label/ (the published DASPM layout) or '
                '<raw>/images/ + <raw>/labels/, each holding <name>.tif; see docs/datasets.md')
_TIF_SUFFIXES = ('.tif', '.tiff')
# Pixel-size ratios are floats from the geotransform; 1e-3 absorbs rounding in exported
# transforms while still rejecting any real non-integer factor (e.g. 10 m / 3 m).
_FACTOR_TOL = 1e-3

# Colour table written into every ann_dir file so QGIS shows the classes; ignore is transparent.
ANN_COLORMAP: dict[int, tuple[int, ...]] = colormap_table(DASPM_PALETTE)


@dataclass(frozen=True)
class DatasetSpec:
    """What distinguishes the raw datasets: image band count and the label grid."""

    name: str
    description: str
    image_bands: int | None  # required band count; None accepts any (band selection is later)
    subpixel_labels: bool  # labels may lie on a finer grid than the image (integer factor >= 1)


DATASETS: dict[str, DatasetSpec] = {
    'gaofen2m': DatasetSpec(
        'gaofen2m', 'Gaofen-2 / Google Earth RGB at 2 m with labels on the image grid (source)',
        image_bands=3, subpixel_labels=False),
    'sentinel10m': DatasetSpec(
        'sentinel10m', 'Sentinel-2 imagery with labels on the 2 m grid; images on that grid or '
                       'an integer factor coarser, e.g. 10 m (target)',
        image_bands=None, subpixel_labels=True),
}


def default_output_dir(raw_dir: str | os.PathLike) -> Path:
    """``<raw_dir>_converted`` beside the raw directory."""
    raw = Path(raw_dir).resolve()
    return raw.with_name(raw.name + '_converted')


def _tif_files(folder: Path) -> dict[str, Path]:
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


def _check_image(image_path: Path, spec: DatasetSpec, fmt: dict[str, Any]) -> None:
    if spec.image_bands is not None and fmt['bands'] != spec.image_bands:
        raise DaspmInputError(
            f'{image_path}: {fmt["bands"]} bands, {spec.name} images must have {spec.image_bands} '
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


def _place_image(src: Path, dst: Path, symlink: bool) -> None:
    # Through atomic_output so that an interrupted copy never looks finished.
    with atomic_output(dst) as tmp:
        if symlink:
            tmp.unlink()
            os.symlink(src.resolve(), tmp)
        else:
            shutil.copy2(src, tmp)


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
    _write_ann(Path(out_path), train_ids, crs, transform)
    return count_classes(train_ids)


def _write_ann(path: Path, train_ids: np.ndarray, crs: Any, transform: Any) -> None:
    write_geotiff(path, train_ids, crs=crs, transform=transform, nodata=IGNORE_INDEX,
                  band_descriptions=['train id'], colormap=ANN_COLORMAP,
                  tags={'daspm_classes': ';'.join(f'{i}={n}' for i, n in enumerate(DASPM_CLASSES)),
                        'ignore_index': str(IGNORE_INDEX)})


def _convert_one(job: tuple[str, str, str, str, str, bool, bool, str]) -> dict[str, Any]:
    """Worker: check and convert one image/label pair (or count an existing output)."""
    name, image, label, out_dir, dataset, symlink, resume, label_table = job
    spec = DATASETS[dataset]
    image_path, label_path, out = Path(image), Path(label), Path(out_dir)
    img_out, ann_out = out / IMG_DIR / f'{name}.tif', out / ANN_DIR / f'{name}.tif'
    # The header checks are cheap, and re-doing them on resume keeps the factor and format
    # checks global.
    factor = check_label_grid(image_path, label_path, subpixel=spec.subpixel_labels)
    fmt = read_image_format(image_path)
    _check_image(image_path, spec, fmt)
    result = dict(name=name, image=str(image_path), factor=factor, format=fmt)
    if resume and is_done([image_path, label_path], [img_out], stamp=ann_out):
        return dict(result, skipped=True, counts=read_class_counts(ann_out))
    # Label first: a label error must not leave an image copy behind. The image is placed
    # before the annotation is renamed into place, so "ann_dir file exists" means done.
    train_ids, crs, transform = read_train_ids(label_path, label_table)
    _place_image(image_path, img_out, symlink)
    _write_ann(ann_out, train_ids, crs, transform)
    return dict(result, skipped=False, counts=count_classes(train_ids))


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as err:
        raise DaspmInputError(
            f'{path}: unreadable manifest ({err}); delete the output directory or choose another') from None
    if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT:
        raise DaspmInputError(
            f'{path}: not a DASPM conversion manifest; choose an empty or new output directory')
    return manifest


def _prepare_output(raw: Path, out: Path, dataset: str, overwrite: bool,
                    label_table: str = DEFAULT_LABEL_TABLE) -> bool:
    """Validate the output directory; clear it for --overwrite. Returns True when resuming."""
    raw_r, out_r = raw.resolve(), out.resolve()
    if is_within(out_r, raw_r):
        raise DaspmInputError(
            f'{out}: output directory is inside the input {raw}; converters never write into '
            'their input, choose an output outside it (default: <raw>_converted beside it)')
    if is_within(raw_r, out_r):
        raise DaspmInputError(
            f'{raw}: input directory is inside the output {out}; choose another output directory')
    if out.exists() and not out.is_dir():
        raise DaspmInputError(f'{out}: exists and is not a directory; choose another output path')
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return False
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise DaspmInputError(
            f'{out}: output directory is not empty and holds no {MANIFEST} (not a previous DASPM '
            'conversion); choose an empty or new directory, nothing there is overwritten')
    manifest = _read_manifest(manifest_path)
    if overwrite:
        # Only what a conversion writes is removed; anything else the user put there stays.
        for sub in (IMG_DIR, ANN_DIR):
            if (out / sub).is_dir() and not (out / sub).is_symlink():
                shutil.rmtree(out / sub)
        for fname in (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST,
                      *(f'{s}.txt' for s in SPLITS)):
            if (out / fname).is_file():
                (out / fname).unlink()
        return False
    if manifest.get('dataset') != dataset:
        raise DaspmInputError(
            f'{out}: holds a {manifest.get("dataset")} conversion, not {dataset}; choose another '
            'output directory or pass --overwrite to replace it')
    # Manifests written before the switch existed used the default table.
    previous = (manifest.get('label_table') or {}).get('name', DEFAULT_LABEL_TABLE)
    if previous != label_table:
        raise DaspmInputError(
            f'{out}: was converted with --label-table {previous}, not {label_table}; resuming would '
            f'mix two tables: pass --label-table {previous} to resume, or --overwrite to convert '
            f'everything again with {label_table}')
    return True


def _manifest(spec: DatasetSpec, raw_dir: str | os.PathLike, num_images: int,
              splits: dict[str, list[str]], symlink_images: bool, status: str,
              label_table: str, raw_layout: dict[str, Any], factor: int | None = None,
              image_format: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        'format': MANIFEST_FORMAT,
        'version': MANIFEST_VERSION,
        'dataset': spec.name,
        'status': status,
        'classes': list(DASPM_CLASSES),
        'palette': [list(c) for c in DASPM_PALETTE],
        'ignore_index': IGNORE_INDEX,
        'num_images': num_images,
        'source': str(raw_dir),
        'raw_layout': raw_layout,
        'label_table': label_table_manifest(label_table),
        'splits': {s: len(v) for s, v in splits.items()},
        'images': 'symlink' if symlink_images else 'copy',
    }
    if spec.subpixel_labels and factor is not None:
        manifest['subpixel_factor'] = factor
    if image_format is not None:
        manifest['image_format'] = image_format
    return manifest


def convert_dataset(raw_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                    dataset: str, nproc: int = 1, symlink_images: bool = False,
                    overwrite: bool = False, progress: bool = True,
                    label_table: str = DEFAULT_LABEL_TABLE) -> dict[str, Any]:
    """Convert a raw dataset to the DASPM/mmseg layout; return the manifest and run counts."""
    if dataset not in DATASETS:
        raise DaspmInputError(f'unknown dataset {dataset!r}; choose one of {", ".join(DATASETS)}')
    if nproc < 1:
        raise DaspmInputError(f'--nproc must be at least 1, got {nproc}')
    get_label_table(label_table)
    spec = DATASETS[dataset]
    raw = Path(raw_dir)
    out = Path(out_dir) if out_dir is not None else default_output_dir(raw)
    # Every check that needs no output happens before the output directory is touched.
    pairs = find_pairs(raw)
    splits = read_splits(raw, pairs.keys())
    img_dir, lab_dir = find_raw_dirs(raw)
    raw_layout = {'images': img_dir.name, 'labels': lab_dir.name,
                  'splits': {s: split_file(raw, s).relative_to(raw).as_posix() for s in splits}}
    resume = _prepare_output(raw, out, dataset, overwrite, label_table)
    if resume:
        clean_partials(out)
        check_orphans(out, set(pairs))
    (out / IMG_DIR).mkdir(exist_ok=True)
    (out / ANN_DIR).mkdir(exist_ok=True)
    # Written first so an interrupted run is recognised as ours and resumed, not refused.
    write_json(out / MANIFEST, _manifest(spec, raw_dir, len(pairs), splits, symlink_images,
                                         'in_progress', label_table, raw_layout))

    jobs = [(name, str(img), str(lab), str(out), dataset, symlink_images, resume, label_table)
            for name, (img, lab) in pairs.items()]
    results: list[dict[str, Any]] = []
    bar_args = dict(total=len(jobs), desc=f'converting {dataset}', unit='img',
                    disable=not progress)
    if nproc > 1 and len(jobs) > 1:
        # The pool is forked before tqdm may start its monitor thread.
        with Pool(min(nproc, len(jobs))) as pool, tqdm(**bar_args) as bar:
            for res in pool.imap_unordered(_convert_one, jobs):
                results.append(res)
                bar.update()
    else:
        with tqdm(**bar_args) as bar:
            for job in jobs:
                results.append(_convert_one(job))
                bar.update()
    # imap_unordered yields in completion order; sorting makes the outputs independent of it.
    results.sort(key=lambda r: r['name'])

    # Checked before the factors: a mixed folder is the more basic mistake.
    image_format = common_image_format({Path(r['image']): r['format'] for r in results})
    factors = sorted({r['factor'] for r in results})
    if len(factors) > 1:
        by_factor = {f: [r['name'] for r in results if r['factor'] == f] for f in factors}
        raise DaspmInputError(
            f'{raw}: labels are finer than their images by different factors (1x = the image '
            'grid) ' + '; '.join(f'{f}x: {listing(n)}' for f, n in by_factor.items())
            + '; every pair must use the same factor: resample the odd labels with nearest '
            'neighbour onto the grid of the others')

    for split in SPLITS:
        path = out / f'{split}.txt'
        if split in splits:
            with atomic_output(path) as tmp:
                tmp.write_text(''.join(f'{n}\n' for n in splits[split]), encoding='utf-8')
        elif path.is_file():
            path.unlink()  # stale split of a previous conversion whose raw split is gone

    counts = {f'{ANN_DIR}/{r["name"]}.tif': r['counts'] for r in results}
    sample_class_stats, samples_with_class = build_class_stats(counts)
    write_class_stats(out, sample_class_stats, samples_with_class)
    manifest = _manifest(spec, raw_dir, len(pairs), splits, symlink_images, 'complete',
                         label_table, raw_layout, factors[0],
                         {**image_format, 'label_factor': factors[0]})
    write_json(out / MANIFEST, manifest)
    return {
        'out_dir': str(out),
        'manifest': manifest,
        'converted': sum(not r['skipped'] for r in results),
        'skipped': sum(r['skipped'] for r in results),
        'class_pixels': class_pixel_totals(sample_class_stats),
    }
