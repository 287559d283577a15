"""The class table of a custom dataset (``classes.json``) and the mapping of mask values to train ids.

``classes.json`` names the classes in train-id order and the mask value(s) of each, either
colours or integer ids (not both), plus values to ignore::

    {"classes": {"building": "#3C1098", "road": "#6EC1E4"}, "ignore": ["#9B9B9B"]}
    {"classes": {"building": 1, "road": [2, 3]}, "ignore": [0, 255],
     "palette": {"building": "#FF0000"}}

A class may list several values. The palette comes from the colours of a colour table; for id
masks it is generated (the same colours for the same class count every time) unless
``"palette"`` gives some. Colours are packed as ``r << 16 | g << 8 | b`` so that both kinds of
mask map through one lookup.
"""
from __future__ import annotations

import colorsys
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from daspm.classes import IGNORE_INDEX
from daspm.utils.errors import DaspmInputError

ID = 'id'
COLOUR = 'colour'
# Train ids are uint8 with 255 = ignore: at most 255 classes.
MAX_CLASSES = IGNORE_INDEX
# Stands for pixels that are not valid (mask values are never negative).
_INVALID = -1
_EXAMPLE = ('e.g. {"classes": {"building": "#3C1098", "road": "#6EC1E4"}, "ignore": ["#9B9B9B"]} '
            'or {"classes": {"building": 1, "road": 2}, "ignore": [0]}')


@dataclass(frozen=True)
class ClassTable:
    """Class names in train-id order, the mask values of each, ignored values and the palette."""

    path: str
    kind: str                                  # ID or COLOUR
    names: tuple[str, ...]
    values: tuple[tuple[int, ...], ...]        # per class: ids, or packed colours
    ignore: tuple[int, ...]
    palette: tuple[tuple[int, int, int], ...]

    @property
    def lookup(self) -> dict[int, int]:
        """Mask value -> train id (ignored values -> 255)."""
        table = {v: IGNORE_INDEX for v in self.ignore}
        table.update({v: i for i, vals in enumerate(self.values) for v in vals})
        return table

    def format_value(self, value: int) -> str:
        """'#3C1098' for a colour, '7' for an id."""
        return format_value(value, self.kind)

    def extends(self, previous: Mapping[str, Any]) -> bool:
        """True when this table keeps every value of ``previous`` (a manifest entry) where it was.

        Converted masks held only known values, so values added since (the fix for an unknown
        value) change none of them: such a conversion can resume.
        """
        now = self.manifest()
        if previous.get('kind') != now['kind'] or list(previous.get('classes', {})) != list(now['classes']):
            return False
        kept = all(set(vals) <= set(now['classes'][name]) for name, vals in previous['classes'].items())
        return kept and set(previous.get('ignore', [])) <= set(now['ignore'])

    def manifest(self) -> dict[str, Any]:
        """The table as the conversion manifest records it (compared when a conversion resumes)."""
        return {
            'kind': self.kind,
            'classes': {n: [self.format_value(v) for v in vals] for n, vals in zip(self.names, self.values)},
            'ignore': [self.format_value(v) for v in self.ignore],
        }


def format_value(value: int, kind: str) -> str:
    """A mask value as users write it in classes.json."""
    return f'#{value:06X}' if kind == COLOUR else str(value)


def pack_rgb(r: Any, g: Any, b: Any) -> Any:
    """Pack colour channels (ints or uint8 arrays) into one integer per pixel."""
    return (np.asarray(r, np.int64) << 16) | (np.asarray(g, np.int64) << 8) | np.asarray(b, np.int64)


def unpack_rgb(value: int) -> tuple[int, int, int]:
    """Packed colour -> (r, g, b)."""
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def generated_palette(num: int) -> list[tuple[int, int, int]]:
    """``num`` distinct colours, always the same: hues spread by the golden angle, two brightnesses."""
    colours = []
    for i in range(num):
        hue = (i * 0.618033988749895) % 1.0
        value = 0.95 if i % 2 == 0 else 0.7
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, value)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def _parse_colour(text: str, where: str) -> int:
    body = text.strip().lstrip('#')
    if len(body) != 6 or any(c not in '0123456789abcdefABCDEF' for c in body):
        raise DaspmInputError(f'{where}: {text!r} is not a colour; write colours as "#RRGGBB" ({_EXAMPLE})')
    return int(body, 16)


