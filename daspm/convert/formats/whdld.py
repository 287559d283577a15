"""WHDLD (2 m RGB, 256 x 256) mapped onto the LoveDA classes: a target domain.

Raw layout (input, never modified)::

    <raw>/Images/<name>.jpg        RGB, 256 x 256
    <raw>/ImagesPNG/<name>.png     1 building, 2 road, 3 pavement, 4 vegetation, 5 bare soil, 6 water
    <raw>/[splits/]{train,val,test}[_da].txt   optional (``_da``: the reference's names)

Missing splits are completed (``image_folders.complete_splits``).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from daspm.classes import LOVEDA_CLASSES, LOVEDA_PALETTE
from daspm.utils.errors import DaspmInputError

from .base import Pair, RawInput, check_input_dir
from .image_folders import FolderFormat, pair_folder, read_split_files
from .loveda import UDA_CONFIG

#: WHDLD onto LoveDA (the reference's whdld.py): building, road kept; pavement -> background;
#: vegetation -> forest; bare soil -> barren; water -> water.
WHDLD_CODES: Mapping[int, int] = MappingProxyType({1: 1, 2: 2, 3: 0, 4: 5, 5: 4, 6: 3})
WHDLD_CODE_NAMES = {1: 'building', 2: 'road', 3: 'pavement', 4: 'vegetation', 5: 'bare soil', 6: 'water'}

WHDLD_HELP = 'expected the WHDLD layout <raw>/Images/<name>.jpg + <raw>/ImagesPNG/<name>.png; see docs/datasets.md'


def find_whdld(raw: Path) -> RawInput:
    """Pairs of the WHDLD layout and the split files it brings (if any)."""
    check_input_dir(raw, WHDLD_HELP)
    img_dir, lab_dir = raw / 'Images', raw / 'ImagesPNG'
    missing = [str(d) for d in (img_dir, lab_dir) if not d.is_dir()]
    if missing:
        raise DaspmInputError(f'{" and ".join(missing)}: directory not found; {WHDLD_HELP}')
    pairs = [Pair(n, i, lab) for n, i, lab in pair_folder(img_dir, lab_dir, WHDLD_HELP)]
    splits, where = read_split_files(raw, {p.name for p in pairs})
    return RawInput(pairs, {'images': 'Images', 'labels': 'ImagesPNG', 'splits': where}, splits)


WHDLD = FolderFormat(
    'whdld', 'WHDLD (2 m RGB, 256 x 256) mapped onto the LoveDA classes: a target domain', WHDLD_HELP,
    find_whdld, {'whdld-to-loveda': WHDLD_CODES}, {'whdld-to-loveda': WHDLD_CODE_NAMES}, complete_splits=True,
    configs=(UDA_CONFIG.format('loveda2whdld', '*'),), classes=LOVEDA_CLASSES, palette=LOVEDA_PALETTE,
    dataset_type='WHDLDataset')

__all__ = ['WHDLD', 'WHDLD_CODES', 'WHDLD_CODE_NAMES', 'find_whdld']
