"""NaN/Inf input pixels are nodata everywhere (training tiles, scene maps, the image demo), and the
mapper's output paths: stale partial files of a killed run, and output-path errors in one line."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch
from mmengine.dataset import Compose
from rasterio.windows import Window

from conftest import write_tif
from dacs_helpers import CROP, build_dacs, make_batch
from daspm.mapping import FineWindowReader, input_spec, map_scene, map_scene_to_files, open_scene, output_grid
from daspm.mapping.resample import value_range
from daspm.datasets.transforms import LoadGeoTiff, LoadGeoTiffAnnotations
from daspm.datasets.transforms.subpixel import INTERPOLATIONS, SubPixelResample
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output
from test_scene_mapping import SPEC, UDA_CONFIG, PixelModel, _cli_error, pixel_checkpoint  # noqa: F401

BANDS = ['B2', 'B3', 'B4', 'B8']
SIZE = 40
BLOCK = (slice(10, 14), slice(20, 25))   # input pixels made NaN/Inf
# input pixels around the block whose values resampling may draw from it: bicubic reads 2 neighbours
REACH = 2
SPECS = {
    'bicubic x5': SPEC,
    'bilinear x2.5': input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=4.0,
                                interpolation='bilinear'),
    'nearest x5': input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0,
                             interpolation='nearest'),
    'input grid': input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0),
}


def scene_pair(tmp_path: Path) -> tuple[Path, Path]:
    """float32 scenes without and with a block of NaN/+Inf/-Inf pixels (one band or all bands).

    Without the block, the block's pixels hold each band's median: neither the smallest nor the
    largest value, so the range SubPixelResample clips to is the same for both scenes.
    """
    # pixel-scale variation, so that the cubic kernel undershoots the smallest value somewhere
    clean = np.random.default_rng(21).uniform(300, 3000, (4, SIZE, SIZE)).astype(np.float32)
    clean[(slice(None), *BLOCK)] = np.median(clean, axis=(1, 2))[:, None, None]
    broken = clean.copy()
    block = broken[(slice(None), *BLOCK)]
    block[2, 0] = np.nan          # row 0 of the block: NaN in B4 only
    block[1, 1] = np.inf          # row 1: +Inf in B3 only
    block[0, 2] = -np.inf         # row 2: -Inf in B2 only
    block[:, 3] = np.nan          # row 3: NaN in every band
    broken[(slice(None), *BLOCK)] = block
    return (write_tif(tmp_path / 'clean.tif', clean, gsd=10.0, descriptions=BANDS),
            write_tif(tmp_path / 'broken.tif', broken, gsd=10.0, descriptions=BANDS))


def nearest_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` of input pixels on a finer grid: the input pixel each fine pixel lies in."""
    rows = np.floor(np.arange(shape[0]) * mask.shape[0] / shape[0]).astype(int)
    cols = np.floor(np.arange(shape[1]) * mask.shape[1] / shape[1]).astype(int)
    return mask[np.ix_(rows, cols)]


