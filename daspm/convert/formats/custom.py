"""custom: any folder of labelled images ("bring your own data") -> the DASPM layout, with training configs.

Input (never modified): images (GeoTIFF, PNG or JPEG; 3 or more bands; georeferenced or not),
masks (integer ids or RGB colours) paired with them by path and name, and ``classes.json``
(see ``custom_classes``); optionally unlabelled target images for domain adaptation.

Output::

    OUT/img_dir/<name>.tif     the image as GeoTIFF (a GeoTIFF is copied; alpha bands dropped)
    OUT/ann_dir/<name>.tif     uint8 train ids 0..N-1, 255 = ignore, colour table, the image's georeference
    OUT/{train,val,test}.txt   from --split-dir, else a deterministic split (--splits, --seed)
    OUT/sample_class_stats.json  OUT/samples_with_class.json  OUT/daspm_dataset.json
    OUT/source_only.py         a config that trains on this folder (``CustomGeoTiffDataset``)
    OUT/target/img_dir/<name>.tif  OUT/target/train.txt  OUT/target/daspm_dataset.json  OUT/uda.py
                               (with target images)

``<name>`` is the image's path below its folder without suffix, sub-folders joined by ``__``.
:class:`CustomFormat` is the adapter that :func:`daspm.convert.pipeline.convert` runs::

    plan()     _check_options() -> read_class_table() -> _find_inputs()      nothing written yet
    (the pipeline's prepare_output(), with output_rules(): same classes or an extended table)
    start()    clean_partials(), stale outputs, manifest 'in_progress'
    jobs()     one ImageJob per pair; worker custom_io.convert_one
    finish()   unknown mask values -> _plan() (scale, grid, bands, crop) -> splits, statistics
               -> _convert_target() -> write_configs() -> manifest 'complete'
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from daspm.classes import IGNORE_INDEX
from daspm.utils.dataset_layout import (ANN_DIR, IMG_DIR, MANIFEST, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS,
                                        SPLITS)
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output

from ..class_stats import build_class_stats, class_pixel_totals, write_class_stats, write_json
from ..custom_classes import ClassTable, read_class_table
from ..custom_config import (MODELS, REPO_ROOT, SOURCE_ONLY_CONFIG, TARGET_DIR, UDA_CONFIG, WHOLE_INFERENCE_MAX_SIDE,
                             ConfigSpec, DomainSpec, config_base_dir, rcs_min_pixels, render_source_only,
                             render_uda)
from ..custom_files import (IMAGE_SUFFIXES, MASK_SUFFIXES, flat_names, list_files, pair_files,
                            parse_ratios, random_splits, read_split_dir)
from ..custom_io import convert_one, unknown_values_error
from ..jobs import ImageJob, run_pool
from ..outputs import (OutputRules, Wording, clean_partials, clear, listing, load_manifest, orphan_names,
                       write_lines, write_splits)
from .base import MANIFEST_FORMAT, MANIFEST_VERSION
from .gaofen_sentinel import common_image_format

CUSTOM_DATASET = 'custom'
CUSTOM_TARGET = 'custom-target'
CUSTOM_DESCRIPTION = ('any folder of labelled images (--images, --masks, --classes; no RAW) with training configs '
                      '(dataset: CustomGeoTiffDataset)')
DEFAULT_MODEL = 'daformer_mitb5'
DEFAULT_SPLITS = '0.8,0.1,0.1'
# Crops are multiples of the encoder's coarsest stride.
CROP_MULTIPLE = 32
# Images whose sides differ by more than this factor are resized towards one median size in
# training: worth a note, because that changes their scale.
SIZE_SPREAD_NOTE = 2.0
WORDS = Wording(
    inside_input='{out}: output folder is inside the input {raw}; converters never write into their input, '
                 'choose an output outside it',
    input_inside='{raw}: input folder is inside the output {out}; choose another output folder',
    not_dir='{out}: exists and is not a folder; choose another output path')


@dataclass(frozen=True)
class CustomOptions:
    """What a user asks of one custom conversion (the command line, as one record)."""

    images: str | os.PathLike
    masks: str | os.PathLike
    classes: str | os.PathLike
    out: str | os.PathLike
    image_suffix: str | None = None
    mask_suffix: str | None = None
    target_images: str | os.PathLike | None = None
    target_suffix: str | None = None
    split_dir: str | os.PathLike | None = None
    splits: str = DEFAULT_SPLITS
    seed: int = 0
    allow_unmatched: bool = False
    gsd: float | None = None
    target_gsd: float | None = None
    model: str = DEFAULT_MODEL
    bands: str | None = None
    crop: int | None = None
    max_iters: int | None = None
    nproc: int = 1
    overwrite: bool = False
    progress: bool = True


@dataclass
class CustomPlan:
    """What the options and input folders hold, found before anything is written: the route's one plan."""

    options: CustomOptions
    table: ClassTable
    pairs: dict[str, tuple[Path, Path]]
    no_mask: list[str]
    no_image: list[str]
    names: dict[str, str]
    split_keys: dict[str, list[str]]
    split_source: str
    targets: dict[str, Path] = field(default_factory=dict)
    target_names: dict[str, str] = field(default_factory=dict)
    base_dir: str = ''
    resume: bool = False

    @property
    def out(self) -> Path:
        """The output folder."""
        return Path(self.options.out)

    @property
    def inputs(self) -> list[Path]:
        """The folders the output must stay out of."""
        o = self.options
        return [Path(d) for d in (o.images, o.masks, o.target_images) if d is not None]


