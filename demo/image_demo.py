"""Map one image with a trained model: coloured map with legend, overlay and (georeferenced input) GeoTIFF.

    python -m demo.image_demo IMAGE CONFIG CHECKPOINT [--out-dir demo_out] [--device cpu]

The code is in daspm/cli/image_demo.py.
"""
import sys

try:
    from daspm.cli.image_demo import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