def block_masks(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The block on a grid of ``shape``, and the block grown by REACH input pixels."""
    block = np.zeros((SIZE, SIZE), bool)
    block[BLOCK] = True
    grown = np.zeros((SIZE, SIZE), bool)
    grown[BLOCK[0].start - REACH:BLOCK[0].stop + REACH, BLOCK[1].start - REACH:BLOCK[1].stop + REACH] = True
    return nearest_mask(block, shape), nearest_mask(grown, shape)


# ------------------------------------------------------------------------------------- training tiles
def test_loader_fills_nonfinite_pixels_and_sets_their_label_to_ignore(tmp_path):
    clean, broken = scene_pair(tmp_path)
    label = write_tif(tmp_path / 'label.tif', (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 5).astype(np.uint8),
                      gsd=10.0)
    load = LoadGeoTiff(bands=['B4', 'B3', 'B2'], scale=3000.0)
    results = LoadGeoTiffAnnotations()(load(dict(img_path=str(broken), seg_map_path=str(label), num_classes=5)))
    reference = LoadGeoTiffAnnotations()(load(dict(img_path=str(clean), seg_map_path=str(label), num_classes=5)))
    block, _ = block_masks((SIZE, SIZE))
    assert np.isfinite(results['img']).all()
    assert (results['img'][block] == 0).all()                # every band of a pixel with one bad band
    np.testing.assert_array_equal(results['img'][~block], reference['img'][~block])
    np.testing.assert_array_equal(results['img_nodata_mask'], block)
    np.testing.assert_array_equal(results['gt_seg_map'] == 255, block)
    np.testing.assert_array_equal(results['gt_seg_map'][~block], reference['gt_seg_map'][~block])

    coarse = reference['img'].copy()
    fine = SubPixelResample(out_gsd=2.0)(results)
    fine_ref = SubPixelResample(out_gsd=2.0)(reference)
    fine_block, grown = block_masks(fine['img'].shape[:2])
    np.testing.assert_array_equal(fine['gt_seg_map'] == 255, fine_block)
    # the clip range is taken over pixels with data: the fill does not move it, so the image is the
    # same wherever the bicubic kernel does not reach the block
    np.testing.assert_array_equal(fine['img'][~grown], fine_ref['img'][~grown])
    # which holds only because the cubic kernel undershoots the range there and the clip matters
    unclipped = cv2.resize(coarse, fine['img'].shape[1::-1], interpolation=INTERPOLATIONS['bicubic'])
    assert (unclipped[~grown] < coarse.reshape(-1, 3).min(0)).any()


def test_loader_refuses_a_tile_without_a_finite_pixel(tmp_path):
    path = write_tif(tmp_path / 'all_nan.tif', np.full((4, 6, 6), np.nan, np.float32), gsd=10.0, descriptions=BANDS)
    with pytest.raises(DaspmInputError) as err:
        LoadGeoTiff(bands=['B4', 'B3', 'B2'], scale=3000.0)(dict(img_path=str(path)))
    assert str(err.value) == (f"{path}: every pixel is NaN or infinite in the bands ['B4', 'B3', 'B2']; re-export "
                              'the image with finite values (nodata as a nodata value), or remove it from the dataset')


def test_float64_values_beyond_float32_are_nodata_not_infinite_input(tmp_path):
    data = np.full((3, 5, 5), 0.25, np.float64)
    data[1, 2, 3] = 1e300   # inf once read as float32
    path = write_tif(tmp_path / 'huge.tif', data, gsd=10.0)
    results = LoadGeoTiff(scale=1.0)(dict(img_path=str(path)))
    assert np.isfinite(results['img']).all() and results['img_nodata_mask'].sum() == 1
    assert results['img_nodata_mask'][2, 3]


def test_a_uda_step_on_a_target_tile_with_nan_stays_finite(tmp_path):
    """The synthetic config's target pipeline on a NaN tile feeds DACS finite inputs: every loss is finite."""
    _, broken = scene_pair(tmp_path)
    cfg, model, wrapper = build_dacs()
    steps = [s for s in copy.deepcopy(cfg.train_dataloader.dataset.target.pipeline)
             if s['type'] in ('LoadGeoTiff', 'SubPixelResample', 'TrackImageNodata', 'PackSegInputsWithNodata')]
    packed = Compose(steps)(dict(img_path=str(broken)))
    image = packed['inputs'].float()
    block, _ = block_masks(image.shape[1:])
    top, left = int(np.argmax(block.any(1))), int(np.argmax(block.any(0)))
    crop = image[:, top:top + CROP, left:left + CROP]
    assert tuple(crop.shape[1:]) == (CROP, CROP) and block[top:top + CROP, left:left + CROP].sum() == 20 * 25
    assert torch.isfinite(crop).all()
    batch = make_batch()
    batch['target_inputs'] = [crop, crop.flip(-1)]
    log = model.train_step(copy.copy(batch), wrapper)
    losses = {k: float(v) for k, v in log.items() if 'loss' in k}
    assert losses and all(np.isfinite(v) for v in losses.values()), losses


# ------------------------------------------------------------------------------------- scene maps
@pytest.mark.parametrize('name', list(SPECS))
def test_a_nan_block_is_nodata_and_the_rest_of_the_map_does_not_change(tmp_path, name):
    spec = SPECS[name]
    clean, broken = scene_pair(tmp_path)
    maps = {}
    for path in (clean, broken):
        with open_scene([path], spec) as source:
            grid = output_grid(source, Window(0, 0, source.width, source.height),
                               spec.factor(source.gsd(spec.loader.nominal_gsd)))
            rng = None if spec.out_gsd is None or spec.interpolation == 'nearest' else \
                value_range(source, spec, grid.aoi)
            values, _ = FineWindowReader(source, spec, grid, rng).read(0, 0, grid.height, grid.width)
            result = map_scene(source, PixelModel(), spec, window_size=64, overlap=16, batch_size=2,
                               progress=False)
        maps[path.stem] = (result, result.sink.class_map, values, rng)
    (res_clean, cls_clean, val_clean, rng_clean), (res, cls, val, rng) = maps['clean'], maps['broken']
    block, grown = block_masks(cls.shape)
    outside = ~block if spec.interpolation == 'nearest' or spec.out_gsd is None else ~grown
    assert (cls[block] == 255).all() and (cls[~block] != 255).all()
    np.testing.assert_array_equal(cls[outside], cls_clean[outside])
    np.testing.assert_array_equal(val[:, outside], val_clean[:, outside])
    assert np.isfinite(val).all()
    if rng is not None:
        np.testing.assert_array_equal(rng[0], rng_clean[0])
        np.testing.assert_array_equal(rng[1], rng_clean[1])
    assert res.nonfinite_pixels == block.sum() and res_clean.nonfinite_pixels == 0
    assert res.valid_pixels == cls.size - block.sum() and res_clean.valid_pixels == cls.size


def test_nodata_nan_makes_nan_ordinary_nodata_and_the_record_counts_the_rest(tmp_path):
    clean, broken = scene_pair(tmp_path)
    runs = {}
    for name, nodata in (('plain', None), ('declared', float('nan'))):
        out = tmp_path / f'map_{name}.tif'
        runs[name] = map_scene_to_files([broken], PixelModel(), SPEC, out, nodata=nodata, window_size=64,
                                          overlap=16, progress=False)
        with rasterio.open(out) as dst:
            runs[name].map = dst.read(1)
            runs[name].tags = dst.tags()
        # strict JSON (no NaN token): jq, browsers and QGIS read it
        runs[name].record = json.loads(out.with_suffix('.json').read_text(),
                                         parse_constant=lambda token: pytest.fail(f'{token} in the JSON record'))
    block, _ = block_masks(runs['plain'].map.shape)
    nan_row = np.zeros((SIZE, SIZE), bool)
    nan_row[13, BLOCK[1]] = True           # the block's row of pixels NaN in every band
    every_band_nan = nearest_mask(nan_row, block.shape)
    total = block.size
    plain, declared = runs['plain'], runs['declared']
    assert plain.record['nonfinite_pixels'] == block.sum() and plain.tags['NONFINITE_PIXELS'] == str(block.sum())
    assert plain.record['valid_pixels'] == total - block.sum()
    assert plain.record['valid_share'] == round((total - block.sum()) / total, 6)
    # --nodata nan: a pixel NaN in every band is nodata of the file; NaN in one band, or Inf, still counts
    assert declared.record['nonfinite_pixels'] == block.sum() - every_band_nan.sum()
    assert declared.record['options']['nodata'] == 'nan'
    np.testing.assert_array_equal(declared.map, plain.map)
    assert (plain.map[block] == 255).all() and (plain.map[~block] != 255).all()


def test_a_scene_without_a_finite_pixel_is_refused_in_one_line(tmp_path, capsys):
    path = write_tif(tmp_path / 'all_nan.tif', np.full((4, 12, 12), np.nan, np.float32), gsd=10.0,
                     descriptions=BANDS)
    out = tmp_path / 'map.tif'
    with pytest.raises(DaspmInputError) as err:
        map_scene_to_files([path], PixelModel(), SPEC, out, window_size=32, overlap=8, progress=False)
    assert str(err.value) == (f"{path}: no pixel of the area mapped has finite values (3600 of 3600 map pixels "
                              "are NaN or infinite in the bands ['B4', 'B3', 'B2'], the rest nodata); re-export "
                              "the scene with finite values, or map an area that has them (--bbox)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ['all_nan.tif']


def test_image_demo_masks_a_nan_block_and_refuses_an_all_nan_image(tmp_path, pixel_checkpoint, capsys):
    from daspm.cli.image_demo import main
    config, checkpoint = pixel_checkpoint
    clean, broken = scene_pair(tmp_path)
    maps = {}
    for path in (clean, broken):
        outputs = main([str(path), str(config), str(checkpoint), '--out-dir', str(tmp_path / 'demo'),
                        '--device', 'cpu'])
        with rasterio.open(outputs['map_tif']) as dst:
            maps[path.stem] = dst.read(1)
    block, grown = block_masks(maps['broken'].shape)
    assert (maps['broken'][block] == 255).all() and (maps['broken'][~block] != 255).all()
    np.testing.assert_array_equal(maps['broken'][~grown], maps['clean'][~grown])
    assert len(np.unique(maps['broken'][~grown])) > 1
    all_nan = write_tif(tmp_path / 'all_nan.tif', np.full((4, 6, 6), np.nan, np.float32), gsd=10.0,
                        descriptions=BANDS)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(all_nan), str(config), str(checkpoint), '--out-dir', str(tmp_path / 'demo'), '--device', 'cpu'])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith(f'error: {all_nan}: every pixel is NaN or infinite')


