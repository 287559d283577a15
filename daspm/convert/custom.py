"""Convert any folder of labelled images ("bring your own data") to the DASPM layout, with training configs.

Input (never modified): images (GeoTIFF, PNG or JPEG; 3 or more bands; georeferenced or not),
masks (integer ids or RGB colours) paired with them by path and name, and ``classes.json``
(see ``custom_classes``); optionally unlabelled target images for domain adaptation.

Output::

    OUT/img_dir/<name>.tif     the image as GeoTIFF (a GeoTIFF is copied; alpha bands dropped)
    OUT/ann_dir/<name>.tif     uint8 train ids 0..N-1, 255 = ignore, colour table, the image's georeference
    OUT/{train,val,test}.txt   from --split-dir, else a deterministic split (--splits, --seed)
    OUT/sample_class_stats.json  OUT/samples_with_class.json  OUT/daspm_dataset.json
    OUT/source_only.py         a config that trains on this folder
    OUT/target/img_dir/<name>.tif  OUT/target/train.txt  OUT/target/daspm_dataset.json  OUT/uda.py
                               (with target images)

``<name>`` is the image's path below its folder without suffix, sub-folders joined by ``__``.
Every file is written under a temporary name and renamed when complete, so an existing
``ann_dir`` file means a finished pair and a second run resumes (``overwrite`` redoes all).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from daspm.classes import IGNORE_INDEX
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS,
                                        SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output

from .class_stats import build_class_stats, class_pixel_totals, write_class_stats, write_json
from .converter import MANIFEST_FORMAT, common_image_format
from .custom_classes import ClassTable, read_class_table
from .custom_config import (MODELS, REPO_ROOT, SOURCE_ONLY_CONFIG, TARGET_DIR, UDA_CONFIG, WHOLE_INFERENCE_MAX_SIDE,
                            ConfigSpec, DomainSpec, config_base_dir, rcs_min_pixels, render_source_only,
                            render_uda)
from .custom_files import (IMAGE_SUFFIXES, MASK_SUFFIXES, flat_names, list_files, pair_files,
                           parse_ratios, random_splits, read_split_dir)
from .custom_io import Job, run_jobs, unknown_values_error
from .outputs import clean_partials, is_within, listing, orphan_names

CUSTOM_DATASET = 'custom'
CUSTOM_TARGET = 'custom-target'
MANIFEST_VERSION = 1
DEFAULT_MODEL = 'daformer_mitb5'
DEFAULT_SPLITS = '0.8,0.1,0.1'
# Crops are multiples of the encoder's coarsest stride.
CROP_MULTIPLE = 32
# Images whose sides differ by more than this factor are resized towards one median size in
# training: worth a note, because that changes their scale.
SIZE_SPREAD_NOTE = 2.0


# -- the output folder ----------------------------------------------------------------------------


def _our_outputs(out: Path) -> list[Path]:
    """Everything a conversion writes into ``out`` (removed by --overwrite, nothing else is)."""
    names = [IMG_DIR, ANN_DIR, TARGET_DIR, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST,
             SOURCE_ONLY_CONFIG, UDA_CONFIG, *(f'{s}.txt' for s in SPLITS)]
    return [out / n for n in names]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def prepare_output(out: Path, inputs: Sequence[Path], table: ClassTable, overwrite: bool) -> bool:
    """Check ``out`` against the inputs and a previous conversion; clear it for ``overwrite``. True = resume."""
    out_r = out.resolve()
    for folder in inputs:
        folder_r = folder.resolve()
        if is_within(out_r, folder_r):
            raise DaspmInputError(
                f'{out}: output folder is inside the input {folder}; converters never write into their input, '
                'choose an output outside it')
        if is_within(folder_r, out_r):
            raise DaspmInputError(f'{folder}: input folder is inside the output {out}; choose another output folder')
    if out.exists() and not out.is_dir():
        raise DaspmInputError(f'{out}: exists and is not a folder; choose another output path')
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return False
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path) if manifest_path.is_file() else None
    if manifest is None or manifest.get('format') != MANIFEST_FORMAT:
        raise DaspmInputError(
            f'{out}: output folder is not empty and holds no {MANIFEST} of a previous DASPM conversion; '
            'choose an empty or new folder, nothing there is overwritten')
    if overwrite:
        for path in _our_outputs(out):
            _remove(path)
        return False
    if manifest.get('dataset') != CUSTOM_DATASET:
        raise DaspmInputError(f'{out}: holds a {manifest.get("dataset")} conversion, not a custom one; choose '
                              'another output folder or pass --overwrite to replace it')
    if not table.extends(manifest.get('class_table') or {}):
        raise DaspmInputError(
            f'{out}: was converted with other classes or mask values than {table.path} (only adding values '
            'resumes); resuming would mix two class tables: pass --overwrite to convert everything again')
    return True


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_stale(root: Path, names: set[str]) -> None:
    stale = orphan_names(root, names)
    if stale:
        raise DaspmInputError(
            f'{root}: a previous conversion holds {len(stale)} image(s) no longer among the inputs: '
            f'{listing(stale)}; pass --overwrite to convert everything again (or delete them from '
            f'{IMG_DIR}/ and {ANN_DIR}/)')


def _write_lines(path: Path, names: Sequence[str]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(''.join(f'{n}\n' for n in names), encoding='utf-8')


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding='utf-8')


def write_splits(out: Path, split_names: dict[str, list[str]]) -> None:
    """``<split>.txt`` for each split; a split file of a previous conversion that this one lacks goes."""
    for split in SPLITS:
        if split in split_names:
            _write_lines(out / f'{split}.txt', split_names[split])
        elif (out / f'{split}.txt').is_file():
            (out / f'{split}.txt').unlink()


def write_configs(out: Path, spec: ConfigSpec, base_dir: str) -> dict[str, Path]:
    """``source_only.py`` (and ``uda.py`` with a target domain) into ``out``; returns their paths."""
    configs = {'source_only': out / SOURCE_ONLY_CONFIG}
    if spec.target is not None:
        configs['uda'] = out / UDA_CONFIG
    for key, path in configs.items():
        render = render_uda if key == 'uda' else render_source_only
        _write_text(path, render(spec, base_dir, str(path)))
    return configs


# -- what the configs need ------------------------------------------------------------------------


def _round(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits (config values people read)."""
    return float(f'{value:.{digits}g}')


