"""The helpers that several packages share through ``daspm.utils`` (one copy each)."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from daspm.utils import dataset_layout
from daspm.utils.checkpoint import compare_state_dicts, key_examples, strip_module_prefix
from daspm.utils.class_map import class_map_tags, write_class_map


def test_strip_module_prefix_removes_only_a_leading_ddp_prefix():
    state = {'module.backbone.w': 1, 'decode_head.b': 2, 'submodule.x': 3, 'module.module.y': 4}
    out = strip_module_prefix(state)
    assert out == {'backbone.w': 1, 'decode_head.b': 2, 'submodule.x': 3, 'module.y': 4}
    assert list(out) == ['backbone.w', 'decode_head.b', 'submodule.x', 'module.y']  # order kept
    assert state['module.backbone.w'] == 1  # the input is not modified


def test_compare_state_dicts_lists_missing_unexpected_and_mismatched_keys():
    own = {'a': torch.zeros(2, 3), 'b': torch.zeros(4), 'c': torch.zeros(1)}
    state = {'a': torch.zeros(3, 2), 'b': torch.ones(4), 'extra': torch.zeros(1)}
    missing, unexpected, mismatched = compare_state_dicts(state, own)
    assert missing == ['c'] and unexpected == ['extra']
    assert mismatched == ['a: checkpoint (3, 2) vs model (2, 3)']
    assert compare_state_dicts(own, own) == ([], [], [])


def test_key_examples_says_how_many_more():
    assert key_examples(['a', 'b']) == 'a, b'
    assert key_examples(['a', 'b', 'c', 'd', 'e'], 3) == 'a, b, c, ... (+2)'
    assert key_examples(['a', 'b'], 1, sep='; ') == 'a; ... (+1)'


def test_class_map_tags_and_writer_agree(tmp_path):
    classes = ['green area', 'water']
    assert class_map_tags(classes) == {'CLASS_0': 'green area', 'CLASS_1': 'water', 'CLASS_NAMES': 'green area,water'}
    path = write_class_map(tmp_path / 'map.tif', np.array([[0, 1], [255, 1]], np.uint8), crs='EPSG:32633',
                           geo_transform=Affine(2, 0, 500000, 0, -2, 4000000), classes=classes,
                           palette=[[0, 255, 0], [0, 0, 255]])
    with rasterio.open(path) as src:
        assert {k: v for k, v in src.tags().items() if k.startswith('CLASS_')} == class_map_tags(classes)
        assert src.nodata == 255 and src.colormap(1)[1][:3] == (0, 0, 255)


@pytest.mark.parametrize('module, names', [
    ('daspm.convert.formats.gaofen_sentinel', ['IMG_DIR', 'ANN_DIR', 'MANIFEST', 'SPLITS', 'RAW_LAYOUTS', 'SAMPLE_CLASS_STATS']),
    ('daspm.convert.class_stats', ['ANN_DIR', 'SAMPLE_CLASS_STATS', 'SAMPLES_WITH_CLASS']),
    ('daspm.datasets.rare_class_sampling', ['SAMPLE_CLASS_STATS', 'SAMPLES_WITH_CLASS']),
    ('daspm.datasets.geotiff_dataset', ['IMG_DIR', 'ANN_DIR', 'MANIFEST', 'RAW_LAYOUTS']),
])
def test_converters_and_datasets_use_the_one_dataset_layout(module, names):
    mod = __import__(module, fromlist=['_'])
    for name in names:
        assert getattr(mod, name) is getattr(dataset_layout, name), f'{module}.{name} is a copy'


def test_raw_layout_names_match_the_synthetic_writer():
    from daspm.synthetic import reference_layout
    assert (reference_layout.IMAGE_DIR, reference_layout.LABEL_DIR) == dataset_layout.RAW_LAYOUTS[0]
