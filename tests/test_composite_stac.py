"""Several dates, one map (--composite), and STAC items / collections of maps (--stac).

Two generated L2A products of one tile (daspm.synthetic.sentinel2_product) ten days apart, with
clouds in different places and a strip without data on both; the model is test_scene_mapping's
per-pixel classifier, so each window's probabilities are exact. The STAC files are validated
offline against the schemas in fixtures/stac_schemas (tests/stac_validation.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from cli_helpers import call_cli, call_cli_ok
from daspm.mapping import input_spec, map_scene, open_scene, output_grid
from daspm.mapping.acquisition import stamp_time
from daspm.mapping.predictor import class_table
from daspm.mapping.composite import composite_to_files, count_path, map_composite, open_dates
from daspm.mapping.stac import stac_path, update_collection, write_stac
from daspm.mapping.writer import ArraySink
from daspm.synthetic.sentinel2_product import write_product
from daspm.utils.errors import DaspmInputError
from stac_validation import stac_errors
# pixel_checkpoint is test_scene_mapping's fixture (config + checkpoint of its per-pixel mmseg EncoderDecoder)
from test_scene_mapping import PixelModel, count_calls, pixel_checkpoint  # noqa: F401

SPEC = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)
SIZE = 60                                            # 10 m pixels: 300 x 300 at 2 m
CLOUDS = ((6, 6, 24, 30), (30, 30, 54, 54))          # rows/cols in 10 m pixels; they do not overlap
NO_DATA = (54, 0, 60, 18)                            # outside the swath on both dates
SENSING = ('20220101T101431', '20220111T101431')
BANDS = ('B2', 'B3', 'B4')
KW = dict(window_size=128, overlap=32, progress=False)
K = PixelModel.num_classes


@pytest.fixture(scope='module')
def dates(tmp_path_factory) -> list[Path]:
    """Two dates of tile T32TQM, other reflectance and other clouds on each."""
    root = tmp_path_factory.mktemp('dates')
    return [write_product(root / f'd{n}', 'L2A', '04.00', SIZE, seed=n + 1, cloud_block=cloud, nodata_block=NO_DATA,
                          bands=BANDS, sensing=sensing)
            for n, (cloud, sensing) in enumerate(zip(CLOUDS, SENSING))]


def _grid(source):
    return output_grid(source, Window(0, 0, source.width, source.height), SPEC.factor(source.gsd(10.0)))


def single(path: Path) -> ArraySink:
    """The single-date map of ``path`` with its uint8 probabilities."""
    with open_scene([path], SPEC) as source:
        sink = ArraySink(_grid(source), num_classes=K)
        map_scene(source, PixelModel(), SPEC, sink, batch_size=1, **KW)
    return sink


def composite(paths, rule='mean'):
    """The composite in memory: (result, class/probability sink, count sink)."""
    with contextlib.ExitStack() as stack:
        sources = open_dates(paths, SPEC, stack)
        sink = ArraySink(_grid(sources[0]), num_classes=K)
        result = map_composite(sources, PixelModel(), SPEC, sink, rule=rule, **KW)
    return result, sink, result.count_sink


def _clear_masks(dates):
    """Where each date is clear on the 2 m grid (its single-date map has a class)."""
    singles = [single(p) for p in dates]
    return singles, [s.class_map != 255 for s in singles]


# ------------------------------------------------------------------------------------------ composite
def test_composite_fills_each_dates_clouds_and_counts_clear_dates(dates):
    (one, two), (v1, v2) = _clear_masks(dates)
    result, sink, count = composite(dates)
    c = sink.class_map
    # the two clouds and the strip without data are where they were generated (x5 on the 2 m grid)
    assert not v1[30:120, 30:150].any() and v1[150:270, 150:270].all()
    assert not v2[150:270, 150:270].any() and not (v1 | v2)[270:, :90].any()
    # clear on either date -> a class; clear on none -> nodata
    assert (c[v1 | v2] != 255).all() and (c[~(v1 | v2)] == 255).all()
    # where one date alone is clear the composite is that date's map, probabilities included
    only1, only2, both = v1 & ~v2, v2 & ~v1, v1 & v2
    assert only1.sum() > 1000 and only2.sum() > 1000 and both.sum() > 10000
    np.testing.assert_array_equal(c[only1], one.class_map[only1])
    np.testing.assert_array_equal(c[only2], two.class_map[only2])
    np.testing.assert_array_equal(sink.probabilities[:, only1], one.probabilities[:, only1])
    # where both are clear: the mean of the two dates' probabilities (uint8 rounding: 1 unit)
    mean = (one.probabilities[:, both].astype(float) + two.probabilities[:, both]) / 2
    assert np.abs(sink.probabilities[:, both] - mean).max() <= 1.0
    assert (c[both] != one.class_map[both]).any() and (c[both] != two.class_map[both]).any()
    # the count: 0 / 1 / 2 clear dates per pixel, and the clear pixels of each date
    np.testing.assert_array_equal(count.class_map, v1.astype(np.uint8) + v2)
    assert set(np.unique(count.class_map)) == {0, 1, 2}
    assert result.clear_pixels == [int(v1.sum()), int(v2.sum())]
    assert result.valid_pixels == int((v1 | v2).sum()) and result.masked_pixels == 0


def test_confidence_rule_weights_each_date_by_its_confidence(dates):
    (one, two), (v1, v2) = _clear_masks(dates)
    _, mean_sink, _ = composite(dates, 'mean')
    _, sink, _ = composite(dates, 'confidence')
    both, only2 = v1 & v2, v2 & ~v1
    np.testing.assert_array_equal(sink.class_map[only2], two.class_map[only2])
    p1, p2 = one.probabilities[:, both] / 254.0, two.probabilities[:, both] / 254.0
    c1, c2 = p1.max(axis=0), p2.max(axis=0)
    expected = (c1 * p1 + c2 * p2) / (c1 + c2) * 254.0
    assert np.abs(sink.probabilities[:, both] - expected).max() <= 1.5
    assert (sink.probabilities[:, both] != mean_sink.probabilities[:, both]).mean() > 0.1
    with pytest.raises(DaspmInputError, match='--composite-rule median: choose one of mean, confidence'):
        composite(dates, 'median')


def test_sensing_times_come_from_product_and_band_file_names():
    assert stamp_time('S2A_MSIL2A_20220111T101431_N0400_R022_T32TQM_20220111T130000') == \
        datetime(2022, 1, 11, 10, 14, 31, tzinfo=timezone.utc)
    assert stamp_time('T33TWM_20230801_B04_10m') == datetime(2023, 8, 1, tzinfo=timezone.utc)
    assert stamp_time('B04_10m') is None and stamp_time('scene_20231399') is None


# ------------------------------------------------------------------------------------------ files and STAC
def _asset_path(item_path: Path, item: dict, name: str) -> Path:
    return (item_path.parent / item['assets'][name]['href']).resolve()


def test_composite_files_and_their_stac_item_validate_and_describe_the_map(dates, tmp_path):
    (one, two), (v1, v2) = _clear_masks(dates)
    out = tmp_path / 'maps' / 'composite.tif'
    result = composite_to_files(dates, PixelModel(), SPEC, out, probabilities=tmp_path / 'maps' / 'p.tif',
                                quicklook=tmp_path / 'maps' / 'q.png', info={'config': None}, **KW)
    with rasterio.open(out) as src:
        c, bounds, crs = src.read(1), src.bounds, src.crs
        assert src.nodata == 255 and src.tags()['COMPOSITE_DATES'] == '2'
    with rasterio.open(count_path(out)) as src:
        np.testing.assert_array_equal(src.read(1), v1.astype(np.uint8) + v2)
    assert (c[v1 & ~v2] == one.class_map[v1 & ~v2]).all() and (c[~(v1 | v2)] == 255).all()
    record = json.loads(result.outputs['sidecar'].read_text())
    assert [d['sensing_time'] for d in record['dates']] == ['2022-01-01T10:14:31+00:00', '2022-01-11T10:14:31+00:00']
    assert [d['clear_pixels'] for d in record['dates']] == [int(v1.sum()), int(v2.sum())]
    assert record['composite'] == {'rule': 'mean', 'dates': 2}

    item_path, = write_stac(out, result.outputs)
    assert item_path == stac_path(out) == tmp_path / 'maps' / 'composite.stac.json'
    item = json.loads(item_path.read_text())
    assert stac_errors(item) == []
    assert len(item['stac_extensions']) == 3   # projection, raster, classification
    loaded = pystac.Item.from_file(str(item_path))
    props = item['properties']
    assert props['datetime'] is None
    assert (props['start_datetime'], props['end_datetime']) == ('2022-01-01T10:14:31Z', '2022-01-11T10:14:31Z')
    assert [d['input'] for d in props['daspm:dates']] == [str(p) for p in dates]
    assert props['proj:code'] == 'EPSG:32632' and props['proj:shape'] == [300, 300]
    assert props['proj:bbox'] == pytest.approx(list(bounds))
    assert loaded.bbox == pytest.approx(list(transform_bounds(crs, 'EPSG:4326', *bounds)), abs=1e-6)
    classes = item['assets']['map']['classification:classes']
    names, palette = class_table(PixelModel())
    assert [(x['value'], x['description']) for x in classes] == list(enumerate(names))
    assert [x['color_hint'] for x in classes] == ['{:02X}{:02X}{:02X}'.format(*rgb) for rgb in palette]
    assert set(item['assets']) == {'map', 'count', 'probabilities', 'quicklook', 'sidecar'}
    assert item['assets']['quicklook']['roles'] == ['thumbnail']
    assert [b['name'] for b in item['assets']['probabilities']['bands']] == names
    assert item['assets']['probabilities']['raster:bands'][0]['scale'] == pytest.approx(1 / 254)
    assert item['assets']['map']['raster:bands'][0]['nodata'] == 255
    # every raster asset opens and lies on the map's grid; the others are there
    for name in ('map', 'count', 'probabilities'):
        with rasterio.open(_asset_path(item_path, item, name)) as src:
            assert src.bounds == bounds and src.read(1).shape == (300, 300)
    assert _asset_path(item_path, item, 'quicklook').stat().st_size > 0
    assert json.loads(_asset_path(item_path, item, 'sidecar').read_text())['dates'] == record['dates']
    # nothing else, nothing temporary, is left in the folder
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ['composite.tif', 'composite.tif.aux.xml', 'composite_count.tif', 'composite_count.tif.aux.xml',
         'composite.json', 'composite.stac.json', 'p.tif', 'q.png'])


def test_a_composite_removes_the_partials_a_killed_composite_left(dates, tmp_path):
    """Partial files of this composite's outputs (map, count) from a dead process go; others stay."""
    maps = tmp_path / 'maps'
    maps.mkdir()
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()                          # its pid names partials no live process writes
    stale = [f'.composite.{dead.pid}-abcd1234.tif.part', f'.composite_count.{dead.pid}-abcd1234.tif.part',
             f'.composite.{dead.pid}-abcd1234.tif.part.stream.tif']
    kept = {f'.other.{dead.pid}-abcd1234.tif.part': b'another output', 'notes.part': b'the user\'s'}
    for name in stale:
        (maps / name).write_bytes(b'killed')
    for name, content in kept.items():
        (maps / name).write_bytes(content)
    composite_to_files(dates, PixelModel(), SPEC, maps / 'composite.tif', info={'config': None}, **KW)
    left = {p.name for p in maps.iterdir()}
    assert left.isdisjoint(stale)
    assert all((maps / name).read_bytes() == content for name, content in kept.items())


