"""The training configs written beside a converted custom dataset: ``source_only.py`` and ``uda.py``.

Each is a complete mmseg 1.x config (a config alone defines the run) built on the repository's
``configs/_base_`` files: the runtime, the network and the optimiser come from there, the data
and the class table from the conversion. ``python run_experiments.py --config OUT/source_only.py``
trains it. The data roots are written as ``{{ fileDirname }}``, which mmengine replaces by the
folder of the config, so the converted folder can be moved as a whole.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from daspm.utils.errors import DaspmInputError

from .config_file import Entry, Ref, comment_lines, config_text

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
    uda_base: str             # the UDA segmentor (DACS) around that network
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
        'daformer_mitb5', 'models/daformer_sepaspp_mitb5.py', 'models/uda_daformer_sepaspp_mitb5.py',
        'DAFormer (MiT-B5 + separable-ASPP head) with ImageNet weights, the published recipe: AdamW 6e-5 '
        '(head x10), warm-up 1500 then poly decay, batch 2, 40k iterations (DASPM: 60k); for a GPU',
        'pretrained/mit_b5.pth', crop=512, lr=6e-05, max_iters=40000, warmup_iters=1500, interval=2000,
        workers=4, alpha=0.999, fd_lambda=0.005),
    'daformer_mitb0': ModelRecipe(
        'daformer_mitb0', 'models/daformer_sepaspp_mitb0.py', 'models/uda_daformer_sepaspp_mitb0.py',
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


def _load(domain: DomainSpec) -> dict:
    return dict(type='LoadGeoTiff', bands=list(domain.bands), scale=domain.scale, nominal_gsd=domain.nominal_gsd,
                num_bands=domain.num_bands)


def _train_pipeline(load: str, resize: tuple[int, int], labelled: bool) -> list:
    """Load, (labels,) onto the output grid, (the unlabelled target's nodata mask,) random resize and
    crop, flip, pack."""
    crop = dict(type='RandomCrop', crop_size=Ref('crop_size'), cat_max_ratio=0.75) if labelled else \
        dict(type='RandomCrop', crop_size=Ref('crop_size'))
    # an unlabelled target's nodata pixels reach DACS as a mask (pseudo-weight 0 there)
    nodata = [] if labelled else [dict(type='TrackImageNodata')]
    pack = dict(type='PackSegInputs' if labelled else 'PackSegInputsWithNodata', meta_keys=Ref('meta_keys'))
    return [Ref(load), *([dict(type='LoadGeoTiffAnnotations')] if labelled else []),
            dict(type='SubPixelResample', out_gsd=Ref('output_gsd')), *nodata,
            dict(type='RandomResize', scale=resize, ratio_range=(0.5, 2.0), keep_ratio=True),
            crop, dict(type='RandomFlip', prob=0.5), pack]


def _header(spec: ConfigSpec, what: str, run: str) -> list[str]:
    lines = [f'# {what}', '# Written by tools/convert_datasets/custom.py from']
    lines += [f'#   {line}' for line in spec.origin]
    lines += ['# and written again by every conversion into this folder: copy it before editing.',
              f'#   python run_experiments.py --config {run}      (from the repository root)',
              *comment_lines(f'Network: {spec.recipe.description}.')]
    if spec.recipe.pretrained:
        lines.append(f'# It needs {spec.recipe.pretrained} (`sh tools/download_checkpoints.sh`).')
    return lines


def _bases(spec: ConfigSpec, base_dir: str, uda: bool) -> list[str]:
    network = spec.recipe.uda_base if uda else spec.recipe.base
    return [f'{base_dir}/{name}' for name in ('default_runtime.py', network, 'schedules/adamw.py',
                                              'schedules/schedule_60k.py')]


def _loader(dataset: dict, workers: int, train: bool) -> dict:
    if train:
        return dict(batch_size=2, num_workers=workers, persistent_workers=True,
                    sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dataset)
    return dict(batch_size=1, num_workers=1, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)


def _dataset(split: str, pipeline: str, root: str = 'data_root', **extra) -> dict:
    return dict(type='CustomGeoTiffDataset', data_root=Ref(root), ann_file=f'{split}.txt', metainfo=Ref('metainfo'),
                **extra, pipeline=Ref(pipeline))


def _data_entries(spec: ConfigSpec) -> list[Entry]:
    src = spec.source
    test_pipeline = [Ref('load_image'), dict(type='SubPixelResample', out_gsd=Ref('output_gsd')),
                     dict(type='LoadGeoTiffAnnotations'), dict(type='PackSegInputs', meta_keys=Ref('meta_keys'))]
    return [
        Entry('data_root', '{{ fileDirname }}',
              'The converted data lie beside this file: mmengine replaces {{ fileDirname }} with its folder.'),
        Entry('classes', tuple(spec.classes)),
        Entry('palette', [list(c) for c in spec.palette]),
        Entry('metainfo', dict(classes=Ref('classes'), palette=Ref('palette'))),
        Entry('num_classes', len(spec.classes)),
        Entry('output_gsd', spec.out_gsd, spec.gsd_note),
        Entry('crop_size', (spec.crop, spec.crop)),
        Entry('meta_keys', META_KEYS),
        Entry('load_image', _load(src), src.scale_note),
        Entry('train_pipeline', _train_pipeline('load_image', src.resize, labelled=True),
              'Training resizes towards the median image size on the output grid (ratio 0.5-2.0), then crops.'),
        Entry('test_pipeline', test_pipeline),
    ]


def _eval_entries(spec: ConfigSpec) -> list[Entry]:
    return [Entry('val_dataloader', _loader(_dataset(spec.val_split, 'test_pipeline'), 1, train=False)),
            Entry('test_dataloader', _loader(_dataset(spec.test_split, 'test_pipeline'), 1, train=False)),
            Entry('val_evaluator', dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])),
            Entry('test_evaluator', Ref('val_evaluator'))]


def _test_cfg(spec: ConfigSpec) -> dict:
    if spec.test_mode == 'whole':
        return dict(mode='whole')
    stride = max(1, spec.crop * 2 // 3)
    return dict(mode='slide', crop_size=Ref('crop_size'), stride=(stride, stride))


def _interval(spec: ConfigSpec) -> int:
    return min(spec.recipe.interval, max(1, spec.max_iters // 4))


def _schedule_entries(spec: ConfigSpec) -> list[Entry]:
    warmup = min(spec.recipe.warmup_iters, max(1, spec.max_iters // 10))
    return [
        Entry('max_iters', spec.max_iters),
        Entry('warmup_iters', warmup),
        Entry('optim_wrapper', dict(optimizer=dict(lr=spec.recipe.lr))),
        Entry('param_scheduler', [
            dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=Ref('warmup_iters')),
            dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=Ref('warmup_iters'),
                 end=Ref('max_iters'))]),
        Entry('train_cfg', dict(max_iters=Ref('max_iters'), val_interval=_interval(spec))),
        Entry('default_hooks', dict(checkpoint=dict(interval=_interval(spec)))),
        Entry('randomness', dict(seed=0)),
    ]


def _network(spec: ConfigSpec) -> dict:
    """The network values of this dataset: bands in, classes out, padding to the crop, test mode."""
    n = len(spec.source.bands)
    # LoadGeoTiff already scales to ~[0, 1]; the preprocessor only pads (one mean/std per band).
    return dict(data_preprocessor=dict(mean=[0.0] * n, std=[1.0] * n, size=Ref('crop_size')),
                backbone=dict(in_channels=n), decode_head=dict(num_classes=Ref('num_classes')),
                test_cfg=_test_cfg(spec))


def render_source_only(spec: ConfigSpec, base_dir: str, config_path: str) -> str:
    """Text of ``source_only.py``: train on the labelled images, evaluate on their val/test split."""
    header = _header(spec, 'Source-only training on a custom dataset (labelled images only).', config_path)
    train = _loader(_dataset('train', 'train_pipeline'), spec.recipe.workers, train=True)
    entries = [*_data_entries(spec), Entry('train_dataloader', train), *_eval_entries(spec),
               Entry('model', _network(spec)), *_schedule_entries(spec)]
    return config_text(header, _bases(spec, base_dir, uda=False), entries)


def render_uda(spec: ConfigSpec, base_dir: str, config_path: str) -> str:
    """Text of ``uda.py``: DACS from the labelled images to the unlabelled target images."""
    target = spec.target
    if target is None:
        raise ValueError('render_uda needs a target domain')
    header = _header(spec, 'Domain adaptation (DACS with rare class sampling) from the labelled images to '
                           'the unlabelled target images.', config_path)
    train = _loader(dict(
        type='UDADataset', source=_dataset('train', 'train_pipeline'),
        target=_dataset('train', 'target_train_pipeline', root='target_root', data_prefix=dict(img_path='img_dir')),
        rare_class_sampling=dict(min_pixels=spec.min_pixels, class_temp=0.01, min_crop_ratio=0.5)),
        spec.recipe.workers, train=True)
    network = _network(spec)
    fd = spec.recipe.fd_lambda
    clamp = spec.source.clamps and target.clamps
    notes = ['ImageNet feature distance on every class (which classes are "things" is not known here).' if fd
             else 'No ImageNet feature distance: the encoder starts without ImageNet weights.']
    if not clamp:
        notes.append('clamp_jitter False: the inputs are not 8-bit / 255, so test time does not clip them to [0, 1].')
    entries = [
        *_data_entries(spec),
        Entry('target_root', f'{{{{ fileDirname }}}}/{TARGET_DIR}'),
        Entry('load_target', _load(target), target.scale_note),
        Entry('target_train_pipeline', _train_pipeline('load_target', target.resize, labelled=False)),
        Entry('train_dataloader', train,
              f'Rare class sampling: min_pixels = {spec.min_pixels_note}. Target labels are never read: the '
              'target folder holds images only.'),
        *_eval_entries(spec),
        Entry('custom_hooks', [dict(type='DebugImageHook', interval=_interval(spec))],
              'The target has no labels here, so validation and test use the labelled val/test split; to score '
              'the target, convert labelled target images with the same classes.json and point '
              'val_dataloader/test_dataloader.dataset.data_root at that folder.'),
        Entry('model', dict(alpha=spec.recipe.alpha, imnet_feature_dist_lambda=fd, imnet_feature_dist_classes=None,
                            clamp_jitter=clamp, data_preprocessor=network['data_preprocessor'], model=network),
              'The model base is the UDA segmentor (DACS) around the network; these are the values that differ, '
              'the network\'s under model.model. ' + ' '.join(notes)),
        *_schedule_entries(spec),
    ]
    return config_text(header, _bases(spec, base_dir, uda=True), entries)


__all__ = ['MODELS', 'ModelRecipe', 'DomainSpec', 'ConfigSpec', 'SOURCE_ONLY_CONFIG', 'UDA_CONFIG', 'TARGET_DIR',
           'WHOLE_INFERENCE_MAX_SIDE', 'config_base_dir', 'rcs_min_pixels', 'render_source_only', 'render_uda']
