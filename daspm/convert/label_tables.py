"""Raw label encodings of the Gaofen / Sentinel datasets and their mapping to train ids.

Two encodings are accepted for a raw label file:

* **codes** (1 band, integer): mapped by a code table, shared by ``gaofen2m`` and ``sentinel10m``.
* **colours** (3 bands, uint8): the DASPM palette of :mod:`daspm.classes`, black = unlabelled.

The raw codes are 0..5, and the reference project is ambiguous about them: its converter keeps
the codes as they are and names 5 classes (green area first), while a list commented out beside
it names 6 with 'Others' first. Two tables are therefore offered (``--label-table``):

``others-first`` (default; follows the 6-name list):

===========  ==========================  ========  ==============
raw code     meaning                     train id  RGB colour
===========  ==========================  ========  ==============
0            unlabelled / Others         255       0,0,0
1            green area                  0         0,238,0
2            urban area (buildings)      1         205,20,20
3            roads                       2         255,255,0
4            impervious surface          3         196,196,0
5            water                       4         2,2,141
===========  ==========================  ========  ==============

``five-classes`` (follows the active 5-name list literally): codes 0..4 are green area, urban
area, roads, impervious surface, water (train ids 0..4); code 5 has no name there and becomes
ignore (255).

Any other value (or colour) is an error that names the file and the values, because a silent
mapping to "ignore" would hide a wrong label export from the training statistics.
"""
from __future__ import annotations

import os
from types import MappingProxyType
from typing import Mapping

import numpy as np

from daspm.classes import DASPM_PALETTE, IGNORE_INDEX
from daspm.utils.errors import DaspmInputError

DEFAULT_LABEL_TABLE = 'others-first'

#: table name -> (raw code -> train id); read-only, workers and the manifest share them.
LABEL_TABLES: Mapping[str, Mapping[int, int]] = MappingProxyType({
    # The reference's 6-name list: 0 = Others (unlabelled), 1..5 = the five classes.
    'others-first': MappingProxyType({0: IGNORE_INDEX, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4}),
    # The reference's active 5-name list read literally: codes kept as train ids; code 5 has
    # no name there, and a 5-class model cannot take train id 5, so it is ignored.
    'five-classes': MappingProxyType({0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: IGNORE_INDEX}),
})

#: table name -> (raw code -> human-readable meaning), for docs and --help.
LABEL_TABLE_CODE_NAMES: Mapping[str, Mapping[int, str]] = MappingProxyType({
    'others-first': MappingProxyType({
        0: 'unlabelled / Others', 1: 'green area', 2: 'urban area (buildings)', 3: 'roads',
        4: 'impervious surface', 5: 'water'}),
    'five-classes': MappingProxyType({
        0: 'green area', 1: 'urban area (buildings)', 2: 'roads', 3: 'impervious surface',
        4: 'water', 5: 'unnamed in the 5-name list'}),
})

#: raw code -> train id of the default table (kept for callers that predate the switch).
RAW_CODE_TO_TRAIN_ID: Mapping[int, int] = LABEL_TABLES[DEFAULT_LABEL_TABLE]

#: raw code -> human-readable meaning of the default table.
RAW_CODE_NAMES: Mapping[int, str] = LABEL_TABLE_CODE_NAMES[DEFAULT_LABEL_TABLE]

UNLABELLED_COLOUR: tuple[int, int, int] = (0, 0, 0)

#: (r, g, b) -> train id for RGB-coloured labels.
COLOUR_TO_TRAIN_ID: Mapping[tuple[int, int, int], int] = MappingProxyType({
    UNLABELLED_COLOUR: IGNORE_INDEX,
    **{tuple(int(v) for v in rgb): i for i, rgb in enumerate(DASPM_PALETTE)}})

# Listing every offending value would make an unreadable message for a float-like mess.
_MAX_LISTED = 20


def get_label_table(name: str) -> Mapping[int, int]:
    """The raw code -> train id table called ``name``; an unknown name raises DaspmInputError."""
    if name not in LABEL_TABLES:
        raise DaspmInputError(
            f'--label-table {name!r}: unknown label table; choose one of {", ".join(LABEL_TABLES)} '
            '(see docs/datasets.md)')
    return LABEL_TABLES[name]


def describe_label_table(table: str = DEFAULT_LABEL_TABLE) -> str:
    """The raw-code / colour table as plain text (for --help and error messages)."""
    codes = get_label_table(table)
    lines = ['raw code  meaning                      train id      RGB colour (3-band labels)']
    for code, train_id in codes.items():
        colour = (UNLABELLED_COLOUR if train_id == IGNORE_INDEX
                  else tuple(DASPM_PALETTE[train_id]))
        tid = f'{train_id} (ignore)' if train_id == IGNORE_INDEX else str(train_id)
        lines.append(f'{code:<9} {LABEL_TABLE_CODE_NAMES[table][code]:<28} {tid:<13} '
                     f'{",".join(str(c) for c in colour)}')
    lines.append('any other value or colour is an error.')
    return '\n'.join(lines)


def label_table_manifest(table: str = DEFAULT_LABEL_TABLE) -> dict[str, object]:
    """The tables in JSON-friendly form, recorded in ``daspm_dataset.json``."""
    return {
        'name': table,
        'codes': {str(k): v for k, v in get_label_table(table).items()},
        'colours': {','.join(str(c) for c in rgb): v for rgb, v in COLOUR_TO_TRAIN_ID.items()},
    }


