"""Sentinel-2 products as input (.SAFE / .zip, L1C / L2A, baselines, masks), COG outputs, many scenes.

The products are generated (daspm.synthetic.sentinel2_product): 60 x 60 pixels at 10 m with the
JPEG 2000 band files, metadata and quality masks of real products, written through GDAL's
JP2OpenJPEG driver (lossless), and a zipped copy read through /vsizip/.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window

from cli_helpers import call_cli, call_cli_ok
from conftest import write_tif
from daspm.mapping import (as_predictor, inference_copy, input_spec, map_scene, map_scene_to_files, open_scene,
                              read_product)
from daspm.mapping.batch import plan_jobs, read_scene_list, scene_name, share
from daspm.mapping.predictor import ShiftedDepthwiseConv2d
from daspm.synthetic.sentinel2_product import write_product
from daspm.utils.errors import DaspmInputError
# pixel_checkpoint is test_scene_mapping's fixture (config + checkpoint of its per-pixel mmseg EncoderDecoder)
from test_scene_mapping import (UDA_CONFIG, PixelModel, ScenePixelBackbone, pixel_checkpoint,  # noqa: F401
                                smooth_bands)

SPEC = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
SIZE = 60                     # 10 m pixels: 300 x 300 at 2 m
CLOUD = (12, 18, 30, 42)      # rows 12..30, columns 18..42 (multiples of 6: exact at 20 m and 60 m)
CLOUD_SHARE = (18 * 24) / (SIZE * SIZE)
BANDS = ('B1', 'B2', 'B3', 'B4', 'B8', 'B11')   # fewer band files than a real product: quicker to write
MAP_KW = dict(window_size=128, overlap=32, batch_size=2, progress=False)


@pytest.fixture(scope='module')
def products(tmp_path_factory) -> dict[str, Path]:
    """L2A and L1C products, before (no offsets) and from baseline 04.00, with a cloud block; and a zip."""
    root = tmp_path_factory.mktemp('products')
    made = {}
    for level in ('L2A', 'L1C'):
        for baseline in ('02.09', '04.00'):
            made[f'{level} {baseline}'] = write_product(root / f'{level}_{baseline}', level, baseline, SIZE, seed=1,
                                                        cloud_block=CLOUD, bands=BANDS)
    made['L2A zip'] = write_product(root / 'zipped', 'L2A', '04.00', SIZE, seed=1, cloud_block=CLOUD, bands=BANDS,
                                    zip_it=True)
    return made


def map_product(path, mask_classes=(0, 1, 3, 8, 9, 10, 11), spec=SPEC):
    """Map in memory; returns the MappingResult (class map and confidence in result.sink)."""
    with open_scene([path], spec, mask_classes=mask_classes) as source:
        return map_scene(source, PixelModel(), spec, **MAP_KW)


# ------------------------------------------------------------------------------------- reading products
def test_products_are_recognised_by_their_metadata(products):
    l2a = read_product(products['L2A 04.00'])
    assert (l2a.level, l2a.baseline, l2a.quantification) == ('L2A', '04.00', 10000.0)
    assert l2a.offsets['B4'] == -1000.0 and l2a.radiometry('B4') == (-1000.0, 1.0)
    # each band at its native resolution: B02 exists at 10, 20 and 60 m, B01 at 20 and 60 m
    assert l2a.bands['B2'].endswith('R10m/T32TQM_20220101T101431_B02_10m.jp2')
    assert l2a.bands['B1'].endswith('R60m/T32TQM_20220101T101431_B01_60m.jp2')
    assert l2a.bands['B11'].endswith('_B11_20m.jp2') and l2a.scl.endswith('_SCL_20m.jp2')
    old = read_product(products['L2A 02.09'])
    assert old.offsets == {} and old.radiometry('B4') == (0.0, 1.0)
    l1c = read_product(products['L1C 04.00'])
    assert l1c.level == 'L1C' and l1c.offsets['B11'] == -1000.0 and l1c.bands['B4'].endswith('_B04.jp2')
    assert l1c.cloud_mask.endswith('QI_DATA/MSK_CLASSI_B00.jp2')
    assert read_product(products['L1C 02.09']).gml_cloud_mask.endswith('MSK_CLOUDS_B00.gml')
    zipped = read_product(products['L2A zip'])
    assert zipped.bands['B4'].startswith('/vsizip/') and zipped.name == l2a.name
    with rasterio.open(zipped.bands['B4']) as src:
        assert src.driver == 'JP2OpenJPEG' and src.res == (10.0, 10.0)


def test_two_baselines_give_identical_maps(products):
    # DN_new = DN_old + 1000 with BOA_ADD_OFFSET / RADIO_ADD_OFFSET -1000
    for level in ('L2A', 'L1C'):
        with rasterio.open(read_product(products[f'{level} 02.09']).bands['B4']) as a, \
                rasterio.open(read_product(products[f'{level} 04.00']).bands['B4']) as b:
            old, new = a.read(1).astype(int), b.read(1).astype(int)
            assert (new == old + 1000).all()
        maps = [map_product(products[f'{level} {b}'], mask_classes=()).sink for b in ('02.09', '04.00')]
        np.testing.assert_array_equal(maps[0].class_map, maps[1].class_map)
        np.testing.assert_array_equal(maps[0].confidence, maps[1].confidence)
    # the model sees reflectance / 3000 as for a GeoTIFF of the old baseline's DNs (the config's offset
    # is not added on top of the product's)
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, offset=-1000.0, out_gsd=2.0)
    with open_scene([products['L2A 04.00']], spec) as source:
        raw, _ = source.read(Window(0, 0, 8, 8))
        assert source.harmonised and any('not added' in n for n in source.notes)
    with rasterio.open(read_product(products['L2A 02.09']).bands['B4']) as src:
        np.testing.assert_array_equal(raw[0], src.read(1, window=Window(0, 0, 8, 8)))


def test_zip_maps_like_the_folder_and_coarse_bands_are_resampled(products):
    a = map_product(products['L2A 04.00']).sink.class_map
    b = map_product(products['L2A zip']).sink.class_map
    np.testing.assert_array_equal(a, b)
    spec = input_spec(bands=['B11', 'B1', 'B4'], scale=3000.0, out_gsd=2.0)
    with open_scene([products['L2A zip']], spec) as source:
        assert source.band_names == ['B11', 'B1', 'B4'] and source.factors == [2, 6, 1]
        assert (source.height, source.width) == (SIZE, SIZE)


# ------------------------------------------------------------------------------------- masks
def test_scl_cloud_block_becomes_nodata_and_its_share_is_reported(products):
    result = map_product(products['L2A 04.00'])
    cls = result.sink.class_map
    cloud = np.zeros((SIZE * 5, SIZE * 5), bool)
    r0, c0, r1, c1 = (5 * v for v in CLOUD)
    cloud[r0:r1, c0:c1] = True
    np.testing.assert_array_equal(cls == 255, cloud)
    assert result.masked_share == pytest.approx(CLOUD_SHARE) and result.valid_share == pytest.approx(1 - CLOUD_SHARE)
    assert any(n.startswith('mask: SCL classes') for n in result.notes)
    # the model still saw the cloudy pixels: outside the block the map equals the unmasked one
    unmasked = map_product(products['L2A 04.00'], mask_classes=())
    assert unmasked.masked_share == 0.0 and (unmasked.sink.class_map != 255).all()
    np.testing.assert_array_equal(cls[~cloud], unmasked.sink.class_map[~cloud])
    # classes are configurable: the block is SCL 9 (cloud high probability)
    assert map_product(products['L2A 04.00'], mask_classes=(8, 10)).masked_share == 0.0


def test_l1c_cloud_mask_from_baseline_4_and_none_before(products):
    new = map_product(products['L1C 04.00'])
    assert new.masked_share == pytest.approx(CLOUD_SHARE)
    assert any('L1C cloud mask layers opaque clouds' in n for n in new.notes)
    old = map_product(products['L1C 02.09'])
    assert old.masked_share == 0.0 and (old.sink.class_map != 255).all()
    assert any(n.startswith('mask: none applied') and 'MSK_CLOUDS_B00.gml' in n for n in old.notes)


def test_whole_windows_under_clouds_are_skipped_but_counted_as_masked(tmp_path):
    product = write_product(tmp_path, 'L2A', '04.00', SIZE, cloud_block=(0, 0, 30, SIZE), bands=('B2', 'B3', 'B4'))
    model = PixelModel()
    with open_scene([product], SPEC) as source:
        result = map_scene(source, model, SPEC, window_size=64, overlap=16, batch_size=3, progress=False)
    assert result.skipped_windows > 0 and model.windows == result.windows - result.skipped_windows
    assert result.masked_share == pytest.approx(0.5) and (result.sink.class_map[:150] == 255).all()


# ------------------------------------------------------------------------------------- errors
def test_errors_name_what_is_missing(tmp_path, products):
    no_b4 = write_product(tmp_path / 'no_b4', 'L2A', '04.00', 12, bands=('B2', 'B3'))
    with pytest.raises(DaspmInputError, match=r"needs band\(s\) \['B4'\].*bands found: \['B2', 'B3'\]"):
        open_scene([no_b4], SPEC)
    l1b = tmp_path / 'S2A_MSIL1B_x.SAFE'
    l1b.mkdir()
    (l1b / 'MTD_MSIL1B.xml').write_text('<x/>')
    with pytest.raises(DaspmInputError, match='not a Sentinel-2 L1C or L2A product.*MTD_MSIL1B.xml'):
        open_scene([l1b], SPEC)
    empty_zip = tmp_path / 'empty.zip'
    import zipfile
    with zipfile.ZipFile(empty_zip, 'w') as zf:
        zf.writestr('readme.txt', 'nothing')
    with pytest.raises(DaspmInputError, match=r'empty.zip is not a Sentinel-2 L1C or L2A product'):
        open_scene([empty_zip], SPEC)
    with pytest.raises(DaspmInputError, match='--mask-classes'):
        map_product(products['L2A 04.00'], mask_classes=(12,))


# ------------------------------------------------------------------------------------- COG outputs
def _cog_problems(path: Path) -> list[str]:
    """GDAL's COG checks (validate_cloud_optimized_geotiff.py), on the TIFF structure read with struct."""
    data = Path(path).read_bytes()
    order = {b'II': '<', b'MM': '>'}[data[:2]]
    big = struct.unpack(order + 'H', data[2:4])[0] == 43
    header = 16 if big else 8
    first = struct.unpack(order + ('Q' if big else 'I'), data[header - (8 if big else 4):header])[0]
    problems = []
    ghost = data[header:header + 43]
    if not ghost.startswith(b'GDAL_STRUCTURAL_METADATA_SIZE='):
        problems.append('no ghost area with GDAL_STRUCTURAL_METADATA after the header')
    else:
        size = int(ghost[30:36])
        text = data[header + 43:header + 43 + size].decode()
        for item in ('LAYOUT=IFDS_BEFORE_DATA', 'BLOCK_ORDER=ROW_MAJOR', 'BLOCK_LEADER=SIZE_AS_UINT4',
                     'BLOCK_TRAILER=LAST_4_BYTES_REPEATED', 'KNOWN_INCOMPATIBLE_EDITION=NO'):
            if item not in text:
                problems.append(f'ghost area lacks {item}')
    sizes = {3: ('H', 2), 4: ('I', 4), 16: ('Q', 8)}
    ifds, offset = [], first
    while offset:
        count = struct.unpack(order + ('Q' if big else 'H'), data[offset:offset + (8 if big else 2)])[0]
        pos, entry = offset + (8 if big else 2), (20 if big else 12)
        tags = {}
        for i in range(count):
            raw = data[pos + i * entry:pos + (i + 1) * entry]
            tag, kind = struct.unpack(order + 'HH', raw[:4])
            n = struct.unpack(order + ('Q' if big else 'I'), raw[4:12 if big else 8])[0]
            fmt, width = sizes.get(kind, ('B', 1))
            inline = raw[12:] if big else raw[8:]
            if n * width <= len(inline):
                values = struct.unpack(order + fmt * n, inline[:n * width])
            else:
                at = struct.unpack(order + ('Q' if big else 'I'), inline)[0]
                values = struct.unpack(order + fmt * n, data[at:at + n * width])
            tags[tag] = values
        ifds.append((offset, tags))
        next_at = pos + count * entry
        offset = struct.unpack(order + ('Q' if big else 'I'), data[next_at:next_at + (8 if big else 4)])[0]
    if first > 300:
        problems.append(f'the main IFD is at byte {first}, not right after the header and ghost area')
    images = [(o, t) for o, t in ifds if not (t.get(254, (0,))[0] & 4)]   # not masks

    def block_offsets(tags: dict) -> tuple:
        return tags[324] if 324 in tags else tags[273]   # tiles, or strips

    first_data = min(min(block_offsets(t)) for _, t in images)
    for o, tags in images:
        if 322 not in tags:
            problems.append(f'IFD at {o} is not tiled')
            continue
        if o > first_data:
            problems.append(f'IFD at {o} comes after image data (at {first_data})')
        offsets = [v for v, n in zip(tags[324], tags[325]) if n]
        if offsets != sorted(offsets):
            problems.append(f'blocks of the IFD at {o} are not in row-major order')
    widths = [t[256][0] for _, t in images]
    if widths != sorted(widths, reverse=True):
        problems.append('overviews are not in decreasing size after the main image')
    # the data of smaller overviews first, the full resolution last
    starts = [min(block_offsets(t)) for _, t in images]
    if starts != sorted(starts, reverse=True):
        problems.append('the data of the full-resolution image is not after that of its overviews')
    return problems


