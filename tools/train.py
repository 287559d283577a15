"""Train a segmentor from a config (like mmsegmentation's tools/train.py); code in daspm/cli/mmseg_train.py.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
"""
import sys

try:
    from daspm.cli.mmseg_train import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
