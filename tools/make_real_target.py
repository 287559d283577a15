"""Real Sentinel-2 imagery -> an unlabelled UDA target set (img_dir/, train.txt, daspm_dataset.json).

    python tools/make_real_target.py demo/real_target/s2_b2_b3_b4_b8_10m.tif -o data/real_target

The code is in daspm/cli/make_real_target.py (logic: daspm/mapping/real_target.py).
"""
import sys

try:
    from daspm.cli.make_real_target import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
