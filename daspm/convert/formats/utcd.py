"""UTCD in the LoveDA classes: a target domain (the reference trains on its ``label_spm/`` as it is).

Raw layout (input, never modified), one of::

    <raw>/image_spm/ + <raw>/label_spm/ (the reference's folders), <raw>/image/ + <raw>/label/,
    <raw>/images/ + <raw>/labels/: one <name>.<png|jpg|tif> image and <name>.<png|tif> label each
    <raw>/[splits/]{train,val,test}.txt   optional; missing splits are completed

Labels hold LoveDA train ids (``train-ids``, the default) or LoveDA mask codes (``loveda-codes``).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from daspm.classes import IGNORE_INDEX, LOVEDA_CLASSES, LOVEDA_PALETTE
from daspm.utils.errors import DaspmInputError

from .base import Pair, RawInput, check_input_dir
from .image_folders import FolderFormat, pair_folder, read_split_files
from .loveda import LOVEDA_CODE_NAMES, LOVEDA_CODES, UDA_CONFIG

#: Labels already in LoveDA train ids (what the reference's UTCD dataset trains on: label_spm/).
TRAIN_ID_CODES: Mapping[int, int] = MappingProxyType({**{c: c for c in range(len(LOVEDA_CLASSES))},
                                                      IGNORE_INDEX: IGNORE_INDEX})
TRAIN_ID_NAMES = {**{i: n for i, n in enumerate(LOVEDA_CLASSES)}, IGNORE_INDEX: 'ignore'}
_UTCD_HINT = ('values above 6 look like raw 10-class UTCD codes, which the reference\'s '
              'tools/convert_datasets/global23k.py moved to 11..20 rather than to LoveDA train ids: '
              'give their LoveDA class with --label-map CODE=ID (e.g. --label-map 8=5,9=6,10=255)')

UTCD_LAYOUTS = (('image_spm', 'label_spm'), ('image', 'label'), ('images', 'labels'))
UTCD_HELP = ('expected <raw>/image_spm/ + <raw>/label_spm/ (the reference\'s folders), <raw>/image/ + <raw>/label/ '
             'or <raw>/images/ + <raw>/labels/, each holding <name>.png|jpg|tif; see docs/datasets.md')


def find_utcd(raw: Path) -> RawInput:
    """Pairs of a UTCD folder (any of the accepted spellings) and its split files (if any)."""
    check_input_dir(raw, UTCD_HELP)
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
    pairs = [Pair(n, i, lab) for n, i, lab in pair_folder(img_dir, lab_dir, UTCD_HELP)]
    splits, where = read_split_files(raw, {p.name for p in pairs})
    return RawInput(pairs, {'images': img_dir.name, 'labels': lab_dir.name, 'splits': where}, splits)


UTCD = FolderFormat(
    'utcd', 'UTCD in the LoveDA classes: a target domain', UTCD_HELP, find_utcd,
    {'train-ids': TRAIN_ID_CODES, 'loveda-codes': LOVEDA_CODES},
    {'train-ids': TRAIN_ID_NAMES, 'loveda-codes': LOVEDA_CODE_NAMES}, complete_splits=True,
    configs=(UDA_CONFIG.format('loveda2utcd', '*'),), classes=LOVEDA_CLASSES, palette=LOVEDA_PALETTE,
    dataset_type='UTCDataset',
    unknown_hint=_UTCD_HINT)

__all__ = ['UTCD', 'TRAIN_ID_CODES', 'TRAIN_ID_NAMES', 'find_utcd']