def test_cog_checker_refuses_a_plain_tiled_geotiff(tmp_path):
    path = write_tif(tmp_path / 'plain.tif', np.zeros((300, 300), np.uint8))
    with rasterio.open(path, 'r+') as dst:
        dst.build_overviews([2], rasterio.enums.Resampling.nearest)
    assert _cog_problems(path)


def test_maps_are_valid_cogs_with_probabilities_uncertainty_and_sidecar(tmp_path, products):
    # a plain GeoTIFF of 110 x 110 pixels: a 550 x 550 map, big enough for one overview level
    scene = write_tif(tmp_path / 'scene.tif', smooth_bands((110, 110), seed=8), gsd=10.0,
                      descriptions=['B2', 'B3', 'B4', 'B8'])
    out = tmp_path / 'map.tif'
    extra = {name: tmp_path / f'{name}.tif' for name in ('confidence', 'probabilities', 'uncertainty')}
    result = map_scene_to_files([scene], PixelModel(), SPEC, out, **extra, info={'config': 'c.py'}, **MAP_KW)
    for path in (out, *extra.values()):
        assert _cog_problems(path) == [], path
        with rasterio.open(path) as src:
            assert src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
            assert src.profile['tiled'] and src.block_shapes[0] == (256, 256) and src.overviews(1) == [2]
    with rasterio.open(out) as m, rasterio.open(extra['probabilities']) as p, \
            rasterio.open(extra['uncertainty']) as u:
        cls, probs, unc = m.read(1), p.read(), u.read(1)
        assert m.colormap(1)[2][:3] == (255, 255, 0) and m.nodata == 255
        assert m.tags()['CLASS_NAMES'].startswith('green area') and m.tags()['MASKED_SHARE'] == '0.000000'
        overview = m.read(1, out_shape=(275, 275))   # mode resampling keeps class ids
        assert set(np.unique(overview)) <= set(np.unique(cls))
        assert p.count == 5 and p.descriptions[0] == 'green area' and p.nodata == 255
        assert p.scales[0] == pytest.approx(1 / 254)
    assert (probs.argmax(0) == cls).mean() > 0.99      # up to ties after rounding to uint8
    assert np.abs(probs.astype(int).sum(0) - 254).max() <= 3 and unc.max() <= 254
    with open_scene([scene], SPEC) as source:
        np.testing.assert_array_equal(cls, map_scene(source, PixelModel(), SPEC, **MAP_KW).sink.class_map)
    record = json.loads((tmp_path / 'map.json').read_text())
    assert record['config'] == 'c.py' and record['valid_share'] == 1.0 and record['masked_share'] == 0.0
    assert set(record['timings']) >= {'read', 'forward', 'blend', 'write', 'cog', 'total'}
    assert result.outputs['sidecar'] == tmp_path / 'map.json'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')], 'temporary files left behind'


