"""The training configs written beside a converted custom dataset: ``source_only.py`` and ``uda.py``.

Each is a complete mmseg 1.x config (a config alone defines the run) built on the repository's
``configs/_base_`` files: the runtime, the network and the optimiser come from there, the data
and the class table from the conversion. ``python run_experiments.py --config OUT/source_only.py``
trains it. The data roots are written as ``{{ fileDirname }}``, which mmengine replaces by the
folder of the config, so the converted folder can be moved as a whole.
"""
from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from daspm.utils.errors import DaspmInputError

# daspm/convert/custom_config.py -> the repository holding configs/_base_/
REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_BASE = REPO_ROOT / 'configs' / '_base_'
SOURCE_ONLY_CONFIG = 'source_only.py'
UDA_CONFIG = 'uda.py'
TARGET_DIR = 'target'
# DAFormer's rare class sampling keeps files with more than 3000 pixels of the class, for
# 512 x 512 crops; the custom configs scale it by their crop area.
RCS_REFERENCE_PIXELS = 3000
RCS_REFERENCE_CROP = 512
# Images up to this side are evaluated whole; larger ones in sliding windows of the crop size,
# so that evaluation memory does not grow with the image.
WHOLE_INFERENCE_MAX_SIDE = 1024
META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'crs', 'geo_transform', 'gsd', 'band_names', 'subpixel_factor')


@dataclass(frozen=True)
class ModelRecipe:
    """A network and its schedule: the ``--model`` choices."""

    name: str
    base: str                 # models/*.py below configs/_base_
    description: str
    pretrained: str | None    # ImageNet weights the base loads (they fix the input to 3 bands)
    crop: int                 # largest training crop
    lr: float
    max_iters: int
    warmup_iters: int
    interval: int             # evaluation and checkpoint interval
    workers: int
    alpha: float              # DACS teacher EMA
    fd_lambda: float          # ImageNet feature distance (needs ImageNet weights)


MODELS: dict[str, ModelRecipe] = {
    'daformer_mitb5': ModelRecipe(
        'daformer_mitb5', 'models/daformer_sepaspp_mitb5.py',
        'DAFormer (MiT-B5 + separable-ASPP head) with ImageNet weights, the published recipe: AdamW 6e-5 '
        '(head x10), warm-up 1500 then poly decay, batch 2, 40k iterations (DASPM: 60k); for a GPU',
        'pretrained/mit_b5.pth', crop=512, lr=6e-05, max_iters=40000, warmup_iters=1500, interval=2000,
        workers=4, alpha=0.999, fd_lambda=0.005),
    'daformer_mitb0': ModelRecipe(
        'daformer_mitb0', 'models/daformer_sepaspp_mitb0.py',
        'DAFormer head (128 channels) on a MiT-B0-sized encoder trained from scratch (no download, any band '
        'count), CPU-sized: AdamW 6e-4 (10x the recipe: no ImageNet weights), warm-up 100, batch 2, 2000 '
        'iterations', None, crop=256, lr=6e-04, max_iters=2000, warmup_iters=100, interval=500, workers=2,
        alpha=0.99, fd_lambda=0.0),
}


@dataclass(frozen=True)
class DomainSpec:
    """How one domain's converted images are read in the configs."""

    bands: tuple[int, ...]          # 1-based bands the model reads
    num_bands: int                  # bands every converted image has
    scale: float                    # raw value that maps to 1.0
    scale_note: str
    nominal_gsd: float              # metres, for images without a (projected) georeference
    resize: tuple[int, int]         # (w, h) the training resize aims at (median size on the output grid)

    @property
    def clamps(self) -> bool:
        """Values stay within [0, 1] at test time (8-bit divided by 255): colour jitter may clip."""
        return self.scale == 255.0


@dataclass(frozen=True)
class ConfigSpec:
    """Everything the configs need to know about a conversion."""

    recipe: ModelRecipe
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    source: DomainSpec
    target: DomainSpec | None
    out_gsd: float
    gsd_note: str
    crop: int
    max_iters: int
    val_split: str
    test_split: str
    test_mode: str                  # 'whole' or 'slide'
    min_pixels: int
    min_pixels_note: str
    origin: Sequence[str]           # header lines naming the inputs


