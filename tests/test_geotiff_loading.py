"""LoadGeoTiff / LoadGeoTiffAnnotations: band selection, scaling, nodata, georeferencing, errors."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from conftest import S2_PATCH, write_tif
from daspm.datasets.transforms import LoadGeoTiff, LoadGeoTiffAnnotations
from daspm.utils.errors import DaspmInputError


def _four_band(tmp_path, nodata=None):
    data = np.stack([np.full((6, 8), v, np.uint16) for v in (100, 200, 300, 4000)])
    return write_tif(tmp_path / 's2.tif', data, gsd=10.0, nodata=nodata, descriptions=['B2', 'B3', 'B4', 'B8'])


def test_selects_bands_by_index_and_name_in_config_order(tmp_path):
    path = _four_band(tmp_path)
    by_index = LoadGeoTiff(bands=[3, 2, 1], scale=10000)(dict(img_path=str(path)))
    by_name = LoadGeoTiff(bands=['B04', 'b3', 'B2'], scale=10000)(dict(img_path=str(path)))
    assert by_index['img'].shape == (6, 8, 3) and by_index['img'].dtype == np.float32
    np.testing.assert_allclose(by_index['img'][0, 0], [0.03, 0.02, 0.01], rtol=1e-6)
    np.testing.assert_array_equal(by_index['img'], by_name['img'])
    assert by_name['band_names'] == ['B4', 'B3', 'B2']


def test_scaling_auto_by_dtype_explicit_and_offset(tmp_path):
    rgb = write_tif(tmp_path / 'rgb.tif', np.full((3, 4, 4), 51, np.uint8))
    assert LoadGeoTiff()(dict(img_path=str(rgb)))['img'][0, 0, 0] == pytest.approx(0.2)
    path = _four_band(tmp_path)
    assert LoadGeoTiff(bands=[4])(dict(img_path=str(path)))['img'][0, 0, 0] == pytest.approx(0.4)
    assert LoadGeoTiff(bands=[4], scale=2000)(dict(img_path=str(path)))['img'][0, 0, 0] == pytest.approx(2.0)
    shifted = LoadGeoTiff(bands=[4], scale=10000, offset=-1000)(dict(img_path=str(path)))
    assert shifted['img'][0, 0, 0] == pytest.approx(0.3)


def test_georeferencing_kept_in_metainfo(tmp_path):
    results = LoadGeoTiff(bands=[1])(dict(img_path=str(_four_band(tmp_path))))
    assert results['crs'] == 'EPSG:32650'
    assert results['geo_transform'] == (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    assert results['gsd'] == 10.0


def test_real_sentinel2_patch_band_names_and_gsd():
    results = LoadGeoTiff(bands=['B4', 'B3', 'B2', 'B8'], scale=10000)(
        dict(img_path=str(S2_PATCH / 's2_b2_b3_b4_b8_10m.tif')))
    assert results['img'].shape == (101, 100, 4)
    assert results['crs'] == 'EPSG:32633'
    with rasterio.open(S2_PATCH / 's2_b2_b3_b4_b8_10m.tif') as src:
        width, height = src.res  # about 9.99 m x 10 m: real pixels are not exactly 10 m
    assert results['gsd'] == pytest.approx((width + height) / 2) and 9.9 < results['gsd'] < 10.1
    assert 0.0 < results['img'].mean() < 1.0  # reflectance, not raw digital numbers


def test_nodata_pixels_are_zeroed_masked_and_ignored_in_label(tmp_path):
    data = np.full((2, 4, 4), 500, np.uint16)
    data[:, 0, :2] = 0
    img = write_tif(tmp_path / 'img.tif', data, nodata=0)
    label = write_tif(tmp_path / 'lab.tif', np.array(np.arange(16).reshape(4, 4) % 5, np.uint8), nodata=None)
    results = LoadGeoTiff(scale=10000)(dict(img_path=str(img), seg_map_path=str(label), num_classes=5))
    assert results['img_nodata_mask'].sum() == 2
    assert (results['img'][0, :2] == 0).all()
    results = LoadGeoTiffAnnotations()(results)
    assert (results['gt_seg_map'][0, :2] == 255).all()
    assert (results['gt_seg_map'][1:] != 255).all()


def test_label_nodata_value_becomes_ignore(tmp_path):
    label = np.array([[0, 1], [9, 4]], np.uint8)
    path = write_tif(tmp_path / 'lab.tif', label, nodata=9)
    out = LoadGeoTiffAnnotations()(dict(seg_map_path=str(path), num_classes=5))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1], [255, 4]])


def test_band_count_errors_name_file_and_fix(tmp_path):
    rgb = write_tif(tmp_path / 'rgb.tif', np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DaspmInputError, match=r'rgb\.tif has 3 band\(s\) but the config selects band 4'):
        LoadGeoTiff(bands=[4, 3, 2])(dict(img_path=str(rgb)))
    with pytest.raises(DaspmInputError, match=r'rgb\.tif has 3 band\(s\) but the config expects 4'):
        LoadGeoTiff(num_bands=4).check_file(str(rgb))
    with pytest.raises(DaspmInputError, match=r"no band named 'B8'"):
        LoadGeoTiff(bands=['B8'])(dict(img_path=str(rgb)))


def test_label_values_outside_class_table(tmp_path):
    path = write_tif(tmp_path / 'raw_label.tif', np.array([[1, 7], [5, 255]], np.uint8))
    with pytest.raises(DaspmInputError, match=r'raw_label\.tif holds label values \[5, 7\] outside the class table'):
        LoadGeoTiffAnnotations()(dict(seg_map_path=str(path), num_classes=5))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DaspmInputError, match='nothere.tif: file not found'):
        LoadGeoTiff()(dict(img_path=str(tmp_path / 'nothere.tif')))
    bad = tmp_path / 'broken.tif'
    bad.write_bytes(b'not a tiff')
    with pytest.raises(DaspmInputError, match='broken.tif: not a readable raster'):
        LoadGeoTiff()(dict(img_path=str(bad)))


def test_plain_picture_uses_nominal_gsd(tmp_path):
    import cv2
    path = tmp_path / 'photo.png'
    cv2.imwrite(str(path), np.full((5, 6, 3), 255, np.uint8))
    results = LoadGeoTiff(scale=255, nominal_gsd=10.0)(dict(img_path=str(path)))
    assert results['crs'] is None and results['geo_transform'] is None
    assert results['gsd'] == 10.0 and results['img'].shape == (5, 6, 3)


def test_a_pixel_is_nodata_only_where_every_band_is(tmp_path):
    data = np.full((2, 3, 3), 500, np.uint16)
    data[0, 0, 0] = 0          # band 1 only: the pixel still has data in band 2
    data[:, 2, 1] = 0          # every band: no data
    img = write_tif(tmp_path / 'img.tif', data, nodata=0)
    results = LoadGeoTiff(scale=10000)(dict(img_path=str(img)))
    expected = np.zeros((3, 3), bool)
    expected[2, 1] = True
    np.testing.assert_array_equal(results['img_nodata_mask'], expected)
    np.testing.assert_allclose(results['img'][0, 0], [0.0, 0.05])


def test_label_map_is_applied_to_the_original_ids(tmp_path):
    # a swap {1: 2, 2: 1} must not chain (1 -> 2 -> 1)
    path = write_tif(tmp_path / 'lab.tif', np.array([[0, 1], [2, 1]], np.uint8))
    out = LoadGeoTiffAnnotations()(dict(seg_map_path=str(path), num_classes=5, label_map={1: 2, 2: 1}))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 2], [1, 2]])


def test_training_on_a_subset_of_classes_checks_the_mapped_ids(tmp_path):
    # mmseg's label_map for classes=('green area', 'water'): ids 1-3 -> ignore, 4 -> 1; the model
    # has 2 classes, so the stored ids 2 and 4 are valid before mapping
    path = write_tif(tmp_path / 'lab.tif', np.array([[0, 4], [2, 255]], np.uint8))
    label_map = {0: 0, 1: 255, 2: 255, 3: 255, 4: 1}
    out = LoadGeoTiffAnnotations()(dict(seg_map_path=str(path), num_classes=2, label_map=label_map))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1], [255, 255]])
    # a stored id the map does not know stays out of range and is still reported
    bad = write_tif(tmp_path / 'bad.tif', np.array([[0, 7]], np.uint8))
    with pytest.raises(DaspmInputError, match=r'label values \[7\]'):
        LoadGeoTiffAnnotations()(dict(seg_map_path=str(bad), num_classes=2, label_map=label_map))