def test_probabilities_of_masked_pixels_are_nodata(tmp_path, products):
    out = tmp_path / 'm.tif'
    map_scene_to_files([products['L2A zip']], PixelModel(), SPEC, out, probabilities=tmp_path / 'p.tif', **MAP_KW)
    with rasterio.open(out) as m, rasterio.open(tmp_path / 'p.tif') as p:
        cls, probs = m.read(1), p.read()
        assert float(m.tags()['MASKED_SHARE']) == pytest.approx(CLOUD_SHARE)
        assert 'SCL classes' in m.tags()['QUALITY_MASK']
    assert ((probs == 255).all(0) == (cls == 255)).all()
    assert _cog_problems(out) == []


# ------------------------------------------------------------------------------------- the model and workers
def test_inference_copy_and_parallel_windows_give_the_same_map(tmp_path):
    conv = torch.nn.Conv2d(8, 8, 3, padding=6, dilation=6, groups=8, bias=True)
    shifted = ShiftedDepthwiseConv2d.from_conv(conv)
    x = torch.rand(2, 8, 20, 23)
    with torch.no_grad():
        torch.testing.assert_close(shifted(x), conv(x), atol=1e-6, rtol=1e-5)
    from daspm.apis.config_loading import load_config
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(load_config(UDA_CONFIG).model).eval()
    segmentor = model.eval_model
    # random BN statistics, so that folding them is really tested
    for module in segmentor.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    fast = inference_copy(segmentor)
    assert any(isinstance(m, ShiftedDepthwiseConv2d) for m in fast.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.decode_head.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in segmentor.modules()), 'the model itself changed'
    image = torch.rand(1, 3, 64, 64)
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64))]
    with torch.no_grad():
        torch.testing.assert_close(fast.encode_decode(image, metas), segmentor.encode_decode(image, metas),
                                   atol=1e-4, rtol=1e-4)
    scene = write_tif(tmp_path / 's.tif', smooth_bands((20, 24), seed=3), gsd=10.0,
                      descriptions=['B2', 'B3', 'B4', 'B8'])
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, out_gsd=2.0)
    predictor = as_predictor(model)
    assert predictor.thread_safe
    maps = []
    # each of the 3 workers runs single-threaded; the single worker must too, or its forward pass
    # rounds differently in the last bit (measured 4.8e-7 in the confidence with 2 threads)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for workers in (1, 3):
            with open_scene([scene], spec) as source:
                maps.append(map_scene(source, predictor, spec, window_size=48, overlap=16, batch_size=1,
                                      workers=workers, progress=False))
    finally:
        torch.set_num_threads(threads)
    assert maps[1].workers == 3
    np.testing.assert_array_equal(maps[0].sink.class_map, maps[1].sink.class_map)
    np.testing.assert_array_equal(maps[0].sink.confidence, maps[1].sink.confidence)


