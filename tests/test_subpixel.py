"""SubPixelResample: output shapes, geotransforms, label handling, and the real 10 m patch."""
from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from conftest import S2_PATCH, write_tif
from daspm.datasets.transforms import LoadGeoTiff, LoadGeoTiffAnnotations, SubPixelResample, subpixel_factor
from daspm.utils.errors import DaspmInputError


def _bounds(transform, shape):
    t = Affine(*transform)
    return (*(t @ (0, 0)), *(t @ (shape[1], shape[0])))


def test_factor_snaps_to_integer_only_when_close():
    assert subpixel_factor(10.0, 2.0) == 5.0
    assert subpixel_factor(9.995, 2.0) == 5.0
    assert subpixel_factor(20.0, 2.0) == 10.0
    assert subpixel_factor(3.0, 2.0) == 1.5


def test_10m_to_2m_shape_transform_and_bounds(tmp_path):
    rng = np.random.default_rng(0)
    path = write_tif(tmp_path / 's2.tif', rng.integers(0, 3000, (4, 7, 9), dtype=np.uint16), gsd=10.0)
    coarse = LoadGeoTiff(scale=10000)(dict(img_path=str(path)))
    coarse_transform, coarse_img = coarse['geo_transform'], coarse['img'].copy()
    fine = SubPixelResample(out_gsd=2.0)(coarse)
    assert fine['img'].shape == (35, 45, 4)
    assert fine['img_shape'] == fine['ori_shape'] == (35, 45)
    assert fine['subpixel_factor'] == 5.0 and fine['gsd'] == pytest.approx(2.0)
    assert fine['geo_transform'] == pytest.approx((2.0, 0.0, 500000.0, 0.0, -2.0, 4000000.0))
    assert _bounds(fine['geo_transform'], (35, 45)) == pytest.approx(_bounds(coarse_transform, (7, 9)))
    # cubic interpolation never leaves the range of the input values
    assert fine['img'].min() >= coarse_img.min() - 1e-6 and fine['img'].max() <= coarse_img.max() + 1e-6


def test_factor_one_is_a_no_op_on_pixels(tmp_path):
    path = write_tif(tmp_path / 'gf.tif', np.arange(48, dtype=np.uint8).reshape(3, 4, 4), gsd=2.0)
    results = LoadGeoTiff()(dict(img_path=str(path)))
    before = results['img'].copy()
    out = SubPixelResample(out_gsd=2.0)(results)
    np.testing.assert_array_equal(out['img'], before)
    assert out['subpixel_factor'] == 1.0


def test_fine_label_kept_and_coarse_label_upsampled_nearest(tmp_path):
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 2, 2), np.uint16), gsd=10.0)
    fine_label = write_tif(tmp_path / 'fine.tif', (np.arange(100).reshape(10, 10) % 5).astype(np.uint8), gsd=2.0)
    coarse_label = write_tif(tmp_path / 'coarse.tif', np.array([[0, 1], [2, 3]], np.uint8), gsd=10.0)
    for label, expect in ((fine_label, (np.arange(100).reshape(10, 10) % 5)),
                          (coarse_label, np.kron([[0, 1], [2, 3]], np.ones((5, 5))))):
        results = LoadGeoTiff()(dict(img_path=str(img), seg_map_path=str(label), num_classes=5))
        results = SubPixelResample(out_gsd=2.0)(LoadGeoTiffAnnotations()(results))
        np.testing.assert_array_equal(results['gt_seg_map'], expect)


def test_label_finer_than_output_grid_is_an_error(tmp_path):
    img = write_tif(tmp_path / 'img.tif', np.ones((1, 2, 2), np.uint16), gsd=10.0)
    label = write_tif(tmp_path / 'too_fine.tif', np.zeros((20, 20), np.uint8), gsd=1.0)
    results = LoadGeoTiffAnnotations()(LoadGeoTiff()(dict(img_path=str(img), seg_map_path=str(label))))
    with pytest.raises(DaspmInputError, match=r'too_fine\.tif: label is 20x20 pixels'):
        SubPixelResample(out_gsd=2.0)(results)