# -- the output folder ----------------------------------------------------------------------------


def _our_outputs(out: Path, previous: Any = None) -> list[Path]:
    """Everything a conversion writes into ``out`` (removed by --overwrite, nothing else is)."""
    names = [IMG_DIR, ANN_DIR, TARGET_DIR, SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS, MANIFEST,
             SOURCE_ONLY_CONFIG, UDA_CONFIG, *(f'{s}.txt' for s in SPLITS)]
    return [out / n for n in names]


def _read_previous(out: Path) -> dict[str, Any]:
    manifest = load_manifest(out / MANIFEST)
    if manifest is None or manifest.get('format') != MANIFEST_FORMAT:
        raise DaspmInputError(
            f'{out}: output folder is not empty and holds no {MANIFEST} of a previous DASPM conversion; '
            'choose an empty or new folder, nothing there is overwritten')
    return manifest


def output_rules(table: ClassTable) -> OutputRules:
    """The custom converter's output-folder policy: resuming needs the same (or an extended) class table."""
    def check_resume(out: Path, manifest: dict[str, Any]) -> None:
        if manifest.get('dataset') != CUSTOM_DATASET:
            raise DaspmInputError(f'{out}: holds a {manifest.get("dataset")} conversion, not a custom one; choose '
                                  'another output folder or pass --overwrite to replace it')
        if not table.extends(manifest.get('class_table') or {}):
            raise DaspmInputError(
                f'{out}: was converted with other classes or mask values than {table.path} (only adding values '
                'resumes); resuming would mix two class tables: pass --overwrite to convert everything again')
    return OutputRules(WORDS, _read_previous, _our_outputs, check_resume, links_too=True)


def _check_stale(root: Path, names: set[str]) -> None:
    stale = orphan_names(root, names)
    if stale:
        raise DaspmInputError(
            f'{root}: a previous conversion holds {len(stale)} image(s) no longer among the inputs: '
            f'{listing(stale)}; pass --overwrite to convert everything again (or delete them from '
            f'{IMG_DIR}/ and {ANN_DIR}/)')


def write_configs(out: Path, spec: ConfigSpec, base_dir: str) -> dict[str, Path]:
    """``source_only.py`` (and ``uda.py`` with a target domain) into ``out``; returns their paths."""
    configs = {'source_only': out / SOURCE_ONLY_CONFIG}
    if spec.target is not None:
        configs['uda'] = out / UDA_CONFIG
    for key, path in configs.items():
        render = render_uda if key == 'uda' else render_source_only
        with atomic_output(path) as tmp:
            tmp.write_text(render(spec, base_dir, str(path)), encoding='utf-8')
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


# -- the conversion -------------------------------------------------------------------------------


def _manifest(status: str, **fields: Any) -> dict[str, Any]:
    return {'format': MANIFEST_FORMAT, 'version': MANIFEST_VERSION, 'status': status, **fields}


