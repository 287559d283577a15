"""A single exception type for errors the user can fix, and a CLI wrapper that prints it."""
from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar('F', bound=Callable)


class DaspmInputError(ValueError):
    """Bad user input (path, band count, labels, checkpoint...): the message names the file and the fix."""


def exit_on_input_error(main: F) -> F:
    """Decorate a CLI ``main`` so a DaspmInputError prints one line and exits with status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DaspmInputError as err:
            print(f'error: {err}', file=sys.stderr)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
