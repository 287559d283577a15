"""Whole-scene mapping: georeferencing, seamless blending, nodata, band products, AOI, atomic outputs, errors."""
from __future__ import annotations

import ctypes
import glob
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from rasterio.windows import Window

from conftest import REPO, S2_PATCH, write_tif
from daspm.mapping import (ArraySource, FineWindowReader, band_name_from_filename, input_spec,
                              input_spec_from_config, map_scene, map_scene_to_files, open_scene, output_grid,
                              plan_windows)
from daspm.mapping.grid import blend_ramp
from daspm.mapping.resample import value_range
from daspm.datasets.transforms.geotiff_loading import LoadGeoTiff
from daspm.datasets.transforms.subpixel import SubPixelResample
from daspm.utils.errors import DaspmInputError

UDA_CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
S2_FILE = S2_PATCH / 's2_b2_b3_b4_b8_10m.tif'
SPEC = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
CENTRES = torch.tensor([[0.15, 0.25, 0.35], [0.55, 0.45, 0.3], [0.25, 0.65, 0.1], [0.8, 0.8, 0.8],
                        [0.05, 0.1, 0.55]])


class PixelModel:
    """Fixed per-pixel classifier (elementwise ops only, so every window gives bitwise equal logits)."""

    num_classes = 5

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.windows = 0
        self.fail_after = fail_after

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError('simulated crash in the middle of the scene')
        self.calls += 1
        self.windows += images.shape[0]
        dist = ((images[:, None] - CENTRES[None, :, :, None, None]) ** 2).sum(2)
        return -20.0 * dist


def pixel_probs(img_hwc: np.ndarray) -> torch.Tensor:
    """Softmax of PixelModel over a whole (H, W, C) image."""
    return torch.softmax(PixelModel()(torch.from_numpy(img_hwc.transpose(2, 0, 1)[None].copy())), 1)[0]


