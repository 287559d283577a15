"""GaofenDataset / SentinelDataset: split files, samples on the 2 m grid, and clear layout errors."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from mmengine.logging import MMLogger

from conftest import write_tif
from daspm.convert import convert_dataset
from daspm.datasets import GaofenDataset, SentinelDataset
from daspm.utils.errors import DaspmInputError

SENTINEL_PIPELINE = [
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0),
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='PackSegInputs', meta_keys=('img_path', 'ori_shape', 'img_shape', 'crs', 'geo_transform', 'gsd')),
]


def make_converted_sentinel(root, names=('a', 'b', 'c'), label_value=1):
    """A converted dataset: 4-band 10 m images, labels on the 2 m grid, splits and manifest."""
    for i, name in enumerate(names):
        img = np.full((4, 4, 4), 1000 + i, np.uint16)
        write_tif(root / 'img_dir' / f'{name}.tif', img, gsd=10.0, origin=(500000.0 + 100 * i, 4e6),
                  descriptions=['B2', 'B3', 'B4', 'B8'])
        write_tif(root / 'ann_dir' / f'{name}.tif', np.full((20, 20), label_value, np.uint8), gsd=2.0,
                  origin=(500000.0 + 100 * i, 4e6), nodata=255)
    (root / 'train.txt').write_text('a\nb\n')
    (root / 'val.txt').write_text('c\n')
    (root / 'daspm_dataset.json').write_text(json.dumps({'format': 'daspm-converted'}))
    return root


def test_split_files_select_images_and_samples_are_on_fine_grid(tmp_path):
    root = make_converted_sentinel(tmp_path / 'sentinel')
    train = SentinelDataset(data_root=str(root), ann_file='train.txt', pipeline=SENTINEL_PIPELINE)
    val = SentinelDataset(data_root=str(root), ann_file='val.txt', pipeline=SENTINEL_PIPELINE)
    everything = SentinelDataset(data_root=str(root), pipeline=SENTINEL_PIPELINE)
    assert len(train) == 2 and len(val) == 1 and len(everything) == 3
    sample = val[0]
    assert sample['inputs'].shape == (3, 20, 20)
    assert sample['data_samples'].gt_sem_seg.data.shape == (1, 20, 20)
    meta = sample['data_samples'].metainfo
    assert meta['gsd'] == pytest.approx(2.0) and meta['crs'] == 'EPSG:32650'
    assert meta['geo_transform'][0] == pytest.approx(2.0)
    assert val.metainfo['classes'][2] == 'roads'


def test_missing_data_root_says_how_to_make_it(tmp_path):
    with pytest.raises(DaspmInputError, match=r'data root .*nowhere does not exist; generate .*make_synthetic_dataset'):
        GaofenDataset(data_root=str(tmp_path / 'nowhere'), pipeline=[])


@pytest.mark.parametrize('images, labels', [('images', 'labels'), ('image', 'label')])
def test_raw_data_not_converted_names_the_converter(tmp_path, images, labels):
    (tmp_path / 'raw' / images).mkdir(parents=True)
    (tmp_path / 'raw' / labels).mkdir()
    with pytest.raises(DaspmInputError, match=r'has not been converted; run `python tools/convert_datasets/sentinel10m.py'):
        SentinelDataset(data_root=str(tmp_path / 'raw'), pipeline=[])


class _Records(logging.Handler):
    """Collects the messages logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def make_published_gaofen(raw, names=('a', 'b', 'c', 'd')):
    """The published source layout: image/ + label/ and no split files."""
    for i, name in enumerate(names):
        origin = (500000.0 + 100 * i, 4e6)
        write_tif(raw / 'image' / f'{name}.tif', np.full((3, 8, 8), 50 * i, np.uint8), origin=origin)
        write_tif(raw / 'label' / f'{name}.tif', np.full((8, 8), 1 + i % 5, np.uint8), origin=origin)
    return raw


def test_source_without_split_files_uses_every_image_and_logs_it(tmp_path):
    raw = make_published_gaofen(tmp_path / 'gaofen')
    out = tmp_path / 'gaofen_converted'
    convert_dataset(raw, out, dataset='gaofen2m', progress=False)
    assert not (out / 'train.txt').exists()
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        train = GaofenDataset(data_root=str(out), ann_file='train.txt', pipeline=[])
    finally:
        logger.removeHandler(records)
    assert len(train) == 4
    assert sorted(os.path.basename(train.get_data_info(i)['img_path']) for i in range(len(train))) == \
        ['a.tif', 'b.tif', 'c.tif', 'd.tif']
    lines = [m for m in records.messages if 'no split files' in m]
    assert lines == [f'GaofenDataset: {out} has no split files (the raw data had none): '
                     'using all 4 images for train.txt']


def test_missing_split_when_the_conversion_wrote_others(tmp_path):
    raw = make_published_gaofen(tmp_path / 'gaofen')
    (raw / 'train.txt').write_text('a\nb\nc\n')
    (raw / 'val.txt').write_text('d\n')
    out = tmp_path / 'gaofen_converted'
    convert_dataset(raw, out, dataset='gaofen2m', progress=False)
    assert len(GaofenDataset(data_root=str(out), ann_file='train.txt', pipeline=[])) == 3
    with pytest.raises(DaspmInputError,
                       match=r'split file .*test\.txt not found \(the conversion wrote train\.txt, val\.txt\)'):
        GaofenDataset(data_root=str(out), ann_file='test.txt', pipeline=[])


def test_empty_dataset(tmp_path):
    root = tmp_path / 'empty'
    (root / 'img_dir').mkdir(parents=True)
    (root / 'ann_dir').mkdir()
    (root / 'daspm_dataset.json').write_text('{}')
    with pytest.raises(DaspmInputError, match=r'no \.tif images found in .*img_dir'):
        GaofenDataset(data_root=str(root), pipeline=[])


def test_missing_split_file_and_missing_listed_image(tmp_path):
    root = make_converted_sentinel(tmp_path / 'sentinel')
    with pytest.raises(DaspmInputError, match=r'split file .*test\.txt not found'):
        SentinelDataset(data_root=str(root), ann_file='test.txt', pipeline=[])
    (root / 'test.txt').write_text('zzz\n')
    with pytest.raises(DaspmInputError, match=r'zzz\.tif listed in .*test\.txt does not exist'):
        SentinelDataset(data_root=str(root), ann_file='test.txt', pipeline=[])


def test_band_mismatch_is_caught_when_the_dataset_is_built(tmp_path):
    root = make_converted_sentinel(tmp_path / 'sentinel')
    pipeline = [dict(type='LoadGeoTiff', bands=[1, 2, 3], num_bands=3)]
    with pytest.raises(DaspmInputError, match=r'a\.tif has 4 band\(s\) but the config expects 3'):
        SentinelDataset(data_root=str(root), ann_file='train.txt', pipeline=pipeline)


def test_unconverted_label_values_are_reported_with_the_file(tmp_path):
    root = make_converted_sentinel(tmp_path / 'sentinel', label_value=7)
    dataset = SentinelDataset(data_root=str(root), ann_file='val.txt', pipeline=SENTINEL_PIPELINE)
    with pytest.raises(DaspmInputError, match=r'c\.tif holds label values \[7\] outside the class table'):
        dataset[0]
