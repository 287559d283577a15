"""Train one experiment in a named run directory (the DAFormer/DASPM entry point; also ``daspm-train``).

    python run_experiments.py --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    python run_experiments.py --resume work_dirs/local-basic/<run>   # continue an interrupted run
    python run_experiments.py --exp 1              # every run of experiment 1 (see experiments.py)

The code is in daspm/cli/train.py.
"""
import sys
from pathlib import Path

try:
    from daspm.cli.train import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    # --exp N reads the experiment table beside this script, from wherever it is run
    main(experiments_file=Path(__file__).resolve().parent / 'experiments.py')
