"""LoveDA (0.3 m RGB, Urban + Rural) in its seven classes: the source of the LoveDA -> UTCD / WHDLD experiments.

The reference adapts LoveDA (source) to UTCD and to WHDLD (targets), all in LoveDA's classes
(``daspm.classes.LOVEDA_CLASSES``: background, building, road, water, barren, forest,
agricultural). Raw layout (input, never modified)::

    <raw>/{Train,Val}/{Urban,Rural}/images_png/<id>.png   RGB, 1024 x 1024
    <raw>/{Train,Val}/{Urban,Rural}/masks_png/<id>.png    0 = no data, 1..7 = the classes
    (Test/ has no masks and is skipped)

The conversion writes the split files train, val, train_urban, ..., urban, rural (``image_folders``
describes the output).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from daspm.classes import IGNORE_INDEX, LOVEDA_CLASSES, LOVEDA_PALETTE
from daspm.utils.errors import DaspmInputError

from .base import Pair, RawInput, check_input_dir
from .image_folders import FolderFormat, pair_folder

#: LoveDA masks: 0 = no data, 1..7 = background, building, road, water, barren, forest, agricultural.
LOVEDA_CODES: Mapping[int, int] = MappingProxyType({0: IGNORE_INDEX, **{c: c - 1 for c in range(1, 8)}})
LOVEDA_CODE_NAMES = {0: 'no data', **{i + 1: n for i, n in enumerate(LOVEDA_CLASSES)}}
UDA_CONFIG = 'configs/daspm/{}_uda_warm_fdthings_rcs_croppl_a999_{}.py'

LOVEDA_HELP = ('expected the official LoveDA layout <raw>/{Train,Val}/{Urban,Rural}/{images_png,masks_png}/ '
               '(unzip Train.zip and Val.zip into <raw>); see docs/datasets.md')


def find_loveda(raw: Path) -> RawInput:
    """Pairs of the official LoveDA layout, grouped into split lists (train, val, *_urban, *_rural, urban, rural)."""
    check_input_dir(raw, LOVEDA_HELP)
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
            for name, image, label in pair_folder(img_dir, lab_dir, LOVEDA_HELP):
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


LOVEDA = FolderFormat(
    'loveda', 'LoveDA (0.3 m RGB, Urban + Rural) in its seven classes: the source domain', LOVEDA_HELP,
    find_loveda, {'loveda': LOVEDA_CODES}, {'loveda': LOVEDA_CODE_NAMES}, complete_splits=False,
    configs=(UDA_CONFIG.format('loveda2utcd', '*'), UDA_CONFIG.format('loveda2whdld', '*')),
    classes=LOVEDA_CLASSES, palette=LOVEDA_PALETTE, dataset_type='LoveDAConvertedDataset')

__all__ = ['LOVEDA', 'LOVEDA_CODES', 'LOVEDA_CODE_NAMES', 'UDA_CONFIG', 'find_loveda']