# ------------------------------------------------------------------------------------- the command line
def test_cli_maps_a_zipped_l2a_product(tmp_path, products, pixel_checkpoint):
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    out = tmp_path / 'map.tif'
    run = call_cli_ok(main, [str(products['L2A zip']), str(config), str(checkpoint), '--out', str(out),
                             '--window-size', '128', '--overlap', '32', '--device', 'cpu', '--no-progress',
                             '--uncertainty', str(tmp_path / 'u.tif')])
    assert 'L2A product, processing baseline 04.00' in run.stdout and 'mask: SCL classes' in run.stdout
    assert f'masked by the quality mask: {100 * CLOUD_SHARE:.1f}%' in run.stdout
    record = json.loads((tmp_path / 'map.json').read_text())
    assert record['product']['level'] == 'L2A' and record['checkpoint'] == str(checkpoint)
    assert record['masked_share'] == pytest.approx(CLOUD_SHARE)
    assert _cog_problems(out) == [] and (tmp_path / 'u.tif').exists()
    # --no-mask: nothing masked
    run = call_cli_ok(main, [str(products['L2A zip']), str(config), str(checkpoint), '--out', str(out),
                             '--overwrite', '--no-mask', '--device', 'cpu', '--no-progress'])
    assert 'mask: none applied (--no-mask)' in run.stdout and 'quality mask: 0.0%' in run.stdout


