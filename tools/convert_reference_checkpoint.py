"""Convert a DAFormer / DASPM reference checkpoint (mmseg 0.x); code in daspm/cli/convert_checkpoint.py.

    python tools/convert_reference_checkpoint.py SRC DST [--part model|ema_model|all]
        [--num-classes N] [--trust-pickle] [--overwrite]
"""
import sys

try:
    from daspm.cli.convert_checkpoint import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