def config_base_dir(out_dir: str | os.PathLike) -> str:
    """How the configs in ``out_dir`` name configs/_base_: relative inside the repository, else absolute.

    Relative keeps a converted folder under data/ valid when the whole checkout moves; an output
    elsewhere gets the absolute path of this checkout, computed now.
    """
    if not (CONFIG_BASE / 'default_runtime.py').is_file():
        raise DaspmInputError(
            f'{CONFIG_BASE}: not found; the generated configs build on the repository\'s configs/_base_, '
            'so run the converter from a DASPM checkout installed with `make setup` (pip install -e .)')
    out = Path(out_dir).resolve()
    if REPO_ROOT == out or REPO_ROOT in out.parents:
        return Path(os.path.relpath(CONFIG_BASE, out)).as_posix()
    return CONFIG_BASE.as_posix()


def rcs_min_pixels(crop: int, largest_per_class: dict[int, int]) -> tuple[int, str]:
    """``min_pixels`` for rare class sampling and the rule, as a comment for the config.

    DAFormer's 3000 pixels per 512 x 512 crop, scaled to the crop area; capped at half the
    largest count of the rarest class in one training image, because a class whose files all
    stay below ``min_pixels`` cannot be sampled (and RCS refuses to start).
    """
    scaled = max(1, round(RCS_REFERENCE_PIXELS * crop * crop / RCS_REFERENCE_CROP ** 2))
    rule = (f'DAFormer\'s {RCS_REFERENCE_PIXELS} px per {RCS_REFERENCE_CROP}x{RCS_REFERENCE_CROP} crop scaled '
            f'to the {crop}x{crop} crop = {scaled}')
    if largest_per_class:
        cap = max(1, min(largest_per_class.values()) // 2)
        if cap < scaled:
            return cap, (rule + f', capped at {cap}: half the largest count of the rarest class in one '
                                f'training image ({min(largest_per_class.values())} px), so that every class '
                                'has an image to sample')
    return scaled, rule


def _py(value: object) -> str:
    return repr(value)


def _comment(text: str) -> list[str]:
    """``text`` as comment lines of at most 100 characters."""
    return ['# ' + line for line in textwrap.wrap(text, 98)]


def _load(domain: DomainSpec) -> str:
    return (f"dict(type='LoadGeoTiff', bands={_py(list(domain.bands))}, scale={domain.scale!r}, "
            f"nominal_gsd={domain.nominal_gsd!r}, num_bands={domain.num_bands})")


def _train_pipeline(load: str, resize: tuple[int, int], labelled: bool) -> str:
    steps = [load]
    if labelled:
        steps.append("dict(type='LoadGeoTiffAnnotations')")
    steps.append("dict(type='SubPixelResample', out_gsd=output_gsd)")
    if not labelled:
        # an unlabelled target's nodata pixels reach DACS as a mask (pseudo-weight 0 there)
        steps.append("dict(type='TrackImageNodata')")
    steps.append(f"dict(type='RandomResize', scale={_py(resize)}, ratio_range=(0.5, 2.0), keep_ratio=True)")
    steps.append("dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75)" if labelled
                 else "dict(type='RandomCrop', crop_size=crop_size)")
    steps.append("dict(type='RandomFlip', prob=0.5)")
    steps.append("dict(type='PackSegInputs', meta_keys=meta_keys)" if labelled
                 else "dict(type='PackSegInputsWithNodata', meta_keys=meta_keys)")
    return '[\n' + ''.join(f'    {s},\n' for s in steps) + ']'


def _header(spec: ConfigSpec, what: str, run: str) -> list[str]:
    lines = [f'# {what}', '# Written by tools/convert_datasets/custom.py from']
    lines += [f'#   {line}' for line in spec.origin]
    lines += ['# and written again by every conversion into this folder: copy it before editing.',
              f'#   python run_experiments.py --config {run}      (from the repository root)',
              *_comment(f'Network: {spec.recipe.description}.')]
    if spec.recipe.pretrained:
        lines.append(f'# It needs {spec.recipe.pretrained} (`sh tools/download_checkpoints.sh`).')
    return lines


def _bases(spec: ConfigSpec, base_dir: str, uda: bool) -> str:
    names = ['default_runtime.py', spec.recipe.base]
    if uda:
        names.append('uda/dacs_a999.py')
    names += ['schedules/adamw.py', 'schedules/schedule_60k.py']
    return '_base_ = [\n' + ''.join(f"    '{base_dir}/{n}',\n" for n in names) + ']'


def _data_section(spec: ConfigSpec) -> list[str]:
    src = spec.source
    lines = [
        '# The converted data lie beside this file: mmengine replaces {{ fileDirname }} with its folder.',
        "data_root = '{{ fileDirname }}'",
        f'classes = {_py(tuple(spec.classes))}',
        f'palette = {_py([list(c) for c in spec.palette])}',
        'metainfo = dict(classes=classes, palette=palette)',
        f'num_classes = {len(spec.classes)}',
        *_comment(spec.gsd_note),
        f'output_gsd = {spec.out_gsd!r}',
        f'crop_size = ({spec.crop}, {spec.crop})',
        'meta_keys = (\n' + ''.join(f'    {k!r},\n' for k in META_KEYS) + ')',
        *_comment(src.scale_note),
        f'load_image = {_load(src)}',
        '# Training resizes towards the median image size on the output grid (ratio 0.5-2.0), then crops.',
        f'train_pipeline = {_train_pipeline("load_image", src.resize, labelled=True)}',
        'test_pipeline = [\n    load_image,\n    dict(type=\'SubPixelResample\', out_gsd=output_gsd),\n'
        '    dict(type=\'LoadGeoTiffAnnotations\'),\n    dict(type=\'PackSegInputs\', meta_keys=meta_keys),\n]',
    ]
    return lines


def _eval_loaders(spec: ConfigSpec) -> list[str]:
    lines = []
    for loader, split in (('val', spec.val_split), ('test', spec.test_split)):
        lines.append(
            f'{loader}_dataloader = dict(\n'
            '    batch_size=1, num_workers=1, persistent_workers=True,\n'
            "    sampler=dict(type='DefaultSampler', shuffle=False),\n"
            f"    dataset=dict(type='CustomGeoTiffDataset', data_root=data_root, ann_file='{split}.txt',\n"
            '                 metainfo=metainfo, pipeline=test_pipeline))')
    lines += ["val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])",
              'test_evaluator = val_evaluator']
    return lines


def _test_cfg(spec: ConfigSpec) -> str:
    if spec.test_mode == 'whole':
        return "dict(mode='whole')"
    stride = max(1, spec.crop * 2 // 3)
    return f"dict(mode='slide', crop_size=crop_size, stride=({stride}, {stride}))"


def _schedule(spec: ConfigSpec) -> list[str]:
    recipe = spec.recipe
    warmup = min(recipe.warmup_iters, max(1, spec.max_iters // 10))
    interval = min(recipe.interval, max(1, spec.max_iters // 4))
    return [
        f'max_iters = {spec.max_iters}',
        f'warmup_iters = {warmup}',
        f'optim_wrapper = dict(optimizer=dict(lr={recipe.lr!r}))',
        'param_scheduler = [',
        "    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),",
        "    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),",
        ']',
        f'train_cfg = dict(max_iters=max_iters, val_interval={interval})',
        f'default_hooks = dict(checkpoint=dict(interval={interval}))',
        'randomness = dict(seed=0)',
    ]


def _preprocessor(domain: DomainSpec) -> str:
    n = len(domain.bands)
    # LoadGeoTiff already scales to ~[0, 1]; the preprocessor only pads (one mean/std per band).
    return f"dict(mean={_py([0.0] * n)}, std={_py([1.0] * n)}, size=crop_size)"


def render_source_only(spec: ConfigSpec, base_dir: str, config_path: str) -> str:
    """Text of ``source_only.py``: train on the labelled images, evaluate on their val/test split."""
    lines = _header(spec, 'Source-only training on a custom dataset (labelled images only).', config_path)
    lines += [_bases(spec, base_dir, uda=False), *_data_section(spec)]
    lines.append(
        'train_dataloader = dict(\n'
        f'    batch_size=2, num_workers={spec.recipe.workers}, persistent_workers=True,\n'
        "    sampler=dict(type='InfiniteSampler', shuffle=True),\n"
        "    dataset=dict(type='CustomGeoTiffDataset', data_root=data_root, ann_file='train.txt',\n"
        '                 metainfo=metainfo, pipeline=train_pipeline))')
    lines += _eval_loaders(spec)
    lines.append(
        'model = dict(\n'
        f'    data_preprocessor={_preprocessor(spec.source)},\n'
        f'    backbone=dict(in_channels={len(spec.source.bands)}),\n'
        '    decode_head=dict(num_classes=num_classes),\n'
        f'    test_cfg={_test_cfg(spec)})')
    lines += _schedule(spec)
    return '\n'.join(lines) + '\n'


def render_uda(spec: ConfigSpec, base_dir: str, config_path: str) -> str:
    """Text of ``uda.py``: DACS from the labelled images to the unlabelled target images."""
    target = spec.target
    if target is None:
        raise ValueError('render_uda needs a target domain')
    lines = _header(spec, 'Domain adaptation (DACS with rare class sampling) from the labelled images to '
                          'the unlabelled target images.', config_path)
    lines += [_bases(spec, base_dir, uda=True), *_data_section(spec)]
    lines += [
        f"target_root = '{{{{ fileDirname }}}}/{TARGET_DIR}'",
        *_comment(target.scale_note),
        f'load_target = {_load(target)}',
        f'target_train_pipeline = {_train_pipeline("load_target", target.resize, labelled=False)}',
        *_comment(f'Rare class sampling: min_pixels = {spec.min_pixels_note}.'),
        'train_dataloader = dict(\n'
        f'    batch_size=2, num_workers={spec.recipe.workers}, persistent_workers=True,\n'
        "    sampler=dict(type='InfiniteSampler', shuffle=True),\n"
        '    dataset=dict(\n'
        "        type='UDADataset',\n"
        "        source=dict(type='CustomGeoTiffDataset', data_root=data_root, ann_file='train.txt',\n"
        '                    metainfo=metainfo, pipeline=train_pipeline),\n'
        '        # target labels are never read: the target folder holds images only\n'
        "        target=dict(type='CustomGeoTiffDataset', data_root=target_root, ann_file='train.txt',\n"
        "                    metainfo=metainfo, data_prefix=dict(img_path='img_dir'),\n"
        '                    pipeline=target_train_pipeline),\n'
        f'        rare_class_sampling=dict(min_pixels={spec.min_pixels}, class_temp=0.01, min_crop_ratio=0.5)))',
        '# The target has no labels here, so validation and test use the labelled val/test split; to score',
        '# the target, convert labelled target images with the same classes.json and point',
        '# val_dataloader/test_dataloader.dataset.data_root at that folder.',
    ]
    lines += _eval_loaders(spec)
    interval = min(spec.recipe.interval, max(1, spec.max_iters // 4))
    fd = spec.recipe.fd_lambda
    lines += [
        f"custom_hooks = [dict(type='DebugImageHook', interval={interval})]",
        '# The run\'s model is the UDA segmentor: DACS (options of the uda base) around the network of the',
        '# model base, adapted to the bands and classes of this dataset.',
        f'_base_.model.data_preprocessor.mean = {_py([0.0] * len(spec.source.bands))}',
        f'_base_.model.data_preprocessor.std = {_py([1.0] * len(spec.source.bands))}',
        '_base_.model.data_preprocessor.size = crop_size',
        f'_base_.model.backbone.in_channels = {len(spec.source.bands)}',
        '_base_.model.decode_head.num_classes = num_classes',
        f'_base_.model.test_cfg = {_test_cfg(spec)}',
    ]
    if fd:
        lines.append('# ImageNet feature distance on every class (which classes are "things" is not known here).')
    else:
        lines.append('# No ImageNet feature distance: the encoder starts without ImageNet weights.')
    clamp = spec.source.clamps and target.clamps
    if not clamp:
        lines.append('# clamp_jitter False: the inputs are not 8-bit / 255, so test time does not clip them to [0, 1].')
    lines.append(
        'model = dict(\n'
        "    _base_.pop('uda'),\n"
        '    _delete_=True,\n'
        '    model=_base_.model,\n'
        '    data_preprocessor=_base_.model.data_preprocessor,\n'
        f'    alpha={spec.recipe.alpha!r},\n'
        f'    imnet_feature_dist_lambda={fd!r},\n'
        '    imnet_feature_dist_classes=None,\n'
        f'    clamp_jitter={clamp!r},\n'
        ')')
    lines += _schedule(spec)
    return '\n'.join(lines) + '\n'


__all__ = ['MODELS', 'ModelRecipe', 'DomainSpec', 'ConfigSpec', 'SOURCE_ONLY_CONFIG', 'UDA_CONFIG', 'TARGET_DIR',
           'WHOLE_INFERENCE_MAX_SIDE', 'config_base_dir', 'rcs_min_pixels', 'render_source_only', 'render_uda']
