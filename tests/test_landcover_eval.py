"""Class maps scored against a land-cover mask: recall per group known by construction."""
from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine

from cli_helpers import call_cli, call_cli_ok
from conftest import write_tif
from daspm.cli import eval_landcover as cli
from daspm.evaluation.landcover import LANDCOVER_CLASSES, evaluate_map, mask_on_grid
from daspm.utils.class_map import write_class_map
from daspm.classes import DASPM_CLASSES, DASPM_PALETTE
from daspm.utils.errors import DaspmInputError

ORIGIN = (465000.0, 5080000.0)
# 4 x 4 mask pixels of 10 m: forest, artificial surface, grassland, water, cultivated land, no data (0)
MASK = np.array([[2, 2, 8, 8],
                 [2, 2, 8, 8],
                 [3, 3, 5, 0],
                 [1, 1, 5, 0]], np.uint8)
# the class predicted in each mask pixel (5 x 5 map pixels of 2 m each)
PRED = np.array([[1, 0, 2, 3],
                 [0, 0, 1, 0],
                 [0, 0, 4, 2],
                 [0, 0, 0, 4]], np.uint8)


def _mask(tmp_path, mask=MASK):
    return write_tif(tmp_path / 'lulc.tif', mask, gsd=10.0, origin=ORIGIN, crs='EPSG:32633')


def _map(path, pred, gsd=2.0, origin=ORIGIN, crs='EPSG:32633'):
    return write_class_map(path, pred, crs=crs, geo_transform=Affine(gsd, 0, origin[0], 0, -gsd, origin[1]),
                           classes=DASPM_CLASSES, palette=DASPM_PALETTE)


def _fine(pred, k=5):
    return pred.repeat(k, axis=0).repeat(k, axis=1)


def test_recall_per_group_on_a_finer_map_with_map_and_mask_nodata(tmp_path):
    fine = _fine(PRED)
    fine[10:15, 0:5][:1] = 255           # 5 map pixels without prediction in a grassland cell
    score = evaluate_map(_map(tmp_path / 'map.tif', fine), _mask(tmp_path), 'm')
    recall = score.recalls()
    # vegetation: 8 cells x 25 px minus 5 without prediction; the forest cell (0, 0) predicted urban
    assert recall['vegetation'] == dict(pixels=195, hits=170, recall=170 / 195, expected=['green area'])
    # built-up: urban, roads, impervious count, green area does not
    assert recall['built-up']['pixels'] == 100 and recall['built-up']['recall'] == 0.75
    assert recall['water']['pixels'] == 50 and recall['water']['recall'] == 0.5
    assert score.mask_nodata_pixels == 50 and score.map_nodata_pixels == 5
    table = score.to_dict()['confusion']
    assert table['forest']['counts'] == {'green area': 75, 'urban area': 25, 'roads': 0,
                                         'impervious surface': 0, 'water': 0}
    assert table['forest']['shares']['urban area'] == 0.25 and 'no data' not in table


def test_the_mask_goes_onto_the_map_grid_by_nearest_neighbour_and_outside_is_ignored(tmp_path):
    # the map starts half a mask pixel (5 m) left and above the mask, and runs past it
    origin = (ORIGIN[0] - 5.0, ORIGIN[1] + 5.0)
    on_grid = mask_on_grid(_mask(tmp_path), (25, 25), Affine(2.0, 0, origin[0], 0, -2.0, origin[1]),
                           'EPSG:32633')
    assert (on_grid[:2] == 0).all() and (on_grid[:, :2] == 0).all()   # centres outside the mask
    assert (on_grid[3:7, 3:7] == 2).all()
    assert (on_grid[3:7, 8:12] == 2).all() and (on_grid[3:7, 13:17] == 8).all()


def test_the_cli_writes_json_and_markdown_side_by_side(tmp_path):
    good = _map(tmp_path / 'good.tif', _fine(np.where(np.isin(MASK, (1, 2, 3)), 0, np.where(MASK == 5, 4, 1))))
    poor = _map(tmp_path / 'poor.tif', _fine(np.full((4, 4), 3, np.uint8)))
    result = call_cli_ok(cli.main, ['--mask', str(_mask(tmp_path)), '--maps', f'good={good}', f'poor={poor}',
                                    '--out-dir', str(tmp_path / 'eval')])
    record = json.loads((tmp_path / 'eval' / 'landcover_eval.json').read_text())
    assert list(record['maps']) == ['good', 'poor']
    assert record['maps']['good']['recall']['vegetation']['recall'] == 1.0
    assert record['maps']['poor']['recall']['vegetation']['recall'] == 0.0
    assert record['maps']['poor']['recall']['built-up']['recall'] == 1.0
    markdown = (tmp_path / 'eval' / 'landcover_eval.md').read_text()
    assert '| group (mask classes) | expected classes | pixels | good | poor |' in markdown
    assert '| vegetation (cultivated land, forest, grassland, shrubland, wetlands) | green area | 200 | 100.0 % | 0.0 % |' \
        in markdown
    assert '| 8 artificial surface | 100 | 0 (0.0 %) | 0 (0.0 %) | 0 (0.0 %) | 100 (100.0 %) | 0 (0.0 %) |' in markdown
    # the recall table is printed, the confusion tables only written
    assert '| built-up (artificial surface) | urban area, roads, impervious surface | 100 | 100.0 % | 100.0 % |' \
        in result.stdout and 'mask class x predicted class' not in result.stdout


def test_bad_maps_and_masks_are_named_with_the_fix(tmp_path):
    mask = _mask(tmp_path)
    with pytest.raises(DaspmInputError, match=r'holds values \[7\] that are no class id'):
        evaluate_map(write_tif(tmp_path / 'seven.tif', np.full((20, 20), 7, np.uint8), origin=ORIGIN,
                               crs='EPSG:32633'), mask)
    with pytest.raises(DaspmInputError, match='does not overlap the land-cover mask'):
        evaluate_map(_map(tmp_path / 'far.tif', _fine(PRED), origin=(0.0, 0.0)), mask)
    with pytest.raises(DaspmInputError, match=r'codes \[42\] outside the land-cover table'):
        evaluate_map(_map(tmp_path / 'm.tif', _fine(PRED)), _mask(tmp_path, np.full((4, 4), 42, np.uint8)))
    write_tif(tmp_path / 'plain.tif', np.zeros((20, 20), np.uint8), crs=None)
    with pytest.raises(DaspmInputError, match='not georeferenced'):
        evaluate_map(tmp_path / 'plain.tif', mask)
    unnamed = call_cli(cli.main, ['--mask', str(mask), '--maps', str(tmp_path / 'm.tif')])
    assert unnamed.code == 2 and 'give NAME=VALUE' in unnamed.stderr
    missing = call_cli(cli.main, ['--mask', str(mask), '--runs', f'x={tmp_path}', '--image', str(tmp_path / 'm.tif'),
                                  '--out-dir', str(tmp_path / 'o')])
    assert missing.code == 2 and 'not a run directory with config.py' in missing.stderr


def test_the_group_table_covers_the_codes_it_names():
    from daspm.evaluation.landcover import GROUPS
    named = [c for g in GROUPS for c in g.mask_classes]
    assert len(named) == len(set(named)) and set(named) <= set(LANDCOVER_CLASSES) - {0}
