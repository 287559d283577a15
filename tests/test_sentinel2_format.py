"""The Sentinel-2 product layer checked against the product format, on hand-built products.

Every expected value here comes from the format, not from the reader's output:

* reflectance = (DN + RADIO_ADD_OFFSET / BOA_ADD_OFFSET) / QUANTIFICATION_VALUE, the offset
  (-1000) present from processing baseline 04.00, the quantification value read from the
  metadata (5000 and 20000 here, not only ESA's 10000); the reader hands reflectance x 10000 on;
* DN 0 is the NODATA special value: such pixels are no data in the map, never reflectance;
* DN 65535 is the SATURATED special value (``Special_Values`` of the metadata gives both): a
  saturated band holds no measurement either, so such pixels are no data too, in L1C and L2A,
  with or without the scene classification;
* the L2A scene classification (SCL): 0 no data, 1 saturated or defective, 2 dark area /
  topographic (cast) shadow, 3 cloud shadow, 4 vegetation, 5 not vegetated, 6 water,
  7 unclassified, 8 cloud medium probability, 9 cloud high probability, 10 thin cirrus,
  11 snow or ice; the documented default mask (docs/scene_mapping.md, daspm-map --help) is
  0 1 3 8 9 10 11: cloud shadow in, dark areas out;
* a 10 m pixel takes the 20 m / 60 m mask pixel it lies in, for windows starting and ending
  inside a coarse pixel too.

The products are written here with rasterio (lossless JPEG 2000 through JP2OpenJPEG, the ESA
folder layout and a minimal MTD_MSIL1C.xml / MTD_MSIL2A.xml holding the elements the format
defines), not with daspm.synthetic, so that the writer and the reader cannot share a mistake.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from conftest import write_tif
from daspm.mapping import input_spec, map_scene, open_scene, read_product
from test_scene_mapping import PixelModel

CRS, ORIGIN = 'EPSG:32633', (399960.0, 5000040.0)
TILE, SENSING = 'T33TWM', '20230601T100031'
BAND_IDS = {'B1': 0, 'B2': 1, 'B3': 2, 'B4': 3, 'B5': 4, 'B6': 5, 'B7': 6, 'B8': 7, 'B8A': 8, 'B9': 9,
            'B10': 10, 'B11': 11, 'B12': 12}
SIZE = 36                      # 10 m pixels: 18 x 18 at 20 m, 6 x 6 at 60 m
SCL_NAMES = {0: 'no data', 1: 'saturated or defective', 2: 'dark area / cast shadow', 3: 'cloud shadow',
             4: 'vegetation', 5: 'not vegetated', 6: 'water', 7: 'unclassified', 8: 'cloud medium probability',
             9: 'cloud high probability', 10: 'thin cirrus', 11: 'snow or ice'}
DOCUMENTED_DEFAULT = {0, 1, 3, 8, 9, 10, 11}
RGB = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
MAP_KW = dict(window_size=64, overlap=16, batch_size=4, progress=False, workers=1)


def _jp2(path: Path, data: np.ndarray, res: int) -> None:
    bands = data[None] if data.ndim == 2 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, 'w', driver='JP2OpenJPEG', width=bands.shape[2], height=bands.shape[1],
                       count=bands.shape[0], dtype=bands.dtype, crs=CRS,
                       transform=Affine(res, 0, ORIGIN[0], 0, -res, ORIGIN[1]), QUALITY=100, REVERSIBLE='YES') as dst:
        dst.write(bands)


def _metadata(level: str, baseline: str, quantification: int, bands: list[str], saturated: int | None = 65535) -> str:
    """The elements of MTD_MSIL1C.xml / MTD_MSIL2A.xml that carry the radiometry (ESA's names and nesting);
    ``saturated``: the SATURATED special value (None: no such element)."""
    if level == 'L1C':
        quant = f'<QUANTIFICATION_VALUE unit="none">{quantification}</QUANTIFICATION_VALUE>'
        offsets = ''.join(f'<RADIO_ADD_OFFSET band_id="{BAND_IDS[b]}">-1000</RADIO_ADD_OFFSET>' for b in bands)
        offsets = f'<Radiometric_Offset_List>{offsets}</Radiometric_Offset_List>'
    else:
        quant = (f'<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">{quantification}'
                 '</BOA_QUANTIFICATION_VALUE><AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>'
                 '<WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>')
        offsets = ''.join(f'<BOA_ADD_OFFSET band_id="{BAND_IDS[b]}">-1000</BOA_ADD_OFFSET>' for b in bands)
        offsets = f'<BOA_ADD_OFFSET_VALUES_LIST>{offsets}</BOA_ADD_OFFSET_VALUES_LIST>'
    spectral = ''.join(f'<Spectral_Information bandId="{i}" physicalBand="{b}"/>' for b, i in BAND_IDS.items())
    product = 'Level-1C_User_Product' if level == 'L1C' else 'Level-2A_User_Product'
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<n1:{product} xmlns:n1="https://psd-14.sentinel2.eo.esa.int/'
            f'PSD/User_Product_Level-{level[1:]}.xsd"><n1:General_Info><Product_Info>'
            f'<PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE></Product_Info><Product_Image_Characteristics>'
            '<Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0'
            '</SPECIAL_VALUE_INDEX></Special_Values>'
            + ('' if saturated is None else '<Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>'
               f'<SPECIAL_VALUE_INDEX>{saturated}</SPECIAL_VALUE_INDEX></Special_Values>') +
            f'{quant}{offsets if baseline >= "04.00" else ""}<Spectral_Information_List>{spectral}'
            f'</Spectral_Information_List></Product_Image_Characteristics></n1:General_Info></n1:{product}>\n')


def write_safe(root: Path, level: str, baseline: str, quantification: int, dns: dict[str, np.ndarray],
               scl: np.ndarray | None = None, classi: np.ndarray | None = None,
               saturated: int | None = 65535) -> Path:
    """A .SAFE folder: ``dns`` band -> uint16 DNs at the band's resolution (36 px: 10 m, 18: 20 m, 6: 60 m),
    the L2A ``scl`` (20 m) or the L1C ``classi`` (3 x 6 x 6, MSK_CLASSI_B00 at 60 m), and the metadata's
    SATURATED value ``saturated``."""
    safe = root / f'S2B_MSI{level}_{SENSING}_N{baseline.replace(".", "")}_R122_{TILE}_20230601T120000.SAFE'
    img = safe / 'GRANULE' / f'{level}_{TILE}_A032700_{SENSING}' / 'IMG_DATA'
    for band, dn in dns.items():
        res = SIZE * 10 // dn.shape[0]
        number = band if band == 'B8A' else f'B{int(band[1:]):02d}'
        if level == 'L2A':
            _jp2(img / f'R{res}m' / f'{TILE}_{SENSING}_{number}_{res}m.jp2', dn.astype(np.uint16), res)
        else:
            _jp2(img / f'{TILE}_{SENSING}_{number}.jp2', dn.astype(np.uint16), res)
    if scl is not None:
        _jp2(img / 'R20m' / f'{TILE}_{SENSING}_SCL_20m.jp2', scl.astype(np.uint8), 20)
    if classi is not None:
        _jp2(img.parent / 'QI_DATA' / 'MSK_CLASSI_B00.jp2', classi.astype(np.uint8), 60)
    (safe / f'MTD_MSI{level}.xml').write_text(_metadata(level, baseline, quantification, list(dns), saturated))
    return safe


def rgb_dns(value_10m: int = 3000) -> dict[str, np.ndarray]:
    """B2, B3, B4 at 10 m: three distinct DN patterns around ``value_10m``."""
    y, x = np.mgrid[:SIZE, :SIZE]
    return {'B2': value_10m + 10 * y, 'B3': value_10m + 7 * x, 'B4': value_10m + 3 * (x + y)}


def scl_every_class() -> np.ndarray:
    """18 x 18 SCL holding every class 0..11, neighbours differing (a shifted read changes the answer)."""
    y, x = np.mgrid[:SIZE // 2, :SIZE // 2]
    return (5 * y + x) % 12


def coarse_to_fine(coarse: np.ndarray, k: int, rows: range, cols: range) -> np.ndarray:
    """The coarse pixel each fine pixel (rows x cols, fine grid) lies in: coarse[r // k, c // k]."""
    return coarse[np.array(rows)[:, None] // k, np.array(cols)[None, :] // k]


# ------------------------------------------------------------------------------------- radiometry
@pytest.mark.parametrize('level,baseline,quantification', [
    ('L2A', '05.09', 5000), ('L1C', '05.09', 20000), ('L2A', '02.14', 20000), ('L1C', '04.00', 5000)])
def test_reflectance_is_dn_plus_offset_over_the_quantification_value(tmp_path, level, baseline, quantification):
    dns = {**rgb_dns(), 'B11': np.full((SIZE // 2, SIZE // 2), 4000) + np.arange(SIZE // 2)}
    safe = write_safe(tmp_path, level, baseline, quantification, dns)
    product = read_product(safe)
    assert product.quantification == quantification and product.baseline == baseline
    offset = -1000 if baseline >= '04.00' else 0
    spec = input_spec(bands=['B4', 'B3', 'B2', 'B11'], scale=3000.0, nominal_gsd=10.0)
    with open_scene([safe], spec) as source:
        raw, nodata = source.read(Window(0, 0, SIZE, SIZE))
        assert source.harmonised and not nodata.any()
        # e.g. DN 3000 of baseline 05.09 at quantification 5000: (3000 - 1000) / 5000 = 0.4 reflectance
        for i, band in enumerate(['B4', 'B3', 'B2']):
            reflectance = (dns[band] + offset) / quantification
            np.testing.assert_allclose(raw[i], reflectance * 10000, rtol=1e-6)
        # a 20 m band: its 10 m pixels at the centres of 20 m pixels average the two
        # bilinear neighbours; along a row of constant DN per column block, value = (DN + offset) / Q
        b11 = (dns['B11'] + offset) / quantification * 10000
        np.testing.assert_allclose(raw[3, 1::2, 1:-1:2], ((3 * b11[:, :-1] + b11[:, 1:]) / 4), rtol=1e-6)
        assert any(f'quantification {quantification}' in note for note in source.notes)


def test_a_product_maps_like_a_geotiff_of_its_reflectance(tmp_path):
    """Quantification 5000 with offsets: the model sees (DN - 1000) / 5000, as a GeoTIFF of reflectance x 10000."""
    y, x = np.mgrid[:SIZE, :SIZE]      # reflectance 0.015..0.22: the model's classes all appear
    dns = {'B4': 1075 + 30 * x, 'B3': 1075 + 30 * y, 'B2': 1075 + 15 * (x + y)}
    safe = write_safe(tmp_path, 'L2A', '05.10', 5000, dns)
    reflectance = np.stack([(dns[b] - 1000) / 5000 * 10000 for b in ('B4', 'B3', 'B2')]).astype(np.float32)
    tif = write_tif(tmp_path / 'reflectance.tif', reflectance, gsd=10.0, origin=ORIGIN, crs=CRS,
                    descriptions=['B4', 'B3', 'B2'])
    maps = []
    for path in (safe, tif):
        with open_scene([path], RGB, mask_classes=()) as source:
            maps.append(map_scene(source, PixelModel(), RGB, **MAP_KW).sink)
    np.testing.assert_array_equal(maps[0].class_map, maps[1].class_map)
    np.testing.assert_allclose(maps[0].confidence, maps[1].confidence, atol=1e-6)
    assert len(np.unique(maps[0].class_map)) > 1    # the scene is not one class: the comparison means something


# ------------------------------------------------------------------------------------- no data
@pytest.mark.parametrize('level', ['L2A', 'L1C'])
def test_dn_0_reaches_the_map_as_nodata(tmp_path, level):
    dns = rgb_dns()
    hole = np.zeros((SIZE, SIZE), bool)
    hole[4:13, 7:30] = True            # outside the swath: every band 0
    hole[30:, :5] = True
    for dn in dns.values():
        dn[hole] = 0
    safe = write_safe(tmp_path, level, '05.09', 10000, dns)
    with open_scene([safe], RGB, mask_classes=()) as source:
        _, nodata = source.read(Window(0, 0, SIZE, SIZE))
        np.testing.assert_array_equal(nodata, hole)
        result = map_scene(source, PixelModel(), RGB, **MAP_KW)
    fine_hole = hole.repeat(5, 0).repeat(5, 1)
    np.testing.assert_array_equal(result.sink.class_map == 255, fine_hole)
    assert result.valid_pixels == (~fine_hole).sum() and result.masked_pixels == 0


def test_dn_0_of_one_band_makes_its_pixels_nodata(tmp_path):
    """A 20 m band without a measurement (DN 0) leaves its 10 m pixels without input: not reflectance -0.1."""
    dns = {**rgb_dns(), 'B11': np.full((SIZE // 2, SIZE // 2), 3500)}
    dns['B11'][5:9, 5:9] = 0           # 20 m rows/columns 5..8: 10 m rows/columns 10..17
    dns['B3'][30, 2:6] = 0             # four 10 m pixels of one band
    hole = np.zeros((SIZE, SIZE), bool)
    hole[10:18, 10:18] = True
    hole[30, 2:6] = True
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, dns)
    spec = input_spec(bands=['B4', 'B3', 'B11'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
    with open_scene([safe], spec, mask_classes=()) as source:
        raw, nodata = source.read(Window(0, 0, SIZE, SIZE))
        np.testing.assert_array_equal(nodata, hole)
        # no valid pixel carries the DN 0 as a reflectance (-1000 after the offset) or a blend of it;
        # beside the hole the bilinear 20 m -> 10 m step blends with 0, as nodata is 0 in the model input
        assert raw[2][~hole].min() >= 0.0
        far = np.ones((SIZE, SIZE), bool)
        far[9:19, 9:19] = False
        np.testing.assert_array_equal(raw[2][far], 3500 - 1000)
        result = map_scene(source, PixelModel(), spec, **MAP_KW)
    np.testing.assert_array_equal(result.sink.class_map == 255, hole.repeat(5, 0).repeat(5, 1))


def test_two_baselines_with_nodata_give_the_same_map(tmp_path):
    """DN_new = DN_old + 1000 with offset -1000; the no-data DN is 0 in both, and both give one map."""
    y, x = np.mgrid[:SIZE, :SIZE]
    old = {'B4': 300 + 40 * x, 'B3': 200 + 50 * y, 'B11': 500 + 100 * np.indices((SIZE // 2, SIZE // 2)).sum(0)}
    maps = []
    for baseline, add in (('02.14', 0), ('05.09', 1000)):
        dns = {b: v + add for b, v in old.items()}
        dns['B11'][6:9, 4:12] = 0
        dns['B4'][:3, :] = 0
        dns['B3'][:3, :] = 0
        safe = write_safe(tmp_path / baseline, 'L2A', baseline, 10000, dns)
        spec = input_spec(bands=['B4', 'B3', 'B11'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
        with open_scene([safe], spec, mask_classes=()) as source:
            maps.append(map_scene(source, PixelModel(), spec, **MAP_KW))
    np.testing.assert_array_equal(maps[0].sink.class_map, maps[1].sink.class_map)
    np.testing.assert_allclose(maps[0].sink.confidence, maps[1].sink.confidence, atol=1e-6)
    assert (maps[0].sink.class_map == 255).sum() == (3 * SIZE + 6 * 16 - 0) * 25


def _saturate(dns: dict[str, np.ndarray], value: int) -> np.ndarray:
    """Set ``value`` in one 10 m pixel of B3 and one 20 m pixel of B11; the 10 m pixels it makes no data."""
    dns['B3'][20, 3] = value
    dns['B11'][3, 12] = value          # 20 m row 3, column 12: 10 m rows 6..7, columns 24..25
    hole = np.zeros((SIZE, SIZE), bool)
    hole[20, 3] = True
    hole[6:8, 24:26] = True
    return hole


SATURATED_SPEC = input_spec(bands=['B4', 'B3', 'B11'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)


@pytest.mark.parametrize('level,baseline', [('L2A', '05.09'), ('L1C', '05.09'), ('L1C', '02.14')])
def test_saturated_dn_of_one_band_makes_its_pixels_nodata(tmp_path, level, baseline):
    """DN 65535 (SATURATED) in a 10 m or a 20 m band: no data, read exactly as DN 0 (NODATA) there would be.

    Without any quality mask (--no-mask): in L2A the scene classification's class 1 is not what
    keeps it out. The 20 m band is resampled bilinearly to 10 m; its saturated pixel must not
    reach the valid pixels beside it, which get what they get beside a DN 0 pixel, with the
    offset of baseline 05.09 (-1000) or without one (02.14).
    """
    offset = -1000 if baseline >= '04.00' else 0
    reads = {}
    for value in (65535, 0):
        dns = {**rgb_dns(), 'B11': np.full((SIZE // 2, SIZE // 2), 3500)}
        hole = _saturate(dns, value)
        safe = write_safe(tmp_path / str(value), level, baseline, 10000, dns)
        with open_scene([safe], SATURATED_SPEC, mask_classes=()) as source:
            reads[value] = source.read(Window(0, 0, SIZE, SIZE))
            if value == 65535:
                assert source.product.saturated == 65535
                result = map_scene(source, PixelModel(), SATURATED_SPEC, **MAP_KW)
    raw, nodata = reads[65535]
    np.testing.assert_array_equal(nodata, hole)
    np.testing.assert_array_equal(raw, reads[0][0])
    # far from the saturated 20 m pixel B11 is (3500 + offset); beside it a blend with 0, never above
    assert raw[2][~hole].max() == 3500 + offset
    far = np.ones((SIZE, SIZE), bool)
    far[5:9, 23:27] = False
    np.testing.assert_array_equal(raw[2][far], 3500 + offset)
    fine_hole = hole.repeat(5, 0).repeat(5, 1)
    np.testing.assert_array_equal(result.sink.class_map == 255, fine_hole)
    assert result.valid_pixels == (~fine_hole).sum() == SIZE * SIZE * 25 - 5 * 25
    assert result.masked_pixels == 0


@pytest.mark.parametrize('level', ['L2A', 'L1C'])
def test_saturated_value_is_the_metadatas(tmp_path, level):
    """SATURATED 32767 in the metadata: DN 32767 is no data, DN 65535 a measurement like any other."""
    dns = {**rgb_dns(), 'B11': np.full((SIZE // 2, SIZE // 2), 3500)}
    hole = _saturate(dns, 32767)
    dns['B4'][30, 30] = 65535
    safe = write_safe(tmp_path, level, '05.09', 10000, dns, saturated=32767)
    assert read_product(safe).saturated == 32767
    with open_scene([safe], SATURATED_SPEC, mask_classes=()) as source:
        raw, nodata = source.read(Window(0, 0, SIZE, SIZE))
        assert any('32767 (SATURATED)' in note for note in source.notes)
    np.testing.assert_array_equal(nodata, hole)
    assert raw[0, 30, 30] == 65535 - 1000


def test_saturated_value_defaults_to_65535_without_metadata(tmp_path):
    """A metadata file without the SATURATED special value: the format's 65535."""
    dns = {**rgb_dns(), 'B11': np.full((SIZE // 2, SIZE // 2), 3500)}
    hole = _saturate(dns, 65535)
    safe = write_safe(tmp_path, 'L1C', '04.00', 10000, dns, saturated=None)
    assert read_product(safe).saturated == 65535
    with open_scene([safe], SATURATED_SPEC, mask_classes=()) as source:
        _, nodata = source.read(Window(0, 0, SIZE, SIZE))
    np.testing.assert_array_equal(nodata, hole)


# ------------------------------------------------------------------------------------- scene classification
def test_scene_classification_default_masks_exactly_the_documented_classes(tmp_path):
    scl = scl_every_class()
    assert set(np.unique(scl)) == set(SCL_NAMES)
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, rgb_dns(), scl=scl)
    expected_per_fine_pixel = coarse_to_fine(scl, 2, range(SIZE), range(SIZE))
    with open_scene([safe], RGB) as source:      # the default mask classes
        masked = source.read_exclusion(Window(0, 0, SIZE, SIZE))
    for c, name in SCL_NAMES.items():
        in_class = expected_per_fine_pixel == c
        assert masked[in_class].all() == (c in DOCUMENTED_DEFAULT), f'SCL {c} ({name})'
        assert masked[in_class].any() == (c in DOCUMENTED_DEFAULT), f'SCL {c} ({name})'
    # one class at a time: the mask holds the pixels of that SCL value and no other
    for c, name in SCL_NAMES.items():
        with open_scene([safe], RGB, mask_classes=[c]) as source:
            np.testing.assert_array_equal(source.read_exclusion(Window(0, 0, SIZE, SIZE)),
                                          expected_per_fine_pixel == c, err_msg=f'SCL {c} ({name})')


def test_cloud_shadow_is_left_out_of_the_default_map(tmp_path):
    scl = np.full((SIZE // 2, SIZE // 2), 4)
    scl[3:7, 2:9] = 3                    # cloud shadow
    scl[10:14, 5:12] = 2                 # dark area (topographic shadow): data, not masked by default
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, rgb_dns(), scl=scl)
    with open_scene([safe], RGB) as source:
        result = map_scene(source, PixelModel(), RGB, **MAP_KW)
    shadow = (scl == 3).repeat(10, 0).repeat(10, 1)     # 20 m -> 2 m
    np.testing.assert_array_equal(result.sink.class_map == 255, shadow)
    assert result.masked_pixels == shadow.sum() == 28 * 100
    assert any('3 cloud shadows' in note for note in result.notes)


def test_masked_pixels_count_only_pixels_with_data(tmp_path):
    """``masked_pixels`` counts pixels with data that a quality mask left out, never no-data pixels.

    A swath edge: DN 0 (NODATA) in every band where the scene classification says 0 (no data), a
    mask class of the default, beside a cloud over pixels with data. Only the cloud is masked.
    """
    dns = rgb_dns()
    for band in dns.values():
        band[:, :6] = 0                 # 10 m columns 0-5: no data in every band
    scl = np.full((SIZE // 2, SIZE // 2), 4)
    scl[:, :3] = 0                      # the same columns at 20 m: SCL no data
    scl[8:12, 10:14] = 9                # a cloud (high probability) over data
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, dns, scl=scl)
    with open_scene([safe], RGB) as source:
        result = map_scene(source, PixelModel(), RGB, **MAP_KW)
    cloud = (scl == 9).repeat(10, 0).repeat(10, 1)
    edge = (scl == 0).repeat(10, 0).repeat(10, 1)
    np.testing.assert_array_equal(result.sink.class_map == 255, cloud | edge)
    assert result.masked_pixels == cloud.sum() == 16 * 100
    assert result.valid_pixels == (~(cloud | edge)).sum()


def test_l1c_cloud_mask_layers_follow_the_default_classes(tmp_path):
    classi = np.zeros((3, 6, 6), np.uint8)
    classi[0, 1, 1] = classi[0, 4, 2] = 1        # opaque clouds (SCL 8/9)
    classi[1, 2, 4] = 1                          # cirrus (SCL 10)
    classi[2, 5, 5] = 1                          # snow and ice (SCL 11)
    safe = write_safe(tmp_path, 'L1C', '05.09', 10000, rgb_dns(), classi=classi)
    with open_scene([safe], RGB) as source:
        masked = source.read_exclusion(Window(0, 0, SIZE, SIZE))
    np.testing.assert_array_equal(masked, coarse_to_fine(classi.any(0), 6, range(SIZE), range(SIZE)))
    # one class at a time: each selects its own layer
    for classes, layer in (([8], 0), ([9], 0), ([10], 1), ([11], 2)):
        with open_scene([safe], RGB, mask_classes=classes) as source:
            np.testing.assert_array_equal(source.read_exclusion(Window(0, 0, SIZE, SIZE)),
                                          coarse_to_fine(classi[layer] == 1, 6, range(SIZE), range(SIZE)),
                                          err_msg=str(classes))
    # cloud shadow alone: the L1C mask has no layer for it, so nothing is masked and the log says why
    with open_scene([safe], RGB, mask_classes=[3]) as source:
        assert not source.has_exclusion
        assert any('no layer for SCL classes [3]' in note for note in source.notes)


# ------------------------------------------------------------------------------------- coarse windows
# (col_off, row_off, width, height) on the 10 m grid: starts and ends inside 20 m and 60 m pixels,
# and windows reaching the last row / column of the scene
WINDOWS = [(3, 5, 7, 9), (1, 1, 1, 1), (13, 7, 10, 17), (29, 31, 7, 5), (0, 0, SIZE, SIZE), (5, 35, 31, 1),
           (11, 4, 13, 11)]


def test_scl_window_ends_inside_a_20m_pixel(tmp_path):
    scl = scl_every_class()
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, rgb_dns(), scl=scl)
    masked_scl = np.isin(scl, sorted(DOCUMENTED_DEFAULT))
    # hand-counted: 10 m rows 5..13 lie in 20 m rows 2, 3, 3, 4, 4, 5, 5, 6, 6 (the first and last halves)
    assert [r // 2 for r in range(5, 14)] == [2, 3, 3, 4, 4, 5, 5, 6, 6]
    with open_scene([safe], RGB) as source:
        for c0, r0, w, h in WINDOWS:
            got = source.read_exclusion(Window(c0, r0, w, h))
            expected = coarse_to_fine(masked_scl, 2, range(r0, r0 + h), range(c0, c0 + w))
            np.testing.assert_array_equal(got, expected, err_msg=str((c0, r0, w, h)))


def test_l1c_mask_window_ends_inside_a_60m_pixel(tmp_path):
    rng = np.random.default_rng(3)
    classi = (rng.random((3, 6, 6)) < 0.25).astype(np.uint8)
    classi[0] = np.indices((6, 6)).sum(0) % 2    # opaque clouds as a chequerboard: every 60 m step changes
    safe = write_safe(tmp_path, 'L1C', '05.09', 10000, rgb_dns(), classi=classi)
    with open_scene([safe], RGB, mask_classes=[9]) as source:   # opaque clouds only
        for c0, r0, w, h in WINDOWS:
            got = source.read_exclusion(Window(c0, r0, w, h))
            expected = coarse_to_fine(classi[0].astype(bool), 6, range(r0, r0 + h), range(c0, c0 + w))
            np.testing.assert_array_equal(got, expected, err_msg=str((c0, r0, w, h)))


def test_map_of_a_window_inside_20m_pixels_masks_the_right_2m_pixels(tmp_path):
    scl = scl_every_class()
    safe = write_safe(tmp_path, 'L2A', '05.09', 10000, rgb_dns(), scl=scl)
    aoi = Window(3, 5, 25, 23)          # 10 m columns 3..27, rows 5..27: both ends inside 20 m pixels
    with open_scene([safe], RGB) as source:
        result = map_scene(source, PixelModel(), RGB, aoi=aoi, **MAP_KW)
    cls = result.sink.class_map
    assert cls.shape == (23 * 5, 25 * 5)
    # 2 m pixel (y, x) of the map lies in 10 m pixel (5 + y // 5, 3 + x // 5), in 20 m pixel (that // 2)
    rows = [(5 + y // 5) // 2 for y in range(cls.shape[0])]
    cols = [(3 + x // 5) // 2 for x in range(cls.shape[1])]
    expected = np.isin(scl[np.array(rows)[:, None], np.array(cols)[None, :]], sorted(DOCUMENTED_DEFAULT))
    np.testing.assert_array_equal(cls == 255, expected)