def _fmt_values(values: np.ndarray | list) -> str:
    values = [v.item() if hasattr(v, 'item') else v for v in values]
    shown = ', '.join(str(v) for v in values[:_MAX_LISTED])
    more = f' (and {len(values) - _MAX_LISTED} more)' if len(values) > _MAX_LISTED else ''
    return shown + more


def codes_to_train_ids(codes: np.ndarray, path: str | os.PathLike,
                       nodata: float | None = None, table: str = DEFAULT_LABEL_TABLE) -> np.ndarray:
    """Map a (H, W) array of raw codes to uint8 train ids; unknown codes raise DaspmInputError.

    Pixels equal to the file's declared ``nodata`` value become ignore (255) even if that
    value is not in the table: the file itself says those pixels carry no label.
    """
    if not np.issubdtype(codes.dtype, np.integer):
        raise DaspmInputError(
            f'{path}: label data type is {codes.dtype}, expected integer codes (uint8); '
            're-export the label as an integer GeoTIFF')
    nodata_mask = None
    if nodata is not None and not np.isnan(nodata) and float(nodata).is_integer():
        nodata_mask = codes == int(nodata)
        if not nodata_mask.any():
            nodata_mask = None
    table_codes = get_label_table(table)
    if nodata_mask is not None:
        # The nodata pixels may hold any value; park them on a known code for the check and
        # the lookup, and set them to ignore afterwards (code 0 is a class in some tables).
        codes = np.where(nodata_mask, next(iter(table_codes)), codes).astype(codes.dtype)
    bad = _unknown_codes(codes, table_codes)
    if bad:
        raise DaspmInputError(
            f'{path}: label values {_fmt_values(bad)} are not in the raw code table {table!r} '
            f'(known codes: {", ".join(str(k) for k in table_codes)}); fix the label '
            'or extend LABEL_TABLES in daspm/convert/label_tables.py '
            '(see docs/datasets.md)')
    # Every code passed the check, so each indexes the LUT; uint8 codes index it without a copy.
    lut = np.full(max(256, max(table_codes) + 1), IGNORE_INDEX, dtype=np.uint8)
    for code, train_id in table_codes.items():
        lut[code] = train_id
    train_ids = lut[codes if codes.dtype == np.uint8 else codes.astype(np.intp)]
    if nodata_mask is not None:
        train_ids[nodata_mask] = IGNORE_INDEX
    return train_ids


def _unknown_codes(codes: np.ndarray, known: Mapping[int, int]) -> list[int]:
    """Sorted values of ``codes`` that the table does not know."""
    if codes.size == 0:
        return []
    if codes.dtype in (np.uint8, np.uint16):
        # bincount is linear time; np.unique would sort a possibly huge label.
        present = np.flatnonzero(np.bincount(codes.ravel(), minlength=1)).tolist()
    else:
        present = np.unique(codes).tolist()
    return [v for v in present if v not in known]


def colours_to_train_ids(rgb: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Map a (3, H, W) uint8 palette-coloured label to uint8 train ids; unknown colours raise."""
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise DaspmInputError(f'{path}: expected a 3-band RGB label, got shape {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise DaspmInputError(
            f'{path}: 3-band labels are read as RGB colours and must be uint8, got {rgb.dtype}; '
            're-export the coloured label as 8-bit RGB or write 1-band raw codes instead')
    # Pack colours into one integer so a single unique/inverse pass handles the whole image.
    packed = ((rgb[0].astype(np.uint32) << 16) | (rgb[1].astype(np.uint32) << 8)
              | rgb[2].astype(np.uint32))
    uniq, inverse = np.unique(packed.ravel(), return_inverse=True)
    colours = [((int(p) >> 16) & 255, (int(p) >> 8) & 255, int(p) & 255) for p in uniq]
    bad = [c for c in colours if c not in COLOUR_TO_TRAIN_ID]
    if bad:
        known = '; '.join(f'{",".join(map(str, c))} -> {t}' for c, t in COLOUR_TO_TRAIN_ID.items())
        raise DaspmInputError(
            f'{path}: label colours {_fmt_values(["(" + ",".join(map(str, c)) + ")" for c in bad])} '
            f'are not in the DASPM palette ({known}); fix the label colours or write 1-band raw '
            'codes instead (see docs/datasets.md)')
    mapped = np.array([COLOUR_TO_TRAIN_ID[c] for c in colours], dtype=np.uint8)
    return mapped[inverse].reshape(packed.shape)


def label_to_train_ids(data: np.ndarray, path: str | os.PathLike,
                       nodata: float | None = None,
                       table: str = DEFAULT_LABEL_TABLE) -> np.ndarray:
    """Dispatch on band count: 1 band = raw codes (through ``table``), 3 bands = palette colours."""
    if data.ndim == 2:
        data = data[None]
    if data.shape[0] == 1:
        return codes_to_train_ids(data[0], path, nodata, table)
    if data.shape[0] == 3:
        return colours_to_train_ids(data, path)
    raise DaspmInputError(
        f'{path}: label has {data.shape[0]} bands; expected 1 band of raw codes or 3 bands of '
        'palette colours (see docs/datasets.md)')


__all__ = ['DEFAULT_LABEL_TABLE', 'LABEL_TABLES', 'LABEL_TABLE_CODE_NAMES', 'RAW_CODE_TO_TRAIN_ID',
           'RAW_CODE_NAMES', 'COLOUR_TO_TRAIN_ID', 'UNLABELLED_COLOUR', 'get_label_table',
           'describe_label_table', 'label_table_manifest', 'codes_to_train_ids',
           'colours_to_train_ids', 'label_to_train_ids']