def smooth_bands(shape: tuple[int, int], bands: int = 4, seed: int = 0, low: int = 200) -> np.ndarray:
    """uint16 reflectance-like bands with structure at a few pixels' scale."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(shape[0] // 3, 2), max(shape[1] // 3, 2), bands)).astype(np.float32)
    img = cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC).reshape(*shape, bands)
    return (img.transpose(2, 0, 1) * 2800 + low).clip(1, 6000).astype(np.uint16)


def pipeline_image(path: Path, spec=SPEC) -> dict:
    """The test pipeline (LoadGeoTiff -> SubPixelResample) on a whole file."""
    loader = spec.loader
    results = LoadGeoTiff(bands=loader.bands, scale=loader.scale, offset=loader.offset,
                          nominal_gsd=loader.nominal_gsd).transform(dict(img_path=str(path)))
    if spec.out_gsd is not None:
        results = SubPixelResample(out_gsd=spec.out_gsd, interpolation=spec.interpolation).transform(results)
    return results


def map_array(path, spec=SPEC, model=None, **kwargs):
    """Map ``path`` in memory; returns (result, class map, confidence)."""
    model = model or PixelModel()
    kwargs.setdefault('progress', False)
    with open_scene([path], spec) as source:
        result = map_scene(source, model, spec, **kwargs)
    return result, result.sink.class_map, result.sink.confidence


@pytest.fixture
def scene(tmp_path) -> Path:
    """A 4-band 10 m GeoTIFF (41 x 37 pixels) with Sentinel-2 band names."""
    return write_tif(tmp_path / 'scene.tif', smooth_bands((41, 37)), gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])


# ------------------------------------------------------------------------------------- grid and windows
def test_windows_cover_the_grid_with_at_least_the_overlap():
    for total, size, overlap in [(2048, 512, 128), (1000, 512, 64), (513, 512, 100), (300, 512, 64), (5000, 256, 32)]:
        plan = plan_windows(total, total, size, overlap)
        assert plan.ys[0] == 0 and plan.ys[-1] + plan.win_h == total
        gaps = np.diff(plan.ys)
        assert (gaps <= plan.win_h - overlap).all() and (gaps > 0).all()
    assert plan_windows(2048, 2048, 512, 128).carry_rows() == 128
    assert (plan_windows(100, 100, 64, 16).weights() > 0).all()
    with pytest.raises(DaspmInputError, match='overlap'):
        plan_windows(100, 100, 64, 40)


# ------------------------------------------------------------------------------------- georeferencing
@pytest.mark.parametrize('out_gsd, factor', [(2.0, 5), (10.0, 1)])
def test_map_georeferencing_tiles_colours_and_categories(scene, tmp_path, out_gsd, factor):
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, out_gsd=out_gsd)
    out = tmp_path / f'map_x{factor}.tif'
    result = map_scene_to_files([scene], PixelModel(), spec, out, window_size=64, overlap=16, batch_size=3,
                                progress=False)
    with rasterio.open(scene) as src, rasterio.open(out) as dst:
        assert dst.crs == src.crs
        assert dst.shape == (src.height * factor, src.width * factor)
        assert dst.transform.almost_equals(src.transform @ Affine.scale(1 / factor))
        assert dst.bounds == pytest.approx(src.bounds)
        assert dst.res == pytest.approx((out_gsd, out_gsd))
        assert dst.dtypes[0] == 'uint8' and dst.nodata == 255
        assert dst.block_shapes[0] == (256, 256) and dst.profile['tiled']
        assert dst.compression.value.lower() == 'deflate'
        assert dst.colormap(1)[2][:3] == (255, 255, 0) and dst.colormap(1)[255][3] == 0
        tags = dst.tags()
        assert tags['CLASS_NAMES'] == 'green area,urban area,roads,impervious surface,water'
        assert tags['SUBPIXEL_FACTOR'] == str(factor)
        assert set(np.unique(dst.read(1))) <= {0, 1, 2, 3, 4}
    assert result.grid.factor == factor
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')], 'temporary files left behind'
    gdal_view = _gdal_category_names(out)
    if gdal_view is not None:
        assert gdal_view == (['green area', 'urban area', 'roads', 'impervious surface', 'water'], 5)


def _gdal_category_names(path: Path) -> tuple[list[str], int] | None:
    """Category names and attribute-table rows as GDAL reads them (libgdal bundled with rasterio)."""
    libs = glob.glob(os.path.join(os.path.dirname(rasterio.__file__), '..', 'rasterio.libs', 'libgdal*'))
    if not libs:
        return None
    gdal = ctypes.CDLL(libs[0])
    gdal.GDALOpen.restype = ctypes.c_void_p
    gdal.GDALOpen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    gdal.GDALGetRasterBand.restype = ctypes.c_void_p
    gdal.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    gdal.GDALGetDefaultRAT.restype = ctypes.c_void_p
    gdal.GDALGetDefaultRAT.argtypes = [ctypes.c_void_p]
    gdal.GDALRATGetRowCount.argtypes = [ctypes.c_void_p]
    gdal.GDALGetRasterCategoryNames.restype = ctypes.POINTER(ctypes.c_char_p)
    gdal.GDALGetRasterCategoryNames.argtypes = [ctypes.c_void_p]
    gdal.GDALClose.argtypes = [ctypes.c_void_p]
    gdal.GDALAllRegister()
    ds = gdal.GDALOpen(str(path).encode(), 0)
    try:
        band = gdal.GDALGetRasterBand(ds, 1)
        rat = gdal.GDALGetDefaultRAT(band)   # also makes GTiff load the .aux.xml (lazily loaded)
        rows = gdal.GDALRATGetRowCount(rat) if rat else 0
        names_p = gdal.GDALGetRasterCategoryNames(band)
        names = []
        while names_p and names_p[len(names)]:
            names.append(names_p[len(names)].decode())
        return names, rows
    finally:
        gdal.GDALClose(ds)


def test_real_sentinel2_patch_maps_to_a_505x500_grid_with_the_same_bounds(tmp_path):
    from daspm.apis.config_loading import load_config
    spec = input_spec_from_config(load_config(UDA_CONFIG))
    assert spec.bands == ['B4', 'B3', 'B2'] and spec.out_gsd == 2.0 and spec.interpolation == 'bicubic'
    out = tmp_path / 'patch_map.tif'
    map_scene_to_files([S2_FILE], PixelModel(), spec, out, window_size=256, overlap=64, batch_size=4,
                       progress=False)
    with rasterio.open(S2_FILE) as src, rasterio.open(out) as dst:
        assert (dst.height, dst.width) == (505, 500)
        assert dst.crs == src.crs
        assert dst.bounds == pytest.approx(src.bounds)
        assert dst.transform.almost_equals(src.transform @ Affine.scale(1 / 5))
        mapped = dst.read(1)
    # and it is the whole-image prediction of the test pipeline
    whole = pixel_probs(pipeline_image(S2_FILE, spec)['img']).argmax(0).numpy()
    np.testing.assert_array_equal(mapped, whole)


# ------------------------------------------------------------------------------------- blending
def test_blending_is_identical_for_any_window_size_overlap_and_batch(scene):
    maps = [map_array(scene, window_size=ws, overlap=ov, batch_size=bs)
            for ws, ov, bs in [(1000, 0, 1), (64, 0, 1), (64, 16, 3), (96, 40, 2), (50, 25, 5), (128, 60, 8)]]
    (_, ref_cls, ref_conf) = maps[0]
    assert maps[0][0].windows == 1
    for result, cls, conf in maps[1:]:
        assert result.windows > 1
        np.testing.assert_array_equal(cls, ref_cls)
        np.testing.assert_allclose(conf, ref_conf, atol=1e-6)


def test_blend_ramp_values():
    # blend_ramp: min(t + 1, size - t) / (overlap + 1), clipped to [0, 1]: linear ramps over
    # ``overlap`` pixels at both ends, 1 inside, never 0.
    assert blend_ramp(8, 4).tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.8, 0.6, 0.4, 0.2])
    assert blend_ramp(16, 4).tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8] + [1.0] * 8 + [0.8, 0.6, 0.4, 0.2])
    assert blend_ramp(10, 3).tolist() == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    assert blend_ramp(6, 0).tolist() == [1.0] * 6
    plan = plan_windows(16, 20, 16, 4)
    weights = plan.weights()
    assert weights.shape == (16, 16)
    assert weights[0, 0] == pytest.approx(0.04) and weights[0, 8] == pytest.approx(0.2)
    assert weights[5, 7] == 1.0 and weights[15, 13] == pytest.approx(0.2 * 0.6)


class WindowConstantModel:
    """Not a per-pixel model: window k (in call order) predicts the class probabilities ``probs[k]``."""

    num_classes = 2

    def __init__(self, probs: list[tuple[float, float]]) -> None:
        self.probs, self.k = probs, 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for _ in range(images.shape[0]):
            p = torch.tensor(self.probs[self.k], dtype=torch.float32).log()
            self.k += 1
            out.append(p.view(2, 1, 1).expand(2, *images.shape[-2:]))
        return torch.stack(out)


# Class-0 probability along a row of two 16-pixel windows with --overlap 4; window 0 says (0.9, 0.1),
# window 1 (0.1, 0.9). Ramp weights (blend_ramp(16, 4)): 0.2, 0.4, 0.6, 0.8, 1, ..., 1, 0.8, 0.6, 0.4, 0.2.
BLEND_ROWS = {
    # 28 pixels: starts 0 and 12, overlap 4 (columns 12..15) with weights 0.8, 0.6, 0.4, 0.2 for
    # window 0 and 0.2, 0.4, 0.6, 0.8 for window 1: p = 0.8*0.9 + 0.2*0.1 = 0.74, 0.58, 0.42, 0.26
    28: [0.9] * 12 + [0.74, 0.58, 0.42, 0.26] + [0.1] * 12,
    # 26 pixels: starts 0 and 10, overlap 6 (columns 10..15), more than --overlap: window 0 weighs
    # 1, 1, 0.8, 0.6, 0.4, 0.2 there and window 1 0.2, 0.4, 0.6, 0.8, 1, 1 (the ramps are clipped at 1)
    26: [0.9] * 10 + [(0.9 + 0.2 * 0.1) / 1.2, (0.9 + 0.4 * 0.1) / 1.4, (0.8 * 0.9 + 0.6 * 0.1) / 1.4,
                      (0.6 * 0.9 + 0.8 * 0.1) / 1.4, (0.4 * 0.9 + 0.1) / 1.4, (0.2 * 0.9 + 0.1) / 1.2] + [0.1] * 10,
}


@pytest.mark.parametrize('length', sorted(BLEND_ROWS))
@pytest.mark.parametrize('transpose', [False, True])
def test_blending_is_the_ramp_weighted_average_of_the_windows(transpose, length):
    # A model that is not per pixel (one constant prediction per window), so the blend weights
    # show in the map. The grid is 16 x length (factor 1): one window row; the row ramp is the same
    # for both windows and cancels. transpose=True lays the windows along the rows instead (two
    # window rows: the state carried between rows).
    p0 = np.array(BLEND_ROWS[length], np.float32)
    expected_cls = np.where(p0 > 0.5, 0, 1)
    expected_conf = np.maximum(p0, 1 - p0)
    shape = (length, 16) if transpose else (16, length)
    img = smooth_bands(shape, bands=3, seed=11)
    source = ArraySource(img, Affine(2, 0, 500000, 0, -2, 4000000), 'EPSG:32650', band_names=['B4', 'B3', 'B2'])
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0)
    for batch_size in (1, 2):
        model = WindowConstantModel([(0.9, 0.1), (0.1, 0.9)])
        result = map_scene(source, model, spec, window_size=16, overlap=4, batch_size=batch_size, progress=False)
        assert result.windows == 2 and model.k == 2
        cls, conf = result.sink.class_map, result.sink.confidence
        if transpose:
            cls, conf = cls.T, conf.T
        for row_cls, row_conf in zip(cls, conf):  # every row (column) the same
            np.testing.assert_array_equal(row_cls, expected_cls)
            np.testing.assert_allclose(row_conf, expected_conf, atol=1e-5)


def test_mapping_equals_the_whole_image_prediction_of_the_test_pipeline(scene):
    _, cls, conf = map_array(scene, window_size=48, overlap=20, batch_size=4)
    probs = pixel_probs(pipeline_image(scene)['img'])
    np.testing.assert_array_equal(cls, probs.argmax(0).numpy())
    np.testing.assert_allclose(conf, probs.max(0).values.numpy(), atol=1e-6)


def test_window_reads_equal_subpixel_resample_of_the_whole_image(scene):
    img = pipeline_image(scene)['img'].transpose(2, 0, 1)
    with open_scene([scene], SPEC) as source:
        grid = output_grid(source, Window(0, 0, source.width, source.height), 5.0)
        reader = FineWindowReader(source, SPEC, grid, value_range(source, SPEC, grid.aoi))
        for y, x, h, w in [(0, 0, 205, 185), (13, 17, 50, 60), (150, 120, 55, 65), (3, 0, 1, 185)]:
            part, nodata = reader.read(y, x, h, w)
            # cv2's vector and scalar paths may round one ulp apart at different positions
            np.testing.assert_allclose(part, img[:, y:y + h, x:x + w], rtol=0, atol=1e-6)
            assert not nodata.any()


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear', 'bicubic'])
def test_non_integer_factor_follows_cv2_resize(scene, interpolation):
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, out_gsd=3.0, interpolation=interpolation)
    img = pipeline_image(scene, spec)['img'].transpose(2, 0, 1)       # 10 m -> 3 m: x3.33
    with open_scene([scene], spec) as source:
        grid = output_grid(source, Window(0, 0, source.width, source.height), spec.factor(10.0))
        assert (grid.height, grid.width) == img.shape[1:] == (137, 123)
        rng = None if interpolation == 'nearest' else value_range(source, spec, grid.aoi)
        reader = FineWindowReader(source, spec, grid, rng)
        whole, _ = reader.read(0, 0, grid.height, grid.width)
        np.testing.assert_allclose(whole, img, atol=2e-4)
        part, _ = reader.read(40, 31, 50, 61)
        np.testing.assert_allclose(part, whole[:, 40:90, 31:92], atol=1e-6)


# ------------------------------------------------------------------------------------- nodata
def test_nodata_pixels_get_255_and_empty_windows_are_skipped(tmp_path):
    data = smooth_bands((60, 60), seed=3)
    data[:, :, 30:] = 0            # right half: no data at all
    data[:, 5:9, 4:7] = 0          # a small hole inside the valid part
    path = write_tif(tmp_path / 'holes.tif', data, gsd=10.0, nodata=0, descriptions=['B2', 'B3', 'B4', 'B8'])
    model = PixelModel()
    result, cls, _ = map_array(path, model=model, window_size=64, overlap=16, batch_size=2)
    pipe = pipeline_image(path)
    nodata = pipe['img_nodata_mask']
    assert nodata.shape == cls.shape == (300, 300)
    np.testing.assert_array_equal(cls == 255, nodata)
    whole = pixel_probs(pipe['img']).argmax(0).numpy()
    np.testing.assert_array_equal(cls[~nodata], whole[~nodata])
    plan = plan_windows(300, 300, 64, 16)
    empty = sum(nodata[y:y + plan.win_h, x:x + plan.win_w].all() for y in plan.ys for x in plan.xs)
    assert empty > 0 and result.skipped_windows == empty
    assert model.windows == plan.count - empty      # the model never saw an empty window


def test_an_all_nodata_scene_runs_no_model(tmp_path):
    path = write_tif(tmp_path / 'empty.tif', np.zeros((3, 10, 12), np.uint16), gsd=10.0, nodata=0,
                     descriptions=['B4', 'B3', 'B2'])
    model = PixelModel()
    result, cls, _ = map_array(path, model=model, window_size=32, overlap=8)
    assert model.calls == 0 and result.skipped_windows == result.windows and (cls == 255).all()


def test_nodata_option_marks_a_value_as_missing(tmp_path):
    data = smooth_bands((20, 20), seed=4)
    data[:, :10] = 65535
    path = write_tif(tmp_path / 'fill.tif', data, gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])
    with open_scene([path], SPEC, nodata=65535) as source:
        result = map_scene(source, PixelModel(), SPEC, window_size=32, overlap=8, progress=False)
    cls = result.sink.class_map
    assert (cls[:50] == 255).all() and (cls[50:] != 255).all()


# ------------------------------------------------------------------------------------- band products
def _band_product(directory: Path, data: np.ndarray, b11: np.ndarray) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, band in enumerate(['B02', 'B03', 'B04']):
        files[band] = write_tif(directory / f'T33TWM_20230801_{band}_10m.tif', data[i], gsd=10.0)
    files['B11'] = write_tif(directory / 'T33TWM_20230801_B11_20m.tif', b11, gsd=20.0)
    return files


def test_band_names_from_file_names():
    assert band_name_from_filename('T33TWM_20230801T100031_B04_10m.jp2') == 'B4'
    assert band_name_from_filename('S2B_MSIL2A_x_B8A_20m.tif') == 'B8A'
    assert band_name_from_filename('B11_20m.tif') == 'B11'
    assert band_name_from_filename('b2.tif') == 'B2'
    assert band_name_from_filename('T33TWB_20230801_TCI_10m.jp2') is None
    with pytest.raises(DaspmInputError, match='several bands'):
        band_name_from_filename('B02_B03.tif')


def test_band_files_with_a_20m_band(tmp_path):
    data = smooth_bands((40, 36), bands=3, seed=5)
    b11 = smooth_bands((20, 18), bands=1, seed=6)[0]
    product = tmp_path / 'product'
    files = _band_product(product, data, b11)
    # the 10 m bands give exactly what the multi-band file of the same bands gives
    stacked = write_tif(tmp_path / 'stacked.tif', data, gsd=10.0, descriptions=['B2', 'B3', 'B4'])
    _, ref, _ = map_array(stacked, window_size=64, overlap=16)
    for inputs in ([product], list(files.values())):
        with open_scene(inputs, SPEC) as source:
            assert source.band_names == ['B4', 'B3', 'B2']
            cls = map_scene(source, PixelModel(), SPEC, window_size=64, overlap=16, progress=False).sink.class_map
        np.testing.assert_array_equal(cls, ref)
    # the 20 m band is resampled to 10 m as a whole-band bilinear x2 would be, window by window
    spec = input_spec(bands=['B11', 'B4', 'B3'], scale=3000.0, out_gsd=2.0)
    expected = cv2.resize(b11.astype(np.float32), (36, 40), interpolation=cv2.INTER_LINEAR)
    with open_scene([product], spec) as source:
        assert (source.height, source.width) == (40, 36) and source.transform.a == 10.0
        whole, nodata = source.read(Window(0, 0, 36, 40))
        np.testing.assert_array_equal(whole[0], expected)
        np.testing.assert_array_equal(whole[1], data[2])
        part, _ = source.read(Window(7, 11, 20, 23))
        np.testing.assert_array_equal(part, whole[:, 11:34, 7:27])
        result = map_scene(source, PixelModel(), spec, window_size=64, overlap=16, progress=False)
        assert result.grid.height == 200 and result.grid.width == 180


def test_product_directory_prefers_the_finest_copy_of_a_band(tmp_path):
    data = smooth_bands((40, 36), bands=3, seed=7)
    product = tmp_path / 'S2_L2A.SAFE'
    _band_product(product / 'R10m', data, smooth_bands((20, 18), bands=1)[0])
    write_tif(product / 'R20m' / 'T33TWM_20230801_B04_20m.tif', data[2, ::2, ::2], gsd=20.0)
    write_tif(product / 'QI_DATA' / 'MSK_DETFOO_B04.tif', np.ones((40, 36), np.uint8), gsd=10.0)  # not a band
    with open_scene([product], SPEC) as source:
        assert source.transform.a == 10.0 and source.factors == [1, 1, 1]


def test_band_count_of_the_config_is_checked(tmp_path):
    path = write_tif(tmp_path / 'three.tif', smooth_bands((10, 10), bands=3), gsd=10.0)
    with pytest.raises(DaspmInputError, match=r'has 3 band\(s\) but the config expects 4'):
        open_scene([path], input_spec(bands=[1, 2, 3], num_bands=4, out_gsd=2.0))
    with pytest.raises(DaspmInputError, match='selects band 4'):
        open_scene([path], input_spec(bands=[4, 3, 2], out_gsd=2.0))


def test_missing_band_file_is_named(tmp_path):
    data = smooth_bands((20, 20), bands=3)
    product = tmp_path / 'p'
    product.mkdir()
    write_tif(product / 'B02.tif', data[0], gsd=10.0)
    write_tif(product / 'B03.tif', data[1], gsd=10.0)
    with pytest.raises(DaspmInputError, match=r"no band named 'B4'.*B2.*B3"):
        open_scene([product], SPEC)


# ------------------------------------------------------------------------------------- area of interest
def test_aoi_by_bbox_and_window_snaps_to_input_pixels(scene, tmp_path):
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, out_gsd=2.0, interpolation='bilinear')
    full = tmp_path / 'full.tif'
    map_scene_to_files([scene], PixelModel(), spec, full, window_size=64, overlap=16, progress=False)
    with rasterio.open(scene) as src:
        left, top = src.transform.c, src.transform.f
    bbox = (left + 53.0, top - 287.5, left + 201.0, top - 101.0)   # not on pixel edges
    out_bbox, out_win = tmp_path / 'bbox.tif', tmp_path / 'win.tif'
    map_scene_to_files([scene], PixelModel(), spec, out_bbox, bbox=bbox, window_size=64, overlap=16,
                       progress=False)
    map_scene_to_files([scene], PixelModel(), spec, out_win, window=(5, 10, 16, 19), window_size=64,
                       overlap=16, progress=False)
    with rasterio.open(full) as f, rasterio.open(out_bbox) as b, rasterio.open(out_win) as w:
        # snapped outwards: columns 5..21, rows 10..29 of the 10 m input
        assert b.bounds == pytest.approx((left + 50.0, top - 290.0, left + 210.0, top - 100.0))
        assert b.shape == (19 * 5, 16 * 5) and b.transform.almost_equals(f.transform @ Affine.translation(25, 50))
        assert w.bounds == pytest.approx(b.bounds) and w.shape == b.shape
        crop = f.read(1)[50:50 + 95, 25:25 + 80]
        np.testing.assert_array_equal(b.read(1), crop)
        np.testing.assert_array_equal(w.read(1), crop)


def test_aoi_partly_outside_is_clipped_and_fully_outside_is_refused(scene, tmp_path):
    with pytest.warns(UserWarning, match='beyond the scene'):
        result = map_scene_to_files([scene], PixelModel(), SPEC, tmp_path / 'a.tif', window=(30, 35, 20, 20),
                                    window_size=64, overlap=16, progress=False)
    assert (result.grid.height, result.grid.width) == (6 * 5, 7 * 5)
    with pytest.raises(DaspmInputError, match='lies outside the scene'):
        map_scene_to_files([scene], PixelModel(), SPEC, tmp_path / 'b.tif', bbox=(0, 0, 10, 10), progress=False)
    assert not (tmp_path / 'b.tif').exists()


# ------------------------------------------------------------------------------------- atomic outputs
@pytest.mark.parametrize('error', [RuntimeError, KeyboardInterrupt])
def test_interrupted_run_leaves_no_output_and_keeps_an_existing_one(scene, tmp_path, error):
    class Crash(PixelModel):
        def __call__(self, images):
            if self.calls >= 2:
                raise error('stop')
            return super().__call__(images)

    out, conf = tmp_path / 'map.tif', tmp_path / 'conf.tif'
    with pytest.raises(error):
        map_scene_to_files([scene], Crash(), SPEC, out, confidence=conf, window_size=48, overlap=8, batch_size=1,
                           progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['scene.tif']
    out.write_bytes(b'previous map')
    with pytest.raises(error):
        map_scene_to_files([scene], Crash(), SPEC, out, window_size=48, overlap=8, batch_size=1,
                           overwrite=True, progress=False)
    assert out.read_bytes() == b'previous map'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['map.tif', 'scene.tif']


def test_existing_output_is_kept_unless_overwrite(scene, tmp_path):
    out = tmp_path / 'map.tif'
    out.write_bytes(b'x')
    with pytest.raises(DaspmInputError, match='exists; pass --overwrite'):
        map_scene_to_files([scene], PixelModel(), SPEC, out, progress=False)
    map_scene_to_files([scene], PixelModel(), SPEC, out, overwrite=True, window_size=64, overlap=16,
                       progress=False)
    with rasterio.open(out) as dst:
        assert dst.shape == (205, 185)


# ------------------------------------------------------------------------------------- side outputs
@pytest.mark.parametrize('dtype', ['uint8', 'float32'])
def test_confidence_and_quicklook(tmp_path, dtype):
    data = smooth_bands((110, 104), seed=8)
    data[:, :20, :20] = 0
    path = write_tif(tmp_path / 'scene.tif', data, gsd=10.0, nodata=0, descriptions=['B2', 'B3', 'B4', 'B8'])
    out, conf, look = tmp_path / 'map.tif', tmp_path / 'conf.tif', tmp_path / 'map.png'
    map_scene_to_files([path], PixelModel(), SPEC, out, confidence=conf, confidence_dtype=dtype, quicklook=look,
                       overviews=True, window_size=128, overlap=32, batch_size=4, progress=False)
    _, ref_cls, ref_conf = map_array(path, window_size=128, overlap=32)
    with rasterio.open(out) as m, rasterio.open(conf) as c:
        assert c.shape == m.shape == (550, 520) and c.transform == m.transform and c.crs == m.crs
        assert c.dtypes[0] == dtype and c.nodata == 0
        np.testing.assert_array_equal(m.read(1), ref_cls)
        values = c.read(1)
        assert (values[ref_cls == 255] == 0).all()
        expected = ref_conf if dtype == 'float32' else np.rint(ref_conf * 255)
        valid = ref_cls != 255
        np.testing.assert_allclose(values[valid], expected[valid], atol=1e-5 if dtype == 'float32' else 1)
        assert m.overviews(1) == [2]
    assert look.stat().st_size > 1000 and cv2.imread(str(look)) is not None


def test_amp_fp16_is_refused_on_cpu(scene):
    with pytest.raises(DaspmInputError, match='fp16 needs a GPU'):
        map_array(scene, amp='fp16')
    _, cls, _ = map_array(scene, amp='bf16', window_size=64, overlap=16)
    assert cls.shape == (205, 185)


def test_array_source_maps_an_in_memory_image():
    img = smooth_bands((30, 30), bands=3, seed=9)
    source = ArraySource(img, Affine(10, 0, 500000, 0, -10, 4000000), 'EPSG:32650', band_names=['B4', 'B3', 'B2'])
    result = map_scene(source, PixelModel(), SPEC, window_size=64, overlap=16, progress=False)
    assert result.sink.class_map.shape == (150, 150) and result.grid.transform.a == 2.0


# ------------------------------------------------------------------------------------- mmseg models and the CLI
@MODELS.register_module(name='ScenePixelBackbone', force=True)
class ScenePixelBackbone(BaseModule):
    """Identity backbone: with a 1x1 head, an EncoderDecoder that is a per-pixel function."""

    def forward(self, x):
        return [x]


PIXEL_CONFIG = """
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False, pad_val=0, seg_pad_val=255),
    backbone=dict(type='ScenePixelBackbone'),
    decode_head=dict(type='FCNHead', in_channels=3, channels=3, num_convs=0, concat_input=False,
                     dropout_ratio=0.0, num_classes=5, in_index=0, norm_cfg=None, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole'))
test_dataloader = dict(dataset=dict(type='SentinelDataset', pipeline=[
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0),
    dict(type='PackSegInputs')]))
