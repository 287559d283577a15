"""Class maps scored against a land-cover mask, side by side (JSON + Markdown).

    python tools/eval_landcover.py --mask demo/real_target/lulc_10m.tif --maps source-only=a.tif daspm=b.tif
    python tools/eval_landcover.py --mask demo/real_target/lulc_10m.tif --runs daspm=work_dirs/demo/<run>

The code is in daspm/cli/eval_landcover.py (scoring: daspm/evaluation/landcover.py).
"""
import sys

try:
    from daspm.cli.eval_landcover import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