def _parse_value(value: Any, where: str) -> tuple[str, int]:
    """(kind, value) of one mask value of classes.json."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DaspmInputError(f'{where}: {value!r} is neither an integer id nor a "#RRGGBB" colour ({_EXAMPLE})')
    if isinstance(value, int):
        if value < 0:
            raise DaspmInputError(f'{where}: id {value} is negative; mask ids are 0 or more')
        return ID, value
    return COLOUR, _parse_colour(value, where)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DaspmInputError(f'{path}: classes file not found; write a JSON file naming the classes ({_EXAMPLE})')
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as err:
        raise DaspmInputError(f'{path}: not valid JSON ({err}); {_EXAMPLE}') from None
    if not isinstance(data, dict) or not isinstance(data.get('classes'), dict) or not data['classes']:
        raise DaspmInputError(f'{path}: needs a non-empty "classes" object mapping class names to mask values '
                              f'({_EXAMPLE})')
    unknown = sorted(set(data) - {'classes', 'ignore', 'palette'})
    if unknown:
        raise DaspmInputError(f'{path}: unknown key(s) {unknown}; classes.json holds "classes", "ignore" and '
                              'optionally "palette"')
    return data


def _parse_palette(data: Mapping[str, Any], names: tuple[str, ...], path: Path) -> dict[str, int]:
    palette = data.get('palette', {})
    if not isinstance(palette, dict):
        raise DaspmInputError(f'{path}: "palette" must map class names to "#RRGGBB" colours')
    unknown = sorted(set(palette) - set(names))
    if unknown:
        raise DaspmInputError(f'{path}: "palette" names unknown classes {unknown}; use names of "classes"')
    return {name: _parse_colour(str(colour), f'{path}: palette of {name!r}') for name, colour in palette.items()}


def read_class_table(path: str | os.PathLike) -> ClassTable:
    """Read and check ``classes.json``; every problem raises one DaspmInputError naming the fix."""
    path = Path(path)
    data = _read_json(path)
    names = tuple(str(n) for n in data['classes'])
    if len(names) > MAX_CLASSES:
        raise DaspmInputError(f'{path}: {len(names)} classes; at most {MAX_CLASSES} fit uint8 train ids '
                              f'(255 is ignore)')
    kinds: set[str] = set()
    values: list[tuple[int, ...]] = []
    owner: dict[int, str] = {}
    for name, raw in data['classes'].items():
        entries = _as_list(raw)
        if not entries:
            raise DaspmInputError(f'{path}: class {name!r} lists no mask value')
        parsed = []
        for entry in entries:
            kind, value = _parse_value(entry, f'{path}: class {name!r}')
            kinds.add(kind)
            if value in owner:
                raise DaspmInputError(
                    f'{path}: mask value {entry!r} belongs to both {owner[value]!r} and {name!r}; '
                    'a value must name one class (merge the classes or fix the value)')
            owner[value] = name
            parsed.append(value)
        values.append(tuple(parsed))
    ignore_raw = data.get('ignore', [])
    if not isinstance(ignore_raw, list):
        raise DaspmInputError(f'{path}: "ignore" must be a list of mask values ({_EXAMPLE})')
    ignore = []
    for entry in ignore_raw:
        kind, value = _parse_value(entry, f'{path}: "ignore"')
        kinds.add(kind)
        if value in owner:
            raise DaspmInputError(f'{path}: mask value {entry!r} is both class {owner[value]!r} and ignored; '
                                  'remove it from one of them')
        ignore.append(value)
    if len(kinds) > 1:
        raise DaspmInputError(f'{path}: mixes integer ids and "#RRGGBB" colours; masks hold one or the other, '
                              'so list every value in the same form')
    kind = kinds.pop()
    chosen = _parse_palette(data, names, path)
    generated = generated_palette(len(names))
    palette = []
    for i, name in enumerate(names):
        if name in chosen:
            palette.append(unpack_rgb(chosen[name]))
        elif kind == COLOUR:
            palette.append(unpack_rgb(values[i][0]))  # the class's (first) own colour
        else:
            palette.append(generated[i])
    return ClassTable(str(path), kind, names, tuple(values), tuple(sorted(set(ignore))), tuple(palette))


def map_to_train_ids(values: np.ndarray, table: ClassTable,
                     valid: np.ndarray | None = None) -> tuple[np.ndarray, dict[int, int]]:
    """Mask values (ids or packed colours) -> (uint8 train ids, {unknown value: pixel count}).

    Pixels outside ``valid`` (transparent in an RGBA mask) are ignored and never unknown. Unknown
    values become 255 in the returned array; the caller decides whether that is an error.
    """
    flat = values.ravel() if valid is None else np.where(valid.ravel(), values.ravel(), _INVALID)
    uniq, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    lookup = table.lookup
    lut = np.full(len(uniq), IGNORE_INDEX, np.uint8)
    unknown: dict[int, int] = {}
    for i, (value, count) in enumerate(zip(uniq.tolist(), counts.tolist())):
        if value in lookup:
            lut[i] = lookup[value]
        elif value != _INVALID:
            unknown[int(value)] = int(count)
    return lut[inverse].reshape(values.shape), unknown


__all__ = ['ClassTable', 'ID', 'COLOUR', 'MAX_CLASSES', 'read_class_table', 'map_to_train_ids',
           'format_value', 'pack_rgb', 'unpack_rgb', 'generated_palette']
