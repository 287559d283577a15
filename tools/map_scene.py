"""Map a whole Sentinel-2 scene to a GeoTIFF on the sub-pixel grid (also ``daspm-map``).

    python tools/map_scene.py INPUT [INPUT ...] CONFIG CHECKPOINT --out map.tif

The code is in daspm/cli/map_scene.py.
"""
import sys

try:
    from daspm.cli.map_scene import main
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')

if __name__ == '__main__':
    main()