def test_cli_many_scenes_out_dir_list_rerun_and_ranks(tmp_path, products, pixel_checkpoint, monkeypatch):
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    scenes = [products['L2A 02.09'], products['L1C 04.00'], products['L2A zip']]
    listing = tmp_path / 'scenes.txt'
    listing.write_text('# scenes to map\n' + '\n'.join(str(p) for p in scenes) + '\n\n')
    assert read_scene_list(listing) == scenes
    out_dir = tmp_path / 'maps'
    common = [str(config), str(checkpoint), '--out-dir', str(out_dir), '--window-size', '128', '--overlap', '32',
              '--device', 'cpu', '--no-progress', '--confidence']
    # two processes as torchrun would start them: rank 0 maps scenes 0 and 2, rank 1 scene 1
    for rank in (1, 0):
        monkeypatch.setenv('RANK', str(rank))
        monkeypatch.setenv('WORLD_SIZE', '2')
        monkeypatch.setenv('LOCAL_RANK', str(rank))
        run = call_cli_ok(main, ['--list', str(listing), *common])
        assert f'[rank {rank}/2]' in run.stdout
        mapped = [r.name for r in run.value if r.status == 'mapped']
        assert mapped == [scene_name(p) for p in scenes[rank::2]]
    names = [scene_name(p) for p in scenes]
    for name in names:
        assert (out_dir / f'{name}.tif').exists() and (out_dir / f'{name}_confidence.tif').exists()
        assert json.loads((out_dir / f'{name}.json').read_text())['input'] == [str(scenes[names.index(name)])]
    summary = (out_dir / 'summary.tsv').read_text().splitlines()
    assert len(summary) == 4 and all('\tdone\t' in line for line in summary[1:])
    # a rerun (one process) skips the finished scenes; the table lists each scene, its time and valid share
    monkeypatch.delenv('RANK')
    monkeypatch.delenv('WORLD_SIZE')
    monkeypatch.delenv('LOCAL_RANK')
    run = call_cli_ok(main, [str(scenes[0]), *common])
    assert [r.status for r in run.value] == ['skipped']
    run = call_cli_ok(main, ['--list', str(listing), *common])
    assert [r.status for r in run.value] == ['skipped'] * 3 and 'already mapped' in run.stdout
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('scene '))
    assert 'seconds' in lines[header] and 'valid %' in lines[header]
    masked_row = next(line for line in lines if line.startswith(scene_name(products['L2A zip'])))
    assert f'{100 * (1 - CLOUD_SHARE):.1f}' in masked_row