"""


@pytest.fixture
def pixel_checkpoint(tmp_path) -> tuple[Path, Path]:
    """Config + checkpoint of a real mmseg EncoderDecoder whose prediction is per pixel."""
    from mmengine.config import Config
    config = tmp_path / 'pixel_config.py'
    config.write_text(PIXEL_CONFIG)
    model = MODELS.build(Config.fromfile(str(config)).model)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.copy_(torch.tensor(
            [[9.0, -3, 1], [-4, 8, 2], [1, 1, -9], [5, 5, 5], [-6, -2, 9]])[..., None, None])
        model.decode_head.conv_seg.bias.copy_(torch.tensor([0.5, -0.5, 1.0, -7.0, 0.0]))
    checkpoint = tmp_path / 'pixel.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return config, checkpoint


def test_cli_with_an_mmseg_checkpoint_equals_predict_file(scene, tmp_path, pixel_checkpoint, capsys):
    from daspm.apis.inference import init_segmentor, predict_file
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    out = tmp_path / 'cli_map.tif'
    result = main([str(scene), str(config), str(checkpoint), '--out', str(out), '--window-size', '64',
                   '--overlap', '16', '--batch-size', '3', '--device', 'cpu', '--no-progress',
                   '--quicklook', str(tmp_path / 'q.png')])
    assert result.windows > 1 and 'output Mpx/s' in capsys.readouterr().out
    expected = predict_file(init_segmentor(config, checkpoint), scene).class_map
    with rasterio.open(out) as dst:
        mapped = dst.read(1)
        assert dst.tags()['CHECKPOINT'] == str(checkpoint)
    assert (mapped == expected).mean() > 0.9999   # 1x1 convolutions may round differently per window size


def count_calls(monkeypatch, targets) -> dict[str, int]:
    """Count the calls of each ``(module, name)`` function, summed per name, while the test runs."""
    calls = {name: 0 for _, name in targets}
    for module, name in targets:
        real = getattr(module, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)
    return calls


def test_cli_opens_plans_and_checks_a_scene_once(scene, tmp_path, pixel_checkpoint, monkeypatch, capsys):
    """Along the CLI's route one scene is opened, given its area and its outputs checked once (the plan handed down)."""
    import daspm.mapping.inputs as inputs
    import daspm.mapping.mapper as mapper
    import daspm.mapping.plan as plan
    from daspm.cli.map_scene import main
    calls = count_calls(monkeypatch, [(inputs, 'open_scene'), (mapper, 'open_scene'), (plan, 'resolve_aoi'),
                                      (plan, 'output_grid'), (mapper, 'output_grid'), (mapper, 'check_outputs')])
    config, checkpoint = pixel_checkpoint
    out = tmp_path / 'once.tif'
    result = main([str(scene), str(config), str(checkpoint), '--out', str(out), '--window-size', '64',
                   '--overlap', '16', '--device', 'cpu', '--no-progress', '--window', '2', '1', '28', '29',
                   '--confidence', str(tmp_path / 'once_conf.tif')])
    # the CLI of d728f84 did each twice: once to show the plan, once more in map_scene_to_files
    assert calls == {'open_scene': 1, 'resolve_aoi': 1, 'output_grid': 1, 'check_outputs': 1}
    # the plan shown before the model loads is the one mapped: the --window area on the x5 grid
    assert capsys.readouterr().out.splitlines()[0].endswith('-> 140x145 px map (x5)')
    assert (result.grid.width, result.grid.height) == (140, 145)
    with rasterio.open(out) as dst:
        assert dst.shape == (145, 140) and dst.tags()['AOI_INPUT_WINDOW'] == '2 1 28 29'