def test_real_patch_lands_on_2m_grid_with_same_bounds():
    path = S2_PATCH / 's2_b2_b3_b4_b8_10m.tif'
    results = LoadGeoTiff(bands=['B4', 'B3', 'B2'], scale=10000)(
        dict(img_path=str(path), seg_map_path=str(S2_PATCH / 'lulc_10m.tif')))
    coarse_transform = results['geo_transform']
    results = SubPixelResample(out_gsd=2.0)(LoadGeoTiffAnnotations()(results))
    assert results['subpixel_factor'] == 5.0  # 9.99 m x 10 m pixels still make x5
    assert results['img'].shape == (505, 500, 3) and results['gt_seg_map'].shape == (505, 500)
    assert results['geo_transform'][0] == pytest.approx(coarse_transform[0] / 5)
    assert results['geo_transform'][4] == pytest.approx(coarse_transform[4] / 5)
    assert _bounds(results['geo_transform'], (505, 500)) == pytest.approx(_bounds(coarse_transform, (101, 100)))


def test_not_georeferenced_without_nominal_gsd(tmp_path):
    import cv2
    path = tmp_path / 'photo.png'
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DaspmInputError, match='not georeferenced.*nominal_gsd'):
        SubPixelResample(out_gsd=2.0)(LoadGeoTiff()(dict(img_path=str(path))))


def test_factor_snaps_within_one_percent_only():
    # 9.9 m -> 2 m is 4.95: within 1% of 5, snapped; 9.8 m -> 2 m is 4.9 (2% off): kept
    assert subpixel_factor(9.9, 2.0) == 5.0
    assert subpixel_factor(9.8, 2.0) == pytest.approx(4.9)
    assert subpixel_factor(10.0, 3.0) == pytest.approx(10 / 3)


def test_non_integer_factor_on_a_non_square_image_keeps_the_bounds(tmp_path):
    # 7 x 9 pixels of 10 m -> 3 m: factor 10/3, 23 x 30 pixels (7 * 3.33 = 23.3, 9 * 3.33 = 30)
    path = write_tif(tmp_path / 's2.tif', np.full((1, 7, 9), 500, np.uint16), gsd=10.0)
    coarse = LoadGeoTiff(scale=10000)(dict(img_path=str(path)))
    coarse_transform = coarse['geo_transform']
    fine = SubPixelResample(out_gsd=3.0)(coarse)
    assert fine['img'].shape == (23, 30, 1)
    # pixel width 9 * 10 / 30 = 3.0 m, height 7 * 10 / 23 = 3.043 m: the same footprint
    assert fine['geo_transform'] == pytest.approx((3.0, 0.0, 500000.0, 0.0, -70 / 23, 4000000.0))
    assert _bounds(fine['geo_transform'], (23, 30)) == pytest.approx(_bounds(coarse_transform, (7, 9)))
    assert fine['gsd'] == pytest.approx(3.0)


def test_nodata_mask_and_label_follow_the_coarse_pixels(tmp_path):
    data = np.full((2, 3, 4), 700, np.uint16)
    data[:, 1, 2] = 0                      # one coarse pixel without data
    data[:, 0, 0] = 0
    img = write_tif(tmp_path / 'img.tif', data, gsd=10.0, nodata=0)
    label = write_tif(tmp_path / 'lab.tif', np.full((15, 20), 2, np.uint8), gsd=2.0)
    results = LoadGeoTiff(scale=10000)(dict(img_path=str(img), seg_map_path=str(label), num_classes=5))
    results = SubPixelResample(out_gsd=2.0, interpolation='bilinear')(LoadGeoTiffAnnotations()(results))
    coarse = np.zeros((3, 4), bool)
    coarse[1, 2] = coarse[0, 0] = True
    expected = np.kron(coarse, np.ones((5, 5), bool))   # each coarse pixel covers 5 x 5 fine ones
    np.testing.assert_array_equal(results['img_nodata_mask'], expected)
    np.testing.assert_array_equal(results['gt_seg_map'], np.where(expected, 255, 2))
