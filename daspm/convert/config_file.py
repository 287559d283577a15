"""Write an mmengine config file from data: a list of bases and named values, nothing rendered by hand.

A value may name another entry of the same file (``Ref('crop_size')``), so that the file keeps
the links a person edits by (change ``crop_size`` once, the pipelines follow).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, Sequence

#: longest line of a written config (comments are wrapped to it as well)
LINE_WIDTH = 100


@dataclass(frozen=True)
class Ref:
    """A reference to an entry defined earlier in the same config file."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Entry:
    """One top-level value of a config, with the comment written above it."""

    name: str
    value: Any
    comment: str = ''


def comment_lines(text: str) -> list[str]:
    """``text`` as ``#`` lines of at most ``LINE_WIDTH`` characters (empty text: none)."""
    return ['# ' + line for line in textwrap.wrap(text, LINE_WIDTH - 2)]


def python_text(value: Any, indent: int = 0, start: int | None = None) -> str:
    """``value`` as config source: dicts as ``dict(key=...)``, on one line if it fits, else one item a line.

    ``indent`` is the indentation of the line the value is on, ``start`` the column it starts at.
    """
    start = indent if start is None else start
    if isinstance(value, dict):
        items = [f'{k}={python_text(v, indent + 4, indent + 5 + len(k))}' for k, v in value.items()]
        opening, closing = 'dict(', ')'
    elif isinstance(value, (list, tuple)):
        items = [python_text(v, indent + 4) for v in value]
        opening, closing = ('[', ']') if isinstance(value, list) else ('(', ',)' if len(value) == 1 else ')')
    else:
        return repr(value)
    flat = opening + ', '.join(items) + closing
    if start + len(flat) + 1 <= LINE_WIDTH and '\n' not in flat:  # + 1: the comma after an item
        return flat
    inner = ' ' * (indent + 4)
    return opening + '\n' + ''.join(f'{inner}{item},\n' for item in items) + ' ' * indent + closing.lstrip(',')


def config_text(header: Sequence[str], bases: Sequence[str], entries: Sequence[Entry]) -> str:
    """The text of a config that inherits ``bases`` and sets ``entries`` in order."""
    lines = list(header)
    lines.append('_base_ = ' + python_text(list(bases), 0, len('_base_ = ')))
    for entry in entries:
        lines += comment_lines(entry.comment)
        lines.append(f'{entry.name} = ' + python_text(entry.value, 0, len(entry.name) + 3))
    return '\n'.join(lines) + '\n'


__all__ = ['Ref', 'Entry', 'comment_lines', 'config_text']
