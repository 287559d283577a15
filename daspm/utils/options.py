"""Option names: the nearest known name of a typo, and classes that refuse unknown options in one line.

Shared by the config loader (``--cfg-options`` keys, hook options) and the UDA segmentor's typed
options, so that every misspelt name is answered the same way.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Iterable, TypeVar

from .errors import DaspmInputError

C = TypeVar('C', bound=type)


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (difflib), or None when none is close."""
    matches = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_option_message(owner: str, name: str, known: Iterable[str]) -> str:
    """``<owner> has no option <name>``, with the nearest known name or the list of known ones."""
    known = sorted(set(known))
    match = nearest(name, known)
    hint = f'did you mean {match}?' if match else f'its options: {", ".join(known)}'
    return f'{owner} has no option {name!r}; {hint}'


def accepted_options(cls: type) -> set[str] | None:
    """Keyword arguments ``cls(...)`` takes by name; None when its signature cannot be read.

    A ``**kwargs`` that only passes on to a base class is followed through the bases' own
    signatures, as mmseg's heads do (``DAFormerHead(**kwargs)`` -> ``BaseDecodeHead``).
    """
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:  # object's (*args, **kwargs) takes nothing by name
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # a builtin's __init__: nothing by name
            return None
        names.update(p.name for p in params
                     if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return names  # every **kwargs led to object: only the names seen take a value


def refuse_unknown_options(cls: C) -> C:
    """Class decorator: an unknown keyword argument of ``cls(...)`` is a one-line DaspmInputError.

    Python's own TypeError names no nearest option, and mmengine's registry wraps it in a
    traceback; the signature that ``inspect`` shows stays the class's own (``__wrapped__``).
    """
    init = cls.__init__
    known = accepted_options(cls) or set()

    @functools.wraps(init)
    def checked_init(self, *args, **kwargs):
        for name in kwargs:
            if name not in known:
                raise DaspmInputError(unknown_option_message(cls.__name__, name, known))
        init(self, *args, **kwargs)

    cls.__init__ = checked_init
    return cls
