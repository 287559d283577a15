"""Map Sentinel-2 scenes to land-use COGs on the sub-pixel grid (also ``daspm-map``).

    python tools/map_scene.py INPUT [INPUT ...] CONFIG CHECKPOINT --out map.tif
    python tools/map_scene.py SCENE [SCENE ...] CONFIG CHECKPOINT --out-dir maps/
    torchrun --nproc-per-node 4 tools/map_scene.py --list scenes.txt CONFIG CHECKPOINT --out-dir maps/

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
