"""Two tested runs side by side: ``python tools/compare_runs.py BASELINE_RUN RUN [--names A B]``.

The code is in daspm/cli/compare_runs.py.
"""
import sys

try:
    from daspm.cli.compare_runs import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