def test_cli_modes_are_unambiguous(tmp_path, products, pixel_checkpoint, capsys):
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    cases = [
        ([str(products['L2A 04.00']), str(products['L1C 04.00']), str(config), str(checkpoint), '--out',
          str(tmp_path / 'a.tif')], 'give --out-dir'),
        (['--list', str(tmp_path / 'x.txt'), str(config), str(checkpoint), '--out', str(tmp_path / 'a.tif')],
         '--list maps many scenes'),
        ([str(products['L2A 04.00']), str(config), str(checkpoint)], 'give --out map.tif'),
        ([str(products['L2A 04.00']), str(config), str(checkpoint), '--out-dir', str(tmp_path), '--confidence',
          'c.tif'], 'takes no file name with --out-dir'),
        ([str(products['L2A 04.00']), str(config), str(checkpoint), '--out', str(tmp_path / 'b.tif'),
          '--confidence'], 'needs a file name with --out'),
    ]
    for argv, message in cases:
        run = call_cli(main, argv)
        assert run.code == 2 and message in run.stderr, (argv, run.stderr)
    # the same scene name twice cannot go to one folder
    with pytest.raises(DaspmInputError, match='would both be written'):
        plan_jobs([products['L2A 04.00'], products['L2A 04.00']], tmp_path)
    assert share(list(range(5)), 1, 2) == [1, 3]