def plan_scale(results: Sequence[dict[str, Any]], dtype: str) -> tuple[float, str]:
    """The divisor mapping raw values to ~[0, 1] and why."""
    if dtype == 'uint8':
        return 255.0, '8-bit images: values / 255, as the reference reads RGB (mean 0, std 255)'
    highs = [r['high'] for r in results if r['high']]
    scale = _round(median(highs)) if highs else 1.0
    scale = scale if scale > 0 else 1.0
    return scale, (f'{dtype} images: values / {scale:g}, the median over the images of their 99th '
                   'percentile, so that most values lie in [0, 1]')


def plan_gsd(results: Sequence[dict[str, Any]], gsd: float | None) -> tuple[float, float, str]:
    """(nominal GSD for images without a projected georeference, output grid GSD, explanation)."""
    projected = [r['info']['gsd'] for r in results if r['info']['gsd']]
    others = len(results) - len(projected)
    if gsd is not None:
        note = f'--gsd {gsd:g}: output grid {gsd:g} m'
        if others:
            note += f'; the {others} image(s) without a projected georeference are read as {gsd:g} m pixels'
        if projected:
            note += '; georeferenced images are resampled from their own pixel size'
        return gsd, gsd, note
    if projected:
        med = _round(median(projected), 4)
        note = f'output grid: the median pixel size of the georeferenced images, {med:g} m'
        if others:
            note += f'; the {others} without a projected georeference are read as {med:g} m pixels'
        return med, med, note
    return 1.0, 1.0, ('the images are not georeferenced: their pixels are taken as 1 m (a nominal size; '
                      '--gsd gives the real one)')


def _grid_sizes(results: Sequence[dict[str, Any]], nominal: float, out_gsd: float) -> list[tuple[float, float]]:
    """(width, height) of each image on the output grid."""
    sizes = []
    for r in results:
        factor = (r['info']['gsd'] or nominal) / out_gsd
        sizes.append((r['info']['width'] * factor, r['info']['height'] * factor))
    return sizes


def _median_size(sizes: Sequence[tuple[float, float]]) -> tuple[int, int]:
    return int(round(median(w for w, _ in sizes))), int(round(median(h for _, h in sizes)))


