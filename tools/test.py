"""Evaluate a checkpoint (also ``daspm-test``); code in daspm/cli/test.py.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-json FILE]
    python tools/test.py work_dirs/<exp>/<run>    # the run's config.py and latest checkpoint
"""
import sys

try:
    from daspm.cli.test import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