def _check_options(o: CustomOptions) -> None:
    if o.model not in MODELS:
        raise DaspmInputError(f'--model {o.model}: choose one of {", ".join(MODELS)}')
    for name, value in (('--gsd', o.gsd), ('--target-gsd', o.target_gsd), ('--crop', o.crop),
                        ('--max-iters', o.max_iters)):
        if value is not None and value <= 0:
            raise DaspmInputError(f'{name} must be above 0, got {value}')


def _find_inputs(o: CustomOptions) -> CustomPlan:
    """The class table, pairs, names, splits and target images; every check that needs no output."""
    table = read_class_table(o.classes)
    images_dir = Path(o.images)
    pairs, no_mask, no_image = _find_pairs(images_dir, Path(o.masks), o.image_suffix, o.mask_suffix,
                                           o.allow_unmatched)
    names = flat_names(list(pairs), images_dir)
    split_keys, split_source = _splits(list(pairs), o.split_dir, o.splits, o.seed, o.image_suffix)
    found = CustomPlan(o, table, pairs, no_mask, no_image, names, split_keys, split_source)
    if o.target_images is not None:
        target_dir = Path(o.target_images)
        found.targets = list_files(target_dir, (o.target_suffix,) if o.target_suffix else IMAGE_SUFFIXES,
                                   'target image')
        if not found.targets:
            raise DaspmInputError(f'{target_dir}: no target images found (looked for '
                                  f'{o.target_suffix or ", ".join(IMAGE_SUFFIXES)})')
        found.target_names = flat_names(list(found.targets), target_dir)
    return found


def _base_manifest(o: CustomOptions, found: CustomPlan) -> dict[str, Any]:
    inputs_info = {'images': str(o.images), 'masks': str(o.masks), 'classes': str(o.classes),
                   'image_suffix': o.image_suffix, 'mask_suffix': o.mask_suffix}
    table = found.table
    return dict(dataset=CUSTOM_DATASET, classes=list(table.names), palette=[list(c) for c in table.palette],
                ignore_index=IGNORE_INDEX, class_table=table.manifest(), num_images=len(found.pairs),
                inputs=inputs_info)


class CustomFormat:
    """The custom format's adapter for :func:`daspm.convert.pipeline.convert`."""

    name = CUSTOM_DATASET
    worker = staticmethod(convert_one)
    chunksize = 1

    def plan(self, o: CustomOptions) -> CustomPlan:
        """The options, class table, pairs, names, splits and target images; every check that needs no output."""
        _check_options(o)
        found = _find_inputs(o)
        found.base_dir = config_base_dir(Path(o.out))
        return found

    def output_rules(self, plan: CustomPlan) -> OutputRules:
        return output_rules(plan.table)

    def start(self, plan: CustomPlan, resume: bool) -> None:
        """Partial files and stale outputs of a previous run, then the manifest 'in_progress'."""
        out_dir, target_out = plan.out, plan.out / TARGET_DIR
        plan.resume = resume
        if resume:
            for root in (out_dir, target_out):
                clean_partials(root)
            _check_stale(out_dir, set(plan.names.values()))
            if plan.options.target_images is None:
                # the last conversion had target images, this one has none
                clear([target_out, out_dir / UDA_CONFIG], links_too=True)
            else:
                _check_stale(target_out, set(plan.target_names.values()))
        # Written first so that an interrupted run is recognised as ours and resumed, not refused.
        write_json(out_dir / MANIFEST, _manifest('in_progress', **_base_manifest(plan.options, plan)))

    def jobs(self, plan: CustomPlan, resume: bool) -> list[ImageJob]:
        return [ImageJob(plan.names[k], str(img), str(msk), str(plan.out), plan.table, resume)
                for k, (img, msk) in plan.pairs.items()]

    def progress_label(self, plan: CustomPlan) -> str:
        return 'converting images + masks'

    @staticmethod
    def result_name(result: dict[str, Any]) -> str:
        return result['name']

    def finish(self, plan: CustomPlan, results: Sequence[dict[str, Any]], previous: Any) -> dict[str, Any]:
        """Unknown mask values, the plan of the configs, splits, statistics, target images, configs, manifest."""
        return _finish(plan, results)


CUSTOM = CustomFormat()