# ------------------------------------------------------------------------------------- output paths
KILLED_RUN = """
import os, signal
from test_scene_mapping import SPEC, PixelModel
from daspm.mapping import map_scene_to_files


class KilledMidway(PixelModel):
    def __call__(self, images):
        if self.calls >= 2:
            os.kill(os.getpid(), signal.SIGKILL)   # no clean-up runs, as for the OOM killer or kill -9
        return super().__call__(images)


map_scene_to_files([{scene!r}], KilledMidway(), SPEC, {out!r}, confidence={conf!r}, window_size=48, overlap=8,
                   batch_size=1, workers=1, progress=False)
"""


def test_a_rerun_removes_the_partial_files_a_killed_run_left_and_nothing_else(tmp_path):
    clean, _ = scene_pair(tmp_path)
    maps = tmp_path / 'maps'
    maps.mkdir()
    out, conf = maps / 'map.tif', maps / 'map_confidence.tif'
    script = KILLED_RUN.format(scene=str(clean), out=str(out), conf=str(conf))
    # the tests folder on the child's path (for test_scene_mapping) through its environment, as pytest's rootdir
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                                     os.environ.get('PYTHONPATH')]))}
    killed = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    _, stderr = killed.communicate(timeout=300)
    assert killed.returncode == -9, stderr[-2000:]
    left = sorted(p.name for p in maps.iterdir())
    assert left and all(name.startswith(('.map.', '.map_confidence.')) and '.part' in name for name in left)
    assert {'map.tif', 'map_confidence.tif'}.isdisjoint(left)
    # what is not a stale partial of these outputs: another output's, a running process's, the user's
    others = {f'.map.v2.{killed.pid}-abcd1234.tif.part': b'map.v2.tif of a killed run',
              f'.map.{os.getppid()}-abcd1234.tif.part': b'map.tif being written by a live process',
              '.other.abcd1234.tif.part': b'other.tif of an old run',
              'notes.part': b'the user\'s', 'map.tif.bak': b'the user\'s'}
    for name, content in others.items():
        (maps / name).write_bytes(content)

    map_scene_to_files([clean], PixelModel(), SPEC, out, confidence=conf, window_size=48, overlap=8,
                       progress=False)
    after = sorted(p.name for p in maps.iterdir())
    assert after == sorted(['map.tif', 'map_confidence.tif', 'map.json', 'map.tif.aux.xml', *others])
    assert all((maps / name).read_bytes() == content for name, content in others.items())


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no new file can be made in: read-only for a user; for root, sysfs (root may write anywhere else)."""
    if os.geteuid() != 0:
        folder = tmp_path / 'read_only'
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    folder = Path('/sys')
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return folder
    pytest.skip('no folder that root cannot write to')


def test_output_path_problems_end_in_one_line_with_exit_2(tmp_path, capsys):
    clean, _ = scene_pair(tmp_path)
    args = [str(clean), str(UDA_CONFIG), str(tmp_path / 'never_loaded.pth'), '--device', 'cpu']
    locked = unwritable_folder(tmp_path)
    message = _cli_error([*args, '--out', str(locked / 'map.tif')], capsys)
    assert message.startswith(f'error: output {locked / "map.tif"}: cannot write in {locked} (')
    message = _cli_error([*args, '--out', str(locked / 'new' / 'map.tif')], capsys)
    assert f'cannot write in {locked} (' in message
    a_file = tmp_path / 'a_file'
    a_file.write_text('keep me')
    message = _cli_error([*args, '--out', str(a_file / 'map.tif')], capsys)
    assert message == f'error: output {a_file / "map.tif"}: {a_file} is a file, not a folder; choose another path'
    folder = tmp_path / 'folder.tif'
    folder.mkdir()
    for extra in ([], ['--overwrite']):
        message = _cli_error([*args, '--out', str(folder), *extra], capsys)
        assert message == f'error: {folder} is a directory; give a file name such as map.tif'
    message = _cli_error([*args, '--out', str(tmp_path / 'm.tif'), '--confidence', str(locked / 'c.tif')], capsys)
    assert f'cannot write in {locked} (' in message
    message = _cli_error([*args, '--out-dir', str(locked / 'maps')], capsys)
    assert message.startswith(f'error: --out-dir {locked / "maps" / "summary.tsv"}: cannot write in {locked} (')
    assert a_file.read_text() == 'keep me' and not (tmp_path / 'm.tif').exists()
    with pytest.raises(DaspmInputError, match=f'cannot write in {locked}'):
        with atomic_output(locked / 'record.json'):
            pass
