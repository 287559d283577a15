"""Global23k: the reference's third conversion (``global23k.py PATH --nproc 8``), raw 10-class codes in ``label_da/``.

Raw layout (input, never modified)::

    <raw>/label_da/<name>.png      1 band, 0 = no data, 1..10 = ten land-cover codes (the reference reads these)
    <raw>/image_da/<name>.png      8-bit RGB on the label grid (.png, .jpg or .tif); image/ or images/ also accepted
    <raw>/[splits/]{train,val,test}[_da].txt   optional; without them the datasets use every image

The reference's script only reads ``label_da/``: it maps 0 -> 255 and 1..10 -> 11..20 (ids no
model of the project has), writes the result into a hard-coded folder of its author and its
statistics into the input. Here the pairs are converted like every other format, beside the
input (``<raw>_converted``), into the five DASPM classes, read by ``GaofenDataset`` (set
``img_suffix`` to the manifest's ``image_suffix``).

ASSUMPTION: neither the reference nor this repository documents what the ten codes mean. The
default table ``assumed-glc10`` reads them in the order of the ten classes of the FROM-GLC10 global
land-cover map (a guess from the dataset's name and its ten classes) and maps them onto the DASPM
classes as below; ``--label-map CODE=ID`` corrects any entry (docs/datasets.md).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from daspm.classes import DASPM_CLASSES, DASPM_PALETTE, IGNORE_INDEX
from daspm.utils.errors import DaspmInputError

from .base import Pair, RawInput, check_input_dir
from .image_folders import FolderFormat, pair_folder, read_split_files

LABEL_DIR = 'label_da'
IMAGE_DIRS = ('image_da', 'image', 'images')
GLOBAL23K_HELP = ('expected <raw>/label_da/<name>.png (the reference\'s raw 10-class labels) and the images of the '
                  'same names in <raw>/image_da/, <raw>/image/ or <raw>/images/; see docs/datasets.md')

#: ASSUMED meaning of the ten raw codes (FROM-GLC10 class order) -> DASPM train id
#: (0 green area, 1 urban area, 2 roads, 3 impervious surface, 4 water, 255 ignore).
GLC10_CODE_NAMES: Mapping[int, str] = MappingProxyType({
    0: 'no data', 1: 'cropland', 2: 'forest', 3: 'grassland', 4: 'shrubland', 5: 'wetland', 6: 'water',
    7: 'tundra', 8: 'impervious', 9: 'bare land', 10: 'snow / ice'})
GLC10_CODES: Mapping[int, int] = MappingProxyType({
    0: IGNORE_INDEX, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 4, 7: IGNORE_INDEX, 8: 3, 9: IGNORE_INDEX,
    10: IGNORE_INDEX})


def find_global23k(raw: Path) -> RawInput:
    """Pairs of ``label_da/`` and the one image folder beside it, and the split files (if any)."""
    check_input_dir(raw, GLOBAL23K_HELP)
    lab_dir = raw / LABEL_DIR
    if not lab_dir.is_dir():
        raise DaspmInputError(f'{lab_dir}: directory not found; {GLOBAL23K_HELP}')
    found = [raw / d for d in IMAGE_DIRS if (raw / d).is_dir()]
    if not found:
        raise DaspmInputError(f'{raw / IMAGE_DIRS[0]}: directory not found; {GLOBAL23K_HELP}')
    if len(found) > 1:
        raise DaspmInputError(f'{raw}: holds several image folders ({", ".join(d.name + "/" for d in found)}); '
                              'keep one and move the others out of the input')
    pairs = [Pair(n, i, lab) for n, i, lab in pair_folder(found[0], lab_dir, GLOBAL23K_HELP)]
    splits, where = read_split_files(raw, {p.name for p in pairs})
    return RawInput(pairs, {'images': found[0].name, 'labels': LABEL_DIR, 'splits': where}, splits)


GLOBAL23K = FolderFormat(
    'global23k', 'Global23k (the reference\'s global23k.py): raw 10-class codes in label_da/ onto the five DASPM '
    'classes (the meaning of the codes is an assumption, see docs/datasets.md)', GLOBAL23K_HELP, find_global23k,
    {'assumed-glc10': GLC10_CODES}, {'assumed-glc10': GLC10_CODE_NAMES}, complete_splits=False,
    configs=('configs/daspm/gaofen2sentinel_*.py (source: GaofenDataset, img_suffix = the image suffix above)',),
    classes=DASPM_CLASSES, palette=DASPM_PALETTE, dataset_type='GaofenDataset', reader='the DASPM configs')
GLOBAL23K.out_flags = ('-o', '--out', '--out-dir')  # --out-dir: the reference script's spelling

__all__ = ['GLOBAL23K', 'GLC10_CODES', 'GLC10_CODE_NAMES', 'GLOBAL23K_HELP', 'find_global23k']