def test_cli_with_the_uda_model_of_the_synthetic_config(tmp_path):
    """DACS (eval_model = student) from the real synthetic config, random weights, saved as a checkpoint."""
    from daspm.apis.config_loading import load_config
    from daspm.cli.map_scene import main
    cfg = load_config(UDA_CONFIG)
    model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'dacs.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    image = write_tif(tmp_path / 's2.tif', smooth_bands((24, 20), seed=10), gsd=10.0,
                      descriptions=['B02', 'B03', 'B04', 'B08'])
    out = tmp_path / 'uda_map.tif'
    result = main([str(image), str(UDA_CONFIG), str(checkpoint), '--out', str(out), '--window-size', '64',
                   '--overlap', '16', '--batch-size', '4', '--device', 'cpu', '--no-progress'])
    assert result.windows == 6 and result.batches == 2
    with rasterio.open(out) as dst:
        assert dst.shape == (120, 100) and set(np.unique(dst.read(1))) <= set(range(5))


def _cli_error(argv, capsys) -> str:
    from daspm.cli.map_scene import main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('error: ') and 'Traceback' not in '\n'.join(err)
    return err[-1]


def test_cli_errors_name_the_file_and_the_fix(scene, tmp_path, capsys):
    ckpt = str(tmp_path / 'never_loaded.pth')
    args = [str(UDA_CONFIG), ckpt, '--device', 'cpu', '--out']
    no_crs = write_tif(tmp_path / 'no_crs.tif', smooth_bands((10, 10)), crs=None, descriptions=['B2', 'B3', 'B4', 'B8'])
    assert 'no CRS' in _cli_error([str(no_crs), *args, str(tmp_path / 'o1.tif')], capsys)
    no_b4 = write_tif(tmp_path / 'no_b4.tif', smooth_bands((10, 10), bands=3), gsd=10.0,
                      descriptions=['B2', 'B3', 'B8'])
    message = _cli_error([str(no_b4), *args, str(tmp_path / 'o2.tif')], capsys)
    assert "no band named 'B4'" in message and 'no_b4.tif' in message
    broken = tmp_path / 'broken.tif'
    broken.write_bytes(b'not a raster at all')
    assert 'not a readable raster' in _cli_error([str(broken), *args, str(tmp_path / 'o3.tif')], capsys)
    assert 'file not found' in _cli_error([str(tmp_path / 'missing.tif'), *args, str(tmp_path / 'o4.tif')], capsys)
    message = _cli_error([str(scene), *args, str(tmp_path / 'o5.tif'), '--bbox', '0', '0', '100', '100'], capsys)
    assert 'lies outside the scene' in message and 'bounds' in message
    existing = tmp_path / 'exists.tif'
    existing.write_bytes(b'keep me')
    assert '--overwrite' in _cli_error([str(scene), *args, str(existing)], capsys)
    assert existing.read_bytes() == b'keep me'
    assert not list(tmp_path.glob('o*.tif'))