def test_cli_out_dir_writes_items_and_a_collection_and_a_composite_item(dates, tmp_path, pixel_checkpoint):
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    common = [str(config), str(checkpoint), '--window-size', '128', '--overlap', '32', '--device', 'cpu',
              '--no-progress', '--stac']
    out_dir = tmp_path / 'run'
    run = call_cli_ok(main, [str(dates[0]), *common[:-1], '--out-dir', str(out_dir), '--quicklook'])
    assert not (out_dir / 'collection.json').exists() and not stac_path(out_dir / f'{dates[0].stem}.tif').exists()
    # a rerun with --stac: the finished scene gets its item too, the new one is mapped; both in the collection
    run = call_cli_ok(main, [str(dates[0]), str(dates[1]), *common, '--out-dir', str(out_dir), '--quicklook'])
    assert [r.status for r in run.value] == ['skipped', 'mapped'] and 'collection.json' in run.stdout
    first = json.loads(stac_path(out_dir / f'{dates[0].stem}.tif').read_text())
    assert set(first['assets']) == {'map', 'quicklook', 'sidecar'}
    collection = json.loads((out_dir / 'collection.json').read_text())
    assert stac_errors(collection) == []
    loaded = pystac.Collection.from_file(str(out_dir / 'collection.json'))
    items = sorted(loaded.get_items(), key=lambda i: i.id)
    assert [i.id for i in items] == [p.stem for p in dates]
    assert [i.datetime for i in items] == [stamp_time(s) for s in SENSING]
    assert loaded.extent.temporal.intervals == [[stamp_time(SENSING[0]), stamp_time(SENSING[1])]]
    for item in items:
        # the file as written (pystac migrates the classification extension's version when it reads one)
        assert stac_errors(json.loads((out_dir / f'{item.id}.stac.json').read_text())) == []
        assert item.collection_id == 'run'
        with rasterio.open(out_dir / f'{item.id}.tif') as src:
            assert item.bbox == pytest.approx(list(transform_bounds(src.crs, 'EPSG:4326', *src.bounds)), abs=1e-6)
        assert item.properties['daspm:checkpoint_sha256'] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        assert item.properties['daspm:config_sha256'] == hashlib.sha256(config.read_bytes()).hexdigest()
        assert item.properties['daspm:source_products'] == [item.id]
    assert loaded.extent.spatial.bboxes[0] == pytest.approx(items[0].bbox)
    assert update_collection(tmp_path / 'empty_folder_that_is_not_there') is None
    # the composite through the command line: its item lists both dates and hashes the model
    out = tmp_path / 'one' / 'c.tif'
    run = call_cli_ok(main, [str(dates[0]), str(dates[1]), *common, '--composite', '--out', str(out),
                             '--composite-rule', 'confidence'])
    assert 'date 2: ' in run.stdout and '2 dates of 60x60 px' in run.stdout
    item = json.loads(stac_path(out).read_text())
    assert stac_errors(item) == [] and item['properties']['daspm:composite_rule'] == 'confidence'
    assert item['properties']['daspm:source_products'] == [p.stem for p in dates]
    assert [link['rel'] for link in item['links']].count('derived_from') == 2
    assert not (tmp_path / 'one' / 'collection.json').exists()