def _finish(plan: CustomPlan, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """After the pool: the rest of the custom route, in the order it always ran."""
    o, out = plan.options, plan.out
    if any(r['unknown'] for r in results):
        raise unknown_values_error(results, plan.table, Path(o.masks))
    recipe = MODELS[o.model]
    image_format = common_image_format({Path(r['image']): r['info'] for r in results})
    cfg = _plan(o, results, image_format, recipe)
    split_names = {s: [plan.names[k] for k in keys] for s, keys in plan.split_keys.items()}
    write_splits(out, split_names, {})
    sample_class_stats, samples_with_class = build_class_stats(
        {f'{ANN_DIR}/{r["name"]}.tif': r['counts'] for r in results})
    write_class_stats(out, sample_class_stats, samples_with_class)
    cfg['min_pixels'], cfg['min_pixels_note'] = rcs_min_pixels(
        cfg['crop'], _largest_per_class(results, set(split_names['train'])))
    target_report, target_spec = (None, None) if o.target_images is None else _convert_target(
        o, plan, plan.resume, results, image_format, cfg)
    configs = write_configs(out, _config_spec(o, plan, cfg, split_names, target_spec), plan.base_dir)
    notes = _notes(results, split_names, plan.table, cfg['sizes'], cfg['bands_note'], recipe.pretrained,
                   plan.no_mask, plan.no_image)
    manifest = _final_manifest(o, plan, results, image_format, cfg, split_names, target_report, configs)
    write_json(out / MANIFEST, manifest)
    return {
        'out_dir': str(o.out), 'manifest': manifest, 'table': plan.table,
        'converted': sum(not r['skipped'] for r in results), 'skipped': sum(r['skipped'] for r in results),
        'class_pixels': class_pixel_totals(sample_class_stats), 'ignored_pixels': sum(r['ignored'] for r in results),
        'split_source': plan.split_source, 'gsd_note': cfg['gsd_note'], 'scale_note': cfg['scale_note'],
        'min_pixels': cfg['min_pixels'], 'min_pixels_note': cfg['min_pixels_note'], 'crop': cfg['crop'],
        'configs': {k: str(v) for k, v in configs.items()}, 'target': target_report, 'notes': notes,
        'unmatched': {'images': plan.no_mask, 'masks': plan.no_image},
    }


def _plan(o: CustomOptions, results: Sequence[dict[str, Any]], image_format: dict[str, Any],
          recipe: Any) -> dict[str, Any]:
    """How the configs read the labelled images: grid, scale, bands, crop (and the notes saying why)."""
    nominal, out_gsd, gsd_note = plan_gsd(results, o.gsd)
    scale, scale_note = plan_scale(results, image_format['dtype'])
    bands, bands_note = parse_bands(o.bands, image_format['bands'], recipe.pretrained)
    sizes = _grid_sizes(results, nominal, out_gsd)
    crop = plan_crop(sizes, recipe.crop, o.crop)
    source = DomainSpec(bands, image_format['bands'], scale, scale_note, nominal, _median_size(sizes))
    return dict(recipe=recipe, nominal=nominal, out_gsd=out_gsd, gsd_note=gsd_note, scale=scale,
                scale_note=scale_note, bands=bands, bands_note=bands_note, sizes=sizes, crop=crop, source=source)


def _config_spec(o: CustomOptions, found: CustomPlan, plan: dict[str, Any], split_names: dict[str, list[str]],
                 target: DomainSpec | None) -> ConfigSpec:
    recipe, sizes = plan['recipe'], plan['sizes']
    origin = [f'images: {Path(o.images).resolve()}', f'masks: {Path(o.masks).resolve()}',
              f'classes: {Path(o.classes).resolve()}']
    if o.target_images is not None:
        origin.append(f'target images: {Path(o.target_images).resolve()}')
    return ConfigSpec(
        recipe=recipe, classes=found.table.names, palette=found.table.palette, source=plan['source'], target=target,
        out_gsd=plan['out_gsd'], gsd_note=plan['gsd_note'], crop=plan['crop'],
        max_iters=o.max_iters or recipe.max_iters,
        val_split='val' if 'val' in split_names else 'test', test_split='test' if 'test' in split_names else 'val',
        test_mode='slide' if max(max(s) for s in sizes) > WHOLE_INFERENCE_MAX_SIDE else 'whole',
        min_pixels=plan['min_pixels'], min_pixels_note=plan['min_pixels_note'], origin=origin)


def _final_manifest(o: CustomOptions, found: CustomPlan, results: Sequence[dict[str, Any]],
                    image_format: dict[str, Any], plan: dict[str, Any], split_names: dict[str, list[str]],
                    target_report: dict[str, Any] | None, configs: dict[str, Path]) -> dict[str, Any]:
    recipe = plan['recipe']
    return _manifest(
        'complete', **_base_manifest(o, found), splits={s: len(v) for s, v in split_names.items()},
        split_source=found.split_source, images='copy',
        image_format={**image_format, 'georeferenced': sum(r['info']['georeferenced'] for r in results)},
        model=dict(name=recipe.name, bands=list(plan['bands']), scale=plan['scale'], crop=plan['crop'],
                   output_gsd=plan['out_gsd'], nominal_gsd=plan['nominal']),
        rare_class_sampling=dict(min_pixels=plan['min_pixels'], rule=plan['min_pixels_note']),
        unmatched=dict(images_without_mask=len(found.no_mask), masks_without_image=len(found.no_image)),
        target=None if target_report is None else {'folder': TARGET_DIR, 'num_images': target_report['num_images']},
        configs=[p.name for p in configs.values()])


def _convert_target(o: CustomOptions, found: CustomPlan, resume: bool, source_results: Sequence[dict[str, Any]],
                    source_format: dict[str, Any], plan: dict[str, Any]) -> tuple[dict[str, Any], DomainSpec]:
    """Convert the unlabelled target images into ``OUT/target/`` and describe how uda.py reads them."""
    target_dir, target_out, bands = Path(o.target_images), Path(o.out) / TARGET_DIR, plan['bands']
    (target_out / IMG_DIR).mkdir(parents=True, exist_ok=True)
    write_json(target_out / MANIFEST, _manifest('in_progress', dataset=CUSTOM_TARGET, num_images=len(found.targets),
                                                source=str(target_dir)))
    jobs = [ImageJob(found.target_names[k], str(p), None, str(target_out), None, resume)
            for k, p in found.targets.items()]
    results = run_pool(convert_one, jobs, o.nproc, 'converting target images', o.progress,
                       key=CustomFormat.result_name)
    fmt = common_image_format({Path(r['image']): r['info'] for r in results})
    if fmt['bands'] < max(bands):
        raise DaspmInputError(
            f'{target_dir}: the target images have {fmt["bands"]} bands but the model reads bands '
            f'{",".join(map(str, bands))} of the labelled images; give target images with those bands '
            '(or --bands that both have)')
    source_projected = any(r['info']['gsd'] for r in source_results)
    target_projected = [r['info']['gsd'] for r in results if r['info']['gsd']]
    if o.target_gsd is None and target_projected and not source_projected and o.gsd is None:
        raise DaspmInputError(
            f'{target_dir}: the target images are georeferenced ({_round(median(target_projected), 4):g} m) but '
            'the labelled images are not, so their scales cannot be matched: pass --gsd with the pixel size of '
            'the labelled images (or --target-gsd to read the target as the same scale)')
    nominal = o.target_gsd if o.target_gsd is not None else plan['nominal']
    if fmt['dtype'] == source_format['dtype']:
        scale = plan['scale']
        note = f'target images: {fmt["dtype"]} like the labelled ones, the same scale {scale:g}'
    else:
        scale, note = plan_scale(results, fmt['dtype'])
        note = 'target ' + note
    names = sorted(r['name'] for r in results)
    write_lines(target_out / 'train.txt', names)
    report = {'num_images': len(results), 'converted': sum(not r['skipped'] for r in results),
              'skipped': sum(r['skipped'] for r in results), 'format': fmt}
    write_json(target_out / MANIFEST, _manifest('complete', dataset=CUSTOM_TARGET, num_images=len(results),
                                                source=str(target_dir), splits={'train': len(names)},
                                                images='copy', image_format=fmt, nominal_gsd=nominal))
    sizes = _grid_sizes(results, nominal, plan['out_gsd'])
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


def custom_summary(result: dict[str, Any]) -> list[str]:
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


# -- the command line -----------------------------------------------------------------------------

CUSTOM_EPILOG = '''classes.json names the classes in train-id order and their mask values, colours or ids:
  {"classes": {"building": "#3C1098", "road": "#6EC1E4"}, "ignore": ["#9B9B9B"]}
  {"classes": {"building": 1, "road": [2, 3]}, "ignore": [0], "palette": {"road": "#FFFF00"}}
A mask value that is neither a class nor ignored stops the conversion with a list of the values,
their pixel counts and files. See docs/custom_data.md.'''



def add_custom_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``custom`` (no RAW: the inputs are named)."""
    parser.epilog = parser.epilog or CUSTOM_EPILOG
    parser.add_argument('--images', required=True, help='folder of images (GeoTIFF, PNG, JPEG; sub-folders too)')
    parser.add_argument('--masks', required=True, help='folder of masks, laid out like --images')
    parser.add_argument('--classes', required=True, help='classes.json: class names -> mask values (see below)')
    parser.add_argument('-o', '--out', required=True, help='output folder (new, empty or a previous conversion)')
    parser.add_argument('--image-suffix', help='ending of image names, e.g. _sat.jpg (default: any of .tif '
                                               '.tiff .png .jpg .jpeg)')
    parser.add_argument('--mask-suffix', help='ending of mask names, e.g. _mask.png (default: any of .png .tif '
                                              '.tiff .bmp .gif)')
    parser.add_argument('--allow-unmatched', action='store_true',
                        help='skip images without a mask and masks without an image (default: an error)')
    parser.add_argument('--split-dir', help='folder with train.txt and val.txt and/or test.txt (image paths '
                                            'below --images, suffix optional); default: a deterministic split')
    parser.add_argument('--splits', default=DEFAULT_SPLITS,
                        help='train,val,test shares of the deterministic split (default %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the deterministic split (default 0)')
    parser.add_argument('--target-images', help='unlabelled target images: also convert them and write uda.py')
    parser.add_argument('--target-suffix', help='ending of target image names (default: any image suffix)')
    parser.add_argument('--gsd', type=float, help='pixel size in metres of images without a georeference, and '
                                                  'the output grid (default: median of the georeferenced images)')
    parser.add_argument('--target-gsd', type=float,
                        help='pixel size of target images without a georeference (default: as --gsd)')
    parser.add_argument('--model', choices=list(MODELS), default=DEFAULT_MODEL,
                        help='network and schedule of the configs: daformer_mitb5 = the published recipe with '
                             'ImageNet weights (GPU); daformer_mitb0 = small, from scratch (CPU) (default '
                             '%(default)s)')
    parser.add_argument('--bands', help='1-based bands the model reads, e.g. 1,2,3 (default: all; 1,2,3 with '
                                        'ImageNet weights)')
    parser.add_argument('--crop', type=int, help='training crop side (default: the model\'s, at most the smallest '
                                                 'image side)')
    parser.add_argument('--max-iters', type=int, help='training iterations (default: the model\'s)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='convert everything again (default: resume, skipping finished images)')


def custom_options(args: argparse.Namespace) -> CustomOptions:
    """The options record of the parsed ``args``."""
    return CustomOptions(
        args.images, args.masks, args.classes, args.out, image_suffix=args.image_suffix,
        mask_suffix=args.mask_suffix, target_images=args.target_images, target_suffix=args.target_suffix,
        split_dir=args.split_dir, splits=args.splits, seed=args.seed, allow_unmatched=args.allow_unmatched,
        gsd=args.gsd, target_gsd=args.target_gsd, model=args.model, bands=args.bands, crop=args.crop,
        max_iters=args.max_iters, nproc=args.nproc, overwrite=args.overwrite, progress=True)


__all__ = ['CUSTOM_DATASET', 'CUSTOM_DESCRIPTION', 'CUSTOM_TARGET', 'CustomOptions', 'DEFAULT_MODEL',
           'DEFAULT_SPLITS', 'CUSTOM', 'CustomFormat', 'CustomPlan', 'add_custom_arguments',
           'custom_options', 'custom_summary', 'parse_bands', 'plan_crop', 'plan_gsd', 'plan_scale', 'write_configs']