# ------------------------------------------------------------------------------------- the blender
@pytest.mark.parametrize('as_tensor', [False, True])
def test_blender_weighs_two_overlapping_windows_as_written_out(as_tensor):
    """Two windows side by side, each with its own constant probabilities; the second has no valid
    input in its last 4 columns. Expected values are the weighted sums written out here."""
    from types import SimpleNamespace

    from daspm.mapping import StreamingBlender
    from daspm.mapping.grid import plan_windows
    from daspm.mapping.writer import PROBABILITY_NODATA, PROBABILITY_SCALE, ArraySink

    plan = plan_windows(16, 24, 16, 8)
    assert (plan.ys, plan.xs) == ([0], [0, 8])
    ramp = np.minimum(np.arange(16) + 1, 16 - np.arange(16)) / 9.0
    weight = np.minimum(np.outer(np.minimum(ramp, 1), np.minimum(ramp, 1)), 1).astype(np.float32)
    np.testing.assert_allclose(plan.weights(), weight, rtol=1e-6)
    probs = [np.array([0.7, 0.2, 0.1], np.float32), np.array([0.3, 0.6, 0.1], np.float32)]
    valid = [np.ones((16, 16), bool), np.ones((16, 16), bool)]
    valid[1][:, 12:] = False
    sink = ArraySink(SimpleNamespace(height=16, width=24), num_classes=3, with_uncertainty=True)
    blender = StreamingBlender(plan, 3, sink, want_confidence=True)
    for ix in range(2):
        w = weight * valid[ix]
        contribution = np.concatenate([probs[ix][:, None, None] * w, w[None]])
        blender.add(0, ix, torch.from_numpy(contribution) if as_tensor else contribution)

    # the same sums, pixel by pixel over the scene
    total = np.zeros((4, 16, 24), np.float64)
    for ix, x in enumerate(plan.xs):
        w = weight * valid[ix]
        total[:3, :, x:x + 16] += probs[ix][:, None, None] * w
        total[3, :, x:x + 16] += w
    seen = total[3] > 0
    assert not seen[:, 20:].any() and seen[:, :20].all()
    expected_class = np.where(seen, total[:3].argmax(0), 255)
    p = total[:3] / np.where(seen, total[3], 1.0)
    np.testing.assert_array_equal(sink.class_map, expected_class)
    # left of the overlap class 0, right of it class 1, where the ramps cross they meet
    assert (sink.class_map[:, :8] == 0).all() and (sink.class_map[:, 16:20] == 1).all()
    np.testing.assert_allclose(sink.confidence, np.where(seen, p.max(0), 0.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        sink.probabilities, np.where(seen, np.rint(p * PROBABILITY_SCALE), PROBABILITY_NODATA).astype(np.uint8))
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(0) / np.log(3)
    np.testing.assert_allclose(sink.uncertainty.astype(int),
                               np.where(seen, np.rint(entropy * PROBABILITY_SCALE), PROBABILITY_NODATA), atol=1)
    assert blender.valid_pixels == seen.sum() == 16 * 20
