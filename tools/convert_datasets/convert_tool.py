"""The one body of the converter scripts in this folder: run ``daspm-convert`` with the script's format.

Imported by its siblings (a script's own folder is on its import path); each passes its format
name and its docstring, which ``--help`` shows.
"""
import sys


def run(name: str, description: str) -> None:
    """``daspm-convert NAME ...`` with the script's arguments; input errors: one line, exit 2."""
    try:
        from daspm.convert.cli import main
    except ModuleNotFoundError as err:  # a checkout used before `make setup`
        if err.name != 'daspm':
            raise
        sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')
    main(name, description)