def _only_line(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.code == 2 and len(lines) == 1, run.stderr
    return lines[0]


def test_bad_dates_and_unwritable_stac_folder_end_in_one_line_and_write_nothing(dates, tmp_path, pixel_checkpoint):
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    other_tile = write_product(tmp_path / 'other', 'L2A', '04.00', SIZE, seed=3, bands=BANDS, tile='T32TQN',
                               sensing=SENSING[1], origin=(600000.0, 5000640.0))
    fewer_bands = write_product(tmp_path / 'fewer', 'L2A', '04.00', SIZE, seed=3, bands=('B3', 'B4'),
                                sensing=SENSING[1])
    band_folder = tmp_path / 'bands'
    shutil.copytree(next(dates[1].rglob('R10m')), band_folder)
    broken = tmp_path / 'S2B_MSIL2A_20220121T101431_N0400_R022_T32TQM_20220121T130000.zip'
    broken.write_bytes(b'PK\x03\x04 cut off while downloading')
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    cases = [
        ([dates[0], other_tile], f'{other_tile} is not on the grid of {dates[0]}'),
        ([dates[0], band_folder], f'{band_folder} is band files (no product offsets), {dates[0]} is a Sentinel-2 '
                                  'product (its offsets applied): give every date in the same form'),
        ([dates[0], fewer_bands], f"{fewer_bands}: the config needs band(s) ['B2'], which this L2A product has no "
                                  'file for'),
        ([dates[0], broken, dates[1]], f'{broken}: not a readable zip file; download the product again'),
        ([dates[0]], '--composite combines several dates: give two or more products'),
    ]
    common = [str(config), str(checkpoint), '--device', 'cpu', '--no-progress', '--composite', '--stac']
    for inputs, message in cases:
        run = call_cli(main, [*map(str, inputs), *common, '--out', str(out_dir / 'c.tif')])
        assert message in _only_line(run), (message, run.stderr)
    # --stac into a folder that cannot be written, refused before any mapping
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    run = call_cli(main, [str(dates[0]), str(dates[1]), *common, '--out', str(blocker / 'maps' / 'c.tif')])
    assert f'--stac: cannot write STAC files into {blocker / "maps"}: {blocker} is a file' in _only_line(run)
    run = call_cli(main, [str(dates[0]), *common[:-2], '--stac', '--out-dir', str(blocker)])
    assert f'--stac: cannot write STAC files into {blocker}' in _only_line(run)
    assert list(out_dir.iterdir()) == []
    # a date whose band file breaks after opening: named, and nothing that looks finished is left
    damaged = tmp_path / 'damaged'
    shutil.copytree(dates[1], damaged / dates[1].name)
    band = next((damaged / dates[1].name).rglob('*_B04_10m.jp2'))
    band.write_bytes(band.read_bytes()[:len(band.read_bytes()) // 2])
    run = call_cli(main, [str(dates[0]), str(damaged / dates[1].name), *common, '--out', str(out_dir / 'c.tif')])
    assert str(damaged / dates[1].name) in _only_line(run) or str(band) in _only_line(run)
    assert list(out_dir.iterdir()) == []


def test_a_single_date_whose_band_file_breaks_ends_in_one_line(dates, tmp_path, pixel_checkpoint):
    """A band file cut in half (a damaged download) breaks while windows are read: one line, no map."""
    from daspm.cli.map_scene import main
    config, checkpoint = pixel_checkpoint
    damaged = tmp_path / 'damaged' / dates[0].name
    shutil.copytree(dates[0], damaged)
    band = next(damaged.rglob('*_B04_10m.jp2'))
    band.write_bytes(band.read_bytes()[:band.stat().st_size // 2])
    out = tmp_path / 'maps' / 'map.tif'
    run = call_cli(main, [str(damaged), str(config), str(checkpoint), '--device', 'cpu', '--window-size', '128',
                          '--overlap', '32', '--no-progress', '--out', str(out)])
    line = _only_line(run)
    assert line.startswith('error: ') and 'reading failed' in line and 'the file is damaged' in line
    assert str(damaged) in line or str(band) in line
    assert not out.parent.exists() or [p.name for p in out.parent.iterdir()] == []


def test_cli_composite_opens_plans_and_checks_each_date_once(dates, tmp_path, pixel_checkpoint, monkeypatch, capsys):
    """--composite: each date opened once, the area planned once, the outputs checked once (d728f84: twice each)."""
    import daspm.mapping.composite as composite
    import daspm.mapping.mapper as mapper
    import daspm.mapping.plan as plan
    from daspm.cli.map_scene import main
    calls = count_calls(monkeypatch, [(composite, 'open_scene'), (plan, 'resolve_aoi'), (mapper, 'check_outputs')])
    config, checkpoint = pixel_checkpoint
    out = tmp_path / 'c.tif'
    result = main([str(dates[0]), str(dates[1]), str(config), str(checkpoint), '--composite', '--out', str(out),
                   '--window-size', '128', '--overlap', '32', '--device', 'cpu', '--no-progress',
                   '--window', '6', '0', '30', '24'])
    assert calls == {'open_scene': 2, 'resolve_aoi': 1, 'check_outputs': 1}
    assert '2 dates of 60x60 px' in capsys.readouterr().out
    with rasterio.open(out) as dst, rasterio.open(composite.count_path(out)) as count:
        assert dst.shape == count.shape == (120, 150) == (result.grid.height, result.grid.width)
        assert set(np.unique(count.read(1))) <= {0, 1, 2}
