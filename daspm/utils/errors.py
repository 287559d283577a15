"""A single exception type for errors the user can fix, and a CLI wrapper that prints it."""
from __future__ import annotations

import functools
import re
import sys
from typing import Callable, TypeVar

F = TypeVar('F', bound=Callable)

# mmengine's registry prefixes errors raised while building an object with "class `X` in file: "
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')


class DaspmInputError(ValueError):
    """Bad user input (path, band count, labels, checkpoint...): the message names the file and the fix."""


class TrainingStopped(DaspmInputError):
    """A check stopped a training run that had started: its run directory and logs are kept."""


def user_message(err: BaseException) -> str:
    """The message of a DaspmInputError, without registry prefixes or DataLoader worker tracebacks."""
    text = str(err)
    marker = 'DaspmInputError: '
    if 'Original Traceback' in text and marker in text:
        # Re-raised from a DataLoader worker: the original message is after the last marker.
        text = text.rsplit(marker, 1)[1].strip()
    return _REGISTRY_PREFIX.sub('', text)


def exit_on_input_error(main: F) -> F:
    """Decorate a CLI ``main`` so a DaspmInputError prints one line and exits with status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DaspmInputError as err:
            print(f'error: {user_message(err)}', file=sys.stderr)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