def plan_crop(sizes: Sequence[tuple[float, float]], model_crop: int, crop: int | None) -> int:
    """The training crop: ``crop`` if given, else the model's, but not above the smallest image side."""
    if crop is not None:
        return crop
    smallest = min(min(w, h) for w, h in sizes)
    return max(CROP_MULTIPLE, min(model_crop, int(smallest) // CROP_MULTIPLE * CROP_MULTIPLE))


def parse_bands(text: str | None, num_bands: int, pretrained: str | None) -> tuple[tuple[int, ...], str | None]:
    """The bands the model reads (1-based) and a note when a default dropped some."""
    if text is None:
        if pretrained is None:
            return tuple(range(1, num_bands + 1)), None
        note = None
        if num_bands > 3:
            note = (f'the images have {num_bands} bands but the ImageNet weights ({pretrained}) take 3: the model '
                    'reads bands 1,2,3 (--bands chooses others; --model daformer_mitb0 reads all, from scratch)')
        return (1, 2, 3), note
    try:
        bands = tuple(int(b) for b in text.split(','))
    except ValueError:
        bands = ()
    if not bands or any(not 1 <= b <= num_bands for b in bands):
        raise DaspmInputError(f'--bands {text}: give 1-based band numbers between 1 and {num_bands}, e.g. 1,2,3')
    if pretrained is not None and len(bands) != 3:
        raise DaspmInputError(f'--bands {text}: the ImageNet weights ({pretrained}) take exactly 3 bands; give 3, '
                              'or use --model daformer_mitb0 (trained from scratch on any number of bands)')
    return bands, None


def _largest_per_class(results: Sequence[dict[str, Any]], train: set[str]) -> dict[int, int]:
    largest: dict[int, int] = {}
    for r in results:
        if r['name'] in train:
            for c, n in r['counts'].items():
                largest[c] = max(largest.get(c, 0), n)
    return largest


# -- the conversion -------------------------------------------------------------------------------


def _find_pairs(images: Path, masks: Path, image_suffix: str | None, mask_suffix: str | None,
                allow_unmatched: bool) -> tuple[dict[str, tuple[Path, Path]], list[str], list[str]]:
    image_sfx = (image_suffix,) if image_suffix else IMAGE_SUFFIXES
    mask_sfx = (mask_suffix,) if mask_suffix else MASK_SUFFIXES
    # A mask folder inside the image folder (images/ + images/masks/) is not read for images.
    image_files = list_files(images, image_sfx, 'image', exclude=[masks])
    mask_files = list_files(masks, mask_sfx, 'mask', exclude=[images])
    return pair_files(image_files, mask_files, images, masks, allow_unmatched=allow_unmatched)


def _splits(keys: list[str], split_dir: str | os.PathLike | None, splits: str, seed: int,
            image_suffix: str | None) -> tuple[dict[str, list[str]], str]:
    if split_dir is not None:
        suffixes = (image_suffix,) if image_suffix else IMAGE_SUFFIXES
        return read_split_dir(split_dir, keys, suffixes), f'split files in {split_dir}'
    ratios = parse_ratios(splits)
    return random_splits(keys, ratios, seed), f'deterministic split {splits}, seed {seed}'


def _manifest(status: str, **fields: Any) -> dict[str, Any]:
    return {'format': MANIFEST_FORMAT, 'version': MANIFEST_VERSION, 'status': status, **fields}


def convert_custom(images: str | os.PathLike, masks: str | os.PathLike, classes: str | os.PathLike,
                   out: str | os.PathLike, *, image_suffix: str | None = None, mask_suffix: str | None = None,
                   target_images: str | os.PathLike | None = None, target_suffix: str | None = None,
                   split_dir: str | os.PathLike | None = None, splits: str = DEFAULT_SPLITS, seed: int = 0,
                   allow_unmatched: bool = False, gsd: float | None = None, target_gsd: float | None = None,
                   model: str = DEFAULT_MODEL, bands: str | None = None, crop: int | None = None,
                   max_iters: int | None = None, nproc: int = 1, overwrite: bool = False,
                   progress: bool = True) -> dict[str, Any]:
    """Convert a folder of images + masks (and optional target images); write the configs; return a report."""
    if nproc < 1:
        raise DaspmInputError(f'--nproc must be at least 1, got {nproc}')
    if model not in MODELS:
        raise DaspmInputError(f'--model {model}: choose one of {", ".join(MODELS)}')
    for name, value in (('--gsd', gsd), ('--target-gsd', target_gsd), ('--crop', crop), ('--max-iters', max_iters)):
        if value is not None and value <= 0:
            raise DaspmInputError(f'{name} must be above 0, got {value}')
    recipe = MODELS[model]
    images_dir, masks_dir, out_dir = Path(images), Path(masks), Path(out)
    target_dir = Path(target_images) if target_images is not None else None
    # Every check that needs no output happens before the output folder is touched.
    table = read_class_table(classes)
    pairs, no_mask, no_image = _find_pairs(images_dir, masks_dir, image_suffix, mask_suffix, allow_unmatched)
    names = flat_names(list(pairs), images_dir)
    split_keys, split_source = _splits(list(pairs), split_dir, splits, seed, image_suffix)
    targets: dict[str, Path] = {}
    if target_dir is not None:
        targets = list_files(target_dir, (target_suffix,) if target_suffix else IMAGE_SUFFIXES, 'target image')
        if not targets:
            raise DaspmInputError(f'{target_dir}: no target images found (looked for '
                                  f'{target_suffix or ", ".join(IMAGE_SUFFIXES)})')
    target_names = flat_names(list(targets), target_dir) if target_dir is not None else {}
    base_dir = config_base_dir(out_dir)
    inputs = [d for d in (images_dir, masks_dir, target_dir) if d is not None]
    resume = prepare_output(out_dir, inputs, table, overwrite)
    target_out = out_dir / TARGET_DIR
    if resume:
        for root in (out_dir, target_out):
            clean_partials(root)
        _check_stale(out_dir, set(names.values()))
        if target_dir is None:
            for stale in (target_out, out_dir / UDA_CONFIG):
                _remove(stale)  # the last conversion had target images, this one has none
        else:
            _check_stale(target_out, set(target_names.values()))
    inputs_info = {'images': str(images_dir), 'masks': str(masks_dir), 'classes': str(classes),
                   'image_suffix': image_suffix, 'mask_suffix': mask_suffix}
    base_manifest = dict(dataset=CUSTOM_DATASET, classes=list(table.names),
                         palette=[list(c) for c in table.palette], ignore_index=IGNORE_INDEX,
                         class_table=table.manifest(), num_images=len(pairs), inputs=inputs_info)
    # Written first so that an interrupted run is recognised as ours and resumed, not refused.
    write_json(out_dir / MANIFEST, _manifest('in_progress', **base_manifest))

    jobs = [Job(names[k], str(img), str(msk), str(out_dir), table, resume) for k, (img, msk) in pairs.items()]
    results = run_jobs(jobs, nproc, 'converting images + masks', progress)
    if any(r['unknown'] for r in results):
        raise unknown_values_error(results, table, masks_dir)
    image_format = common_image_format({Path(r['image']): r['info'] for r in results})
    nominal, out_gsd, gsd_note = plan_gsd(results, gsd)
    scale, scale_note = plan_scale(results, image_format['dtype'])
    model_bands, bands_note = parse_bands(bands, image_format['bands'], recipe.pretrained)
    sizes = _grid_sizes(results, nominal, out_gsd)
    crop_px = plan_crop(sizes, recipe.crop, crop)
    source = DomainSpec(model_bands, image_format['bands'], scale, scale_note, nominal, _median_size(sizes))

    split_names = {s: [names[k] for k in keys] for s, keys in split_keys.items()}
    write_splits(out_dir, split_names)
    counts = {f'{ANN_DIR}/{r["name"]}.tif': r['counts'] for r in results}
    sample_class_stats, samples_with_class = build_class_stats(counts)
    write_class_stats(out_dir, sample_class_stats, samples_with_class)
    min_pixels, min_pixels_note = rcs_min_pixels(
        crop_px, _largest_per_class(results, set(split_names['train'])))

    target_report = None
    target_spec = None
    if target_dir is not None:
        target_report, target_spec = _convert_target(
            targets, target_names, target_dir, target_out, resume, nproc, progress, results, image_format,
            model_bands, scale, nominal, out_gsd, gsd, target_gsd)

    spec = ConfigSpec(
        recipe=recipe, classes=table.names, palette=table.palette, source=source, target=target_spec,
        out_gsd=out_gsd, gsd_note=gsd_note, crop=crop_px, max_iters=max_iters or recipe.max_iters,
        val_split='val' if 'val' in split_names else 'test', test_split='test' if 'test' in split_names else 'val',
        test_mode='slide' if max(max(s) for s in sizes) > WHOLE_INFERENCE_MAX_SIDE else 'whole',
        min_pixels=min_pixels, min_pixels_note=min_pixels_note,
        origin=[f'images: {images_dir.resolve()}', f'masks: {masks_dir.resolve()}',
                f'classes: {Path(classes).resolve()}']
        + ([f'target images: {target_dir.resolve()}'] if target_dir is not None else []))
    configs = write_configs(out_dir, spec, base_dir)

    notes = _notes(results, split_names, table, sizes, bands_note, recipe.pretrained, no_mask, no_image)
    manifest = _manifest(
        'complete', **base_manifest, splits={s: len(v) for s, v in split_names.items()}, split_source=split_source,
        images='copy', image_format={**image_format, 'georeferenced': sum(r['info']['georeferenced'] for r in results)},
        model=dict(name=recipe.name, bands=list(model_bands), scale=scale, crop=crop_px, output_gsd=out_gsd,
                   nominal_gsd=nominal),
        rare_class_sampling=dict(min_pixels=min_pixels, rule=min_pixels_note),
        unmatched=dict(images_without_mask=len(no_mask), masks_without_image=len(no_image)),
        target=None if target_report is None else {'folder': TARGET_DIR, 'num_images': target_report['num_images']},
        configs=[p.name for p in configs.values()])
    write_json(out_dir / MANIFEST, manifest)
    totals = class_pixel_totals(sample_class_stats)
    return {
        'out_dir': str(out_dir), 'manifest': manifest, 'table': table,
        'converted': sum(not r['skipped'] for r in results), 'skipped': sum(r['skipped'] for r in results),
        'class_pixels': totals, 'ignored_pixels': sum(r['ignored'] for r in results),
        'split_source': split_source, 'gsd_note': gsd_note, 'scale_note': scale_note,
        'min_pixels': min_pixels, 'min_pixels_note': min_pixels_note, 'crop': crop_px,
        'configs': {k: str(v) for k, v in configs.items()}, 'target': target_report, 'notes': notes,
        'unmatched': {'images': no_mask, 'masks': no_image},
    }


def _convert_target(targets: dict[str, Path], target_names: dict[str, str], target_dir: Path, target_out: Path,
                    resume: bool, nproc: int, progress: bool, source_results: Sequence[dict[str, Any]],
                    source_format: dict[str, Any], bands: tuple[int, ...], source_scale: float,
                    source_nominal: float, out_gsd: float, gsd: float | None,
                    target_gsd: float | None) -> tuple[dict[str, Any], DomainSpec]:
    """Convert the unlabelled target images into ``OUT/target/`` and describe how uda.py reads them."""
    (target_out / IMG_DIR).mkdir(parents=True, exist_ok=True)
    write_json(target_out / MANIFEST, _manifest('in_progress', dataset=CUSTOM_TARGET, num_images=len(targets),
                                                source=str(target_dir)))
    jobs = [Job(target_names[k], str(p), None, str(target_out), None, resume) for k, p in targets.items()]
    results = run_jobs(jobs, nproc, 'converting target images', progress)
    fmt = common_image_format({Path(r['image']): r['info'] for r in results})
    if fmt['bands'] < max(bands):
        raise DaspmInputError(
            f'{target_dir}: the target images have {fmt["bands"]} bands but the model reads bands '
            f'{",".join(map(str, bands))} of the labelled images; give target images with those bands '
            '(or --bands that both have)')
    source_projected = any(r['info']['gsd'] for r in source_results)
    target_projected = [r['info']['gsd'] for r in results if r['info']['gsd']]
    if target_gsd is None and target_projected and not source_projected and gsd is None:
        raise DaspmInputError(
            f'{target_dir}: the target images are georeferenced ({_round(median(target_projected), 4):g} m) but '
            'the labelled images are not, so their scales cannot be matched: pass --gsd with the pixel size of '
            'the labelled images (or --target-gsd to read the target as the same scale)')
    nominal = target_gsd if target_gsd is not None else source_nominal
    if fmt['dtype'] == source_format['dtype']:
        scale = source_scale
        note = f'target images: {fmt["dtype"]} like the labelled ones, the same scale {source_scale:g}'
    else:
        scale, note = plan_scale(results, fmt['dtype'])
        note = 'target ' + note
    names = sorted(r['name'] for r in results)
    _write_lines(target_out / 'train.txt', names)
    report = {'num_images': len(results), 'converted': sum(not r['skipped'] for r in results),
              'skipped': sum(r['skipped'] for r in results), 'format': fmt}
    write_json(target_out / MANIFEST, _manifest('complete', dataset=CUSTOM_TARGET, num_images=len(results),
                                                source=str(target_dir), splits={'train': len(names)},
                                                images='copy', image_format=fmt, nominal_gsd=nominal))
    sizes = _grid_sizes(results, nominal, out_gsd)
    return report, DomainSpec(bands, fmt['bands'], scale, note, nominal, _median_size(sizes))


def _notes(results: Sequence[dict[str, Any]], splits: dict[str, list[str]], table: ClassTable,
           sizes: Sequence[tuple[float, float]], bands_note: str | None, pretrained: str | None,
           no_mask: Sequence[str], no_image: Sequence[str]) -> list[str]:
    """Things worth a line in the summary: dropped bands, missing classes, skipped files, weights."""
    notes = [bands_note] if bands_note else []
    train = set(splits['train'])
    present = {c for r in results if r['name'] in train for c in r['counts']}
    missing = [n for c, n in enumerate(table.names) if c not in present]
    if missing:
        notes.append(f'no training image holds {", ".join(repr(n) for n in missing)}: the model cannot learn '
                     'these classes (move images holding them into train.txt)')
    if no_mask:
        notes.append(f'skipped {len(no_mask)} image(s) without a mask (--allow-unmatched): {listing(no_mask, 5)}')
    if no_image:
        notes.append(f'skipped {len(no_image)} mask(s) without an image (--allow-unmatched): {listing(no_image, 5)}')
    sides = [max(s) for s in sizes]
    if max(sides) > SIZE_SPREAD_NOTE * min(sides):
        notes.append(f'image sizes range from {min(sides):.0f} to {max(sides):.0f} px: training resizes every image '
                     'towards the median size, which changes the scale of the largest and smallest ones')
    if pretrained is not None:
        if not (REPO_ROOT / pretrained).is_file():
            notes.append(f'{pretrained} is not there yet: run `sh tools/download_checkpoints.sh` before training '
                         '(or --model daformer_mitb0, which needs no weights)')
    return notes


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The printed report of a conversion (one screen)."""
    manifest, table = result['manifest'], result['table']
    fmt = manifest['image_format']
    geo = fmt['georeferenced']
    lines = [
        f'read {manifest["num_images"]} image/mask pairs: {manifest["inputs"]["images"]} + '
        f'{manifest["inputs"]["masks"]} ({table.kind} masks)',
        f'images: {fmt["dtype"]}, {fmt["bands"]} bands, {geo} of {manifest["num_images"]} georeferenced',
        f'wrote {result["out_dir"]}: {manifest["num_images"]} images ({result["converted"]} converted, '
        f'{result["skipped"]} already done)',
        'splits: ' + ', '.join(f'{s} {n}' for s, n in manifest['splits'].items()) + f' ({result["split_source"]})',
    ]
    if result['target'] is not None:
        t = result['target']
        lines.append(f'target images: {t["num_images"]} ({t["converted"]} converted, {t["skipped"]} already done) '
                     f'-> {Path(result["out_dir"]) / TARGET_DIR}')
    total = sum(result['class_pixels'].values())
    lines.append(f'labelled pixels per class ({SAMPLE_CLASS_STATS}):')
    for cid, name in enumerate(table.names):
        n = result['class_pixels'].get(cid, 0)
        share = 100.0 * n / total if total else 0.0
        value = ', '.join(table.format_value(v) for v in table.values[cid])
        lines.append(f'  {cid:>3} {name:<20} {value:<10} {n:>14,d}  {share:5.1f} %')
    lines.append(f'  255 ignored                         {result["ignored_pixels"]:>14,d}')
    model = manifest['model']
    lines += [
        f'scale: {result["scale_note"]}',
        f'grid: {result["gsd_note"]}',
        f'model: {model["name"]}, bands {",".join(map(str, model["bands"]))}, crop {model["crop"]}',
        f'rare class sampling: min_pixels={result["min_pixels"]} ({result["min_pixels_note"]})',
    ]
    lines += [f'note: {n}' for n in result['notes']]
    for key, path in result['configs'].items():
        lines.append(f'config ({key.replace("_", "-")}): {path}')
        lines.append(f'  train: python run_experiments.py --config {path}')
    return lines


__all__ = ['CUSTOM_DATASET', 'CUSTOM_TARGET', 'DEFAULT_MODEL', 'DEFAULT_SPLITS', 'convert_custom', 'plan_crop',
           'plan_gsd', 'plan_scale', 'parse_bands', 'prepare_output', 'summary_lines', 'write_configs', 'write_splits']
