"""The custom converter ("bring your own data"): pairing, class tables, errors, resume, and configs that train."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO, write_tif
from daspm.cli import train as cli_train
from daspm.convert.formats.custom import parse_bands
from daspm.convert.pipeline import convert_custom
from daspm.convert.custom_classes import generated_palette, read_class_table
from daspm.convert.cli import main as cli_main
from daspm.convert.config_file import Entry, Ref, config_text, python_text
from daspm.convert.custom_config import rcs_min_pixels
from daspm.utils.errors import DaspmInputError

TOOL = REPO / 'tools' / 'convert_datasets' / 'custom.py'
COLOURS = {'building': (60, 16, 152), 'road': (110, 193, 228), 'tree': (0, 160, 0)}
UNLABELLED = (155, 155, 155)
NESTED = ('a/t1', 'a/t2', 'b/c/t1', 't3')


def _hex(rgb) -> str:
    return '#%02X%02X%02X' % tuple(rgb)


def class_map(seed: int, size: int = 32) -> np.ndarray:
    """Class ids 0..2 in 8-pixel blocks, every class present, an unlabelled (3) top row."""
    rng = np.random.default_rng(seed)
    ids = np.kron(rng.integers(0, 3, (size // 8, size // 8)), np.ones((8, 8), int))
    ids[-8:, :3 * 8] = np.repeat(np.arange(3), 8)[None, :]
    ids[0, :] = 3
    return ids


def colour_mask(ids: np.ndarray) -> np.ndarray:
    lut = np.array([*COLOURS.values(), UNLABELLED], np.uint8)
    return lut[ids]


def image_of(ids: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    looks = np.array([[150, 140, 160], [90, 90, 90], [40, 120, 40], [128, 128, 128]], np.float32)
    return np.clip(looks[ids] + rng.normal(0, 8, ids.shape + (3,)), 0, 255).astype(np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """An RGB picture (PNG/JPEG) as users have them: cv2 writes BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[..., ::-1])
    return path


def write_classes(path: Path, classes: dict, ignore: list | None = None, **extra) -> Path:
    path.write_text(json.dumps({'classes': classes, 'ignore': ignore or [], **extra}))
    return path


def colour_classes(root: Path) -> Path:
    return write_classes(root / 'classes.json', {n: _hex(c) for n, c in COLOURS.items()}, [_hex(UNLABELLED)])


def make_colour_dataset(root: Path, keys=NESTED, size: int = 32, palette_png: str | None = 'a/t2') -> dict:
    """JPEG (and one PNG) images with colour PNG masks in nested folders; one mask a palette PNG."""
    expected = {}
    for i, key in enumerate(keys):
        ids = class_map(i, size)
        suffix = '.png' if key == 't3' else '.jpg'
        write_rgb(root / 'images' / f'{key}{suffix}', image_of(ids, i))
        mask_path = root / 'masks' / f'{key}.png'
        if key == palette_png:
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            pic = Image.fromarray(ids.astype(np.uint8), mode='P')
            pic.putpalette([v for rgb in (*COLOURS.values(), UNLABELLED) for v in rgb])
            pic.save(mask_path)
        else:
            write_rgb(mask_path, colour_mask(ids))
        expected[key.replace('/', '__')] = np.where(ids == 3, 255, ids).astype(np.uint8)
    colour_classes(root)
    return expected


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob('*')) if p.is_file()}


def read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, dict]:
    with rasterio.open(path) as src:
        return src.read(), src.profile, (src.colormap(1) if src.count == 1 else {})


def convert(root: Path, out: Path, **kw) -> dict:
    kw.setdefault('model', 'daformer_mitb0')
    return convert_custom(root / 'images', root / 'masks', root / 'classes.json', out, progress=False, **kw)


# ------------------------------------------------------------------ what a conversion writes


def test_colour_masks_nested_folders_not_georeferenced(tmp_path, recwarn):
    raw = tmp_path / 'raw'
    expected = make_colour_dataset(raw)
    before = tree_digest(raw)
    out = tmp_path / 'out'
    result = call_cli_ok(cli_main, 'custom', 'doc', ['--images', str(raw / 'images'), '--masks', str(raw / 'masks'),
                                              '--classes', str(raw / 'classes.json'), '-o', str(out),
                                              '--model', 'daformer_mitb0'])
    assert tree_digest(raw) == before  # the input is never written
    assert not [w for w in recwarn.list if issubclass(w.category, NotGeoreferencedWarning)]
    assert 'read 4 image/mask pairs' in result.stdout and '(colour masks)' in result.stdout
    assert f'train: python run_experiments.py --config {out / "source_only.py"}' in result.stdout

    names = set(expected)
    assert {p.stem for p in (out / 'img_dir').iterdir()} == names == {p.stem for p in (out / 'ann_dir').iterdir()}
    for name, ids in expected.items():
        ann, profile, colormap = read(out / 'ann_dir' / f'{name}.tif')
        np.testing.assert_array_equal(ann[0], ids)  # the palette PNG (a__t2) included
        assert profile['dtype'] == 'uint8' and profile['nodata'] == 255 and profile['crs'] is None
        assert [colormap[i][:3] for i in range(3)] == list(COLOURS.values())
        img, img_profile, _ = read(out / 'img_dir' / f'{name}.tif')
        assert img.shape == (3, 32, 32) and img_profile['driver'] == 'GTiff' and img_profile['crs'] is None
    # PNG images are kept exactly (JPEGs are decoded once, as any reader would)
    np.testing.assert_array_equal(read(out / 'img_dir' / 't3.tif')[0],
                                  cv2.imread(str(raw / 'images' / 't3.png'))[..., ::-1].transpose(2, 0, 1))

    splits = {s: (out / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')}
    assert sorted(sum(splits.values(), [])) == sorted(names) and all(splits.values())
    stats = json.loads((out / 'sample_class_stats.json').read_text())
    assert len(stats) == 4 and stats[0]['file'] == 'ann_dir/a__t1.tif'
    assert stats[0]['0'] == int((expected['a__t1'] == 0).sum())
    with_class = json.loads((out / 'samples_with_class.json').read_text())
    assert set(with_class) == {'0', '1', '2'}
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['status'] == 'complete' and manifest['classes'] == list(COLOURS)
    assert manifest['palette'] == [list(c) for c in COLOURS.values()]
    assert manifest['image_format']['georeferenced'] == 0
    assert not (out / 'uda.py').exists()


def test_id_masks_georeferenced_multiband(tmp_path):
    raw = tmp_path / 'raw'
    rng = np.random.default_rng(0)
    codes = np.array([0, 1, 2, 5], np.uint8)
    for i, key in enumerate(('x', 'y', 'z')):
        origin = (500000.0 + 100 * i, 4000000.0)
        write_tif(raw / 'images' / f'{key}.tif', rng.integers(0, 4000, (4, 24, 24), dtype=np.uint16),
                  gsd=0.5, origin=origin, crs='EPSG:32633')
        write_tif(raw / 'masks' / f'{key}.tif', codes[rng.integers(0, 4, (24, 24))], gsd=0.5, origin=origin,
                  crs='EPSG:32633')
    write_classes(raw / 'classes.json', {'roof': 1, 'other': [2, 5]}, [0])
    out = tmp_path / 'out'
    result = convert(raw, out)

    assert (out / 'img_dir' / 'x.tif').read_bytes() == (raw / 'images' / 'x.tif').read_bytes()  # GeoTIFFs copied
    with rasterio.open(raw / 'masks' / 'y.tif') as src:
        raw_ids, transform, crs = src.read(1), src.transform, src.crs
    ann, profile, colormap = read(out / 'ann_dir' / 'y.tif')
    np.testing.assert_array_equal(ann[0], np.select([raw_ids == 1, raw_ids >= 2], [0, 1], 255))
    assert profile['transform'] == transform and profile['crs'] == crs
    palette = [tuple(c) for c in generated_palette(2)]
    assert [colormap[i][:3] for i in range(2)] == palette == [tuple(c) for c in result['manifest']['palette']]
    assert generated_palette(2) == generated_palette(2) and len(set(generated_palette(12))) == 12

    model = result['manifest']['model']
    assert model['bands'] == [1, 2, 3, 4] and model['output_gsd'] == 0.5 and 2000 < model['scale'] < 4000
    text = (out / 'source_only.py').read_text()
    assert 'in_channels=4' in text and 'num_bands=4' in text and 'nominal_gsd=0.5' in text
    # ImageNet weights take three bands: the recipe (the default model) reads 1,2,3 and says so
    recipe = convert_custom(raw / 'images', raw / 'masks', raw / 'classes.json', tmp_path / 'b5', progress=False)
    assert any('4 bands' in n and 'bands 1,2,3' in n for n in recipe['notes'])
    from mmseg.registry import MODELS

    from daspm.apis.config_loading import load_config
    cfg = load_config(tmp_path / 'b5' / 'source_only.py')
    assert cfg.model.backbone.init_cfg.checkpoint == 'pretrained/mit_b5.pth'
    assert cfg.test_dataloader.dataset.pipeline[0].bands == [1, 2, 3]
    net = MODELS.build(cfg.model)  # the weights load at init_weights(), which this does not call
    assert net.backbone.layers[0][0].projection.in_channels == 3 and net.decode_head.num_classes == 2
    bands, note = parse_bands(None, 4, 'pretrained/mit_b5.pth')
    assert bands == (1, 2, 3) and '4 bands' in note
    with pytest.raises(DaspmInputError, match='exactly 3 bands'):
        parse_bands('1,2,3,4', 4, 'pretrained/mit_b5.pth')


def test_suffixes_pair_images_and_masks_in_one_folder(tmp_path):
    raw = tmp_path / 'raw'
    for i in range(3):
        ids = class_map(i)
        write_rgb(raw / 'train' / f'{i}_sat.jpg', image_of(ids, i))
        write_rgb(raw / 'train' / f'{i}_mask.png', colour_mask(ids))
    colour_classes(raw)
    kw = dict(progress=False, model='daformer_mitb0', splits='0.34,0.33,0.33')
    with pytest.raises(DaspmInputError, match='both as image and as mask.*--image-suffix _sat.jpg'):
        convert_custom(raw / 'train', raw / 'train', raw / 'classes.json', tmp_path / 'out', **kw)
    result = convert_custom(raw / 'train', raw / 'train', raw / 'classes.json', tmp_path / 'out',
                            image_suffix='_sat.jpg', mask_suffix='_mask.png', **kw)
    assert result['converted'] == 3
    assert sorted(p.stem for p in (tmp_path / 'out' / 'ann_dir').iterdir()) == ['0', '1', '2']


# ------------------------------------------------------------------ errors a user can cause


def test_unmatched_files_are_listed_or_skipped(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw)
    (raw / 'masks' / 'a' / 't1.png').rename(raw / 'masks' / 'a' / 'orphan.png')
    argv = ['--images', str(raw / 'images'), '--masks', str(raw / 'masks'), '--classes', str(raw / 'classes.json'),
            '-o', str(tmp_path / 'out'), '--model', 'daformer_mitb0']
    failed = call_cli(cli_main, 'custom', 'doc', argv)
    assert failed.code == 2 and len(failed.stderr.strip().splitlines()) == 1
    assert 'image(s)' in failed.stderr and 'without a mask: a/t1.jpg' in failed.stderr
    assert 'without an image: a/orphan.png' in failed.stderr and '--allow-unmatched' in failed.stderr
    assert not (tmp_path / 'out').exists()

    done = call_cli_ok(cli_main, 'custom', 'doc', [*argv, '--allow-unmatched'])
    assert done.value['manifest']['num_images'] == 3
    assert 'skipped 1 image(s) without a mask' in done.stdout and 'skipped 1 mask(s) without an image' in done.stdout


def test_unknown_mask_values_list_values_counts_and_files(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw)
    for key, n in (('a/t1', 3), ('b/c/t1', 5)):
        mask = cv2.imread(str(raw / 'masks' / f'{key}.png'))[..., ::-1].copy()
        mask[10, :n] = (255, 0, 0)
        mask[11, 0] = (1, 2, 3) if key == 'a/t1' else mask[11, 0]
        write_rgb(raw / 'masks' / f'{key}.png', mask)
    out = tmp_path / 'out'
    with pytest.raises(DaspmInputError) as err:
        convert(raw, out)
    msg = str(err.value)
    assert '#FF0000 (8 px in 2 file(s): a/t1.png, b/c/t1.png)' in msg and '#010203 (1 px in 1 file(s): a/t1.png)' in msg
    assert msg.index('#FF0000') < msg.index('#010203')  # largest first
    assert str(raw / 'classes.json') in msg and '"ignore"' in msg
    # the good pairs are converted (a rerun resumes), the bad ones are not
    assert sorted(p.stem for p in (out / 'ann_dir').iterdir()) == ['a__t2', 't3']
    assert not (out / 'source_only.py').exists()
    # the fix the message names: add the values, run again; the converted pairs are kept
    write_classes(raw / 'classes.json', {n: _hex(c) for n, c in COLOURS.items()}, [_hex(UNLABELLED), '#FF0000'],
                  palette={'tree': '#010203'})
    with pytest.raises(DaspmInputError, match='#010203 '):
        convert(raw, out)
    assert (out / 'ann_dir' / 'b__c__t1.tif').is_file()  # its only unknown value is now ignored
    write_classes(raw / 'classes.json', {**{n: _hex(c) for n, c in COLOURS.items()}, 'tree': ['#00A000', '#010203']},
                  [_hex(UNLABELLED), '#FF0000'])
    resumed = convert(raw, out)
    assert (resumed['converted'], resumed['skipped']) == (1, 3)
    assert read(out / 'ann_dir' / 'a__t1.tif')[0][0][11, 0] == 2 and (out / 'source_only.py').is_file()


@pytest.mark.parametrize('classes, ignore, message', [
    ({'a': 1, 'b': '#FF0000'}, [], 'mixes integer ids'),
    ({'a': 1, 'b': [2, 1]}, [], "belongs to both 'a' and 'b'"),
    ({'a': '#GG0000'}, [], 'not a colour'),
    ({'a': 1}, [1], 'both class'),
    ({}, [], 'non-empty "classes"'),
])
def test_class_table_errors(tmp_path, classes, ignore, message):
    with pytest.raises(DaspmInputError, match=message):
        read_class_table(write_classes(tmp_path / 'classes.json', classes, ignore))


def test_mask_kind_must_match_the_class_table(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw, keys=('p', 'q', 'r'), palette_png=None)
    write_classes(raw / 'classes.json', {'building': 0, 'road': 1, 'tree': 2}, [3])
    with pytest.raises(DaspmInputError, match=r'p\.png: mask has 3 bands of colours but .* lists integer ids'):
        convert(raw, tmp_path / 'out')


def test_output_folder_rules(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw)
    before = tree_digest(raw)
    with pytest.raises(DaspmInputError, match='inside the input'):
        convert(raw, raw / 'images' / 'converted')
    with pytest.raises(DaspmInputError, match='inside the output'):
        convert(raw, tmp_path)
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('mine')
    for overwrite in (False, True):
        with pytest.raises(DaspmInputError, match='not empty'):
            convert(raw, foreign, overwrite=overwrite)
    assert tree_digest(raw) == before and [p.name for p in foreign.iterdir()] == ['keep.txt']


# ------------------------------------------------------------------ resume, splits


def test_resume_skips_finished_files_and_overwrite_redoes_them(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw)
    out = tmp_path / 'out'
    assert convert(raw, out)['converted'] == 4
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / 'ann_dir').iterdir()}

    again = convert(raw, out)
    assert (again['converted'], again['skipped']) == (0, 4)
    assert {p.name: p.stat().st_mtime_ns for p in (out / 'ann_dir').iterdir()} == mtimes
    assert again['class_pixels'] == convert(raw, out)['class_pixels']

    # an interrupted run (one label missing) and an edited mask are converted again, nothing else
    (out / 'ann_dir' / 't3.tif').unlink()
    mask = cv2.imread(str(raw / 'masks' / 'a' / 't1.png'))
    cv2.imwrite(str(raw / 'masks' / 'a' / 't1.png'), np.ascontiguousarray(mask[::-1]))
    resumed = convert(raw, out)
    assert (resumed['converted'], resumed['skipped']) == (2, 2)
    assert (out / 'ann_dir' / 't3.tif').is_file()

    assert convert(raw, out, overwrite=True)['converted'] == 4
    write_classes(raw / 'classes.json', {'building': '#3C1098', 'rest': ['#6EC1E4', '#00A000']}, ['#9B9B9B'])
    with pytest.raises(DaspmInputError, match='other classes.*--overwrite'):
        convert(raw, out)


def test_split_files_and_the_deterministic_split(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw)
    split_dir = tmp_path / 'splits'
    split_dir.mkdir()
    (split_dir / 'train.txt').write_text('a/t1.jpg\nb/c/t1\nt3\n')
    (split_dir / 'val.txt').write_text('a__t2\n')
    result = convert(raw, tmp_path / 'out', split_dir=split_dir)
    out = tmp_path / 'out'
    assert (out / 'train.txt').read_text().split() == ['a__t1', 'b__c__t1', 't3']
    assert (out / 'val.txt').read_text().split() == ['a__t2'] and not (out / 'test.txt').exists()
    assert "ann_file='val.txt'" in (out / 'source_only.py').read_text()  # the test loader falls back to val
    assert result['manifest']['splits'] == {'train': 3, 'val': 1}

    (split_dir / 'val.txt').write_text('a/t9\n')
    with pytest.raises(DaspmInputError, match=r'val\.txt: 1 name\(s\) are not among the paired images: a/t9'):
        convert(raw, tmp_path / 'out2', split_dir=split_dir)

    first = convert(raw, tmp_path / 'r1', splits='0.5,0.25,0.25', seed=3)['manifest']
    convert(raw, tmp_path / 'r2', splits='0.5,0.25,0.25', seed=3)
    for split in ('train', 'val', 'test'):  # the same seed gives the same split
        assert (tmp_path / 'r1' / f'{split}.txt').read_text() == (tmp_path / 'r2' / f'{split}.txt').read_text()
    assert first['splits'] == {'train': 2, 'val': 1, 'test': 1}


def test_rcs_min_pixels_rule():
    assert rcs_min_pixels(512, {0: 10**6, 1: 10**5}) == (3000, pytest.approx(rcs_min_pixels(512, {})[1]))
    assert rcs_min_pixels(256, {0: 10**6})[0] == 750  # the crop area: 1/4 of 512 x 512
    value, rule = rcs_min_pixels(512, {0: 10**6, 1: 400})
    assert value == 200 and 'capped' in rule  # every class keeps an image above min_pixels


def test_the_script_is_a_thin_wrapper(tmp_path):
    proc = subprocess.run([sys.executable, str(TOOL), '--images', str(tmp_path), '--masks', str(tmp_path),
                           '--classes', str(tmp_path / 'missing.json'), '-o', str(tmp_path / 'out')],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith('error: ') and 'missing.json' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ the generated configs train


@pytest.fixture(scope='module')
def converted_with_target(tmp_path_factory):
    """Six 64x64 JPEG/PNG pairs and three unlabelled target PNGs, converted for the small network."""
    root = tmp_path_factory.mktemp('custom')
    raw = root / 'raw'
    make_colour_dataset(raw, keys=('a/t1', 'a/t2', 'b/t1', 'b/t2', 't3', 't4'), size=64)
    for i in range(3):
        write_rgb(raw / 'target' / f's{i}.png', (image_of(class_map(10 + i, 64), i) * 0.7).astype(np.uint8))
    result = convert_custom(raw / 'images', raw / 'masks', raw / 'classes.json', root / 'out',
                            target_images=raw / 'target', model='daformer_mitb0', gsd=2.0, progress=False)
    return root / 'out', result


def _tiny_run(work_root: Path) -> list[str]:
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
               'default_hooks.logger.interval=1']
    for loader in ('train', 'val', 'test'):
        options += [f'{loader}_dataloader.num_workers=0', f'{loader}_dataloader.persistent_workers=False']
    return ['--work-root', str(work_root), '--exp-name', 'custom', '--cfg-options', *options]


def test_source_only_config_resolves_and_trains(converted_with_target, tmp_path, monkeypatch):
    out, result = converted_with_target
    assert result['crop'] == 64 and result['min_pixels'] == 47  # 3000 * 64^2 / 512^2
    from daspm.apis.config_loading import load_config
    cfg = load_config(out / 'source_only.py')
    assert cfg.model.backbone.in_channels == 3 and cfg.model.decode_head.num_classes == 3
    assert cfg.train_dataloader.dataset.metainfo.classes == tuple(COLOURS)
    assert cfg.train_dataloader.dataset.data_root == str(out)
    monkeypatch.chdir(tmp_path)  # the config does not depend on the working directory
    trained = call_cli_ok(cli_train.main, ['--config', str(out / 'source_only.py'), *_tiny_run(tmp_path / 'wd')])
    (run_dir,) = trained.value
    assert (run_dir / 'iter_2.pth').is_file()
    (scalars,) = run_dir.glob('*/vis_data/scalars.json')
    assert 'IoU.building' in scalars.read_text()  # evaluated on the val split with the class names
    import torch
    meta = torch.load(run_dir / 'iter_2.pth', map_location='cpu', weights_only=True)['meta']['dataset_meta']
    assert tuple(meta['classes']) == tuple(COLOURS) and [tuple(c) for c in meta['palette']] == list(COLOURS.values())


def test_uda_config_resolves_and_trains(converted_with_target, tmp_path):
    out, result = converted_with_target
    assert result['target']['num_images'] == 3
    assert (out / 'target' / 'train.txt').read_text().split() == ['s0', 's1', 's2']
    text = (out / 'uda.py').read_text()
    assert 'rare_class_sampling=dict(min_pixels=47' in text and 'DAFormer\'s 3000 px' in text
    from daspm.apis.config_loading import load_config
    cfg = load_config(out / 'uda.py')
    assert cfg.model.type == 'DACS' and cfg.model.model.decode_head.num_classes == 3 and 'uda' not in cfg
    trained = call_cli_ok(cli_train.main, ['--config', str(out / 'uda.py'), *_tiny_run(tmp_path / 'wd'),
                                           'custom_hooks.0.interval=2'])
    (run_dir,) = trained.value
    assert (run_dir / 'iter_2.pth').is_file() and (run_dir / 'debug' / 'iter_2.png').is_file()


def test_written_configs_are_a_base_plus_values(converted_with_target):
    out, _ = converted_with_target
    from mmengine.config import Config
    for name, base in (('source_only.py', 'models/daformer_sepaspp_mitb0.py'),
                       ('uda.py', 'models/uda_daformer_sepaspp_mitb0.py')):
        text = (out / name).read_text()
        assert f'/{base}' in text and '_base_.' not in text, name  # values only: nothing spliced from the bases
        cfg = Config.fromfile(str(out / name))
        # the values link to each other as a person edits them: one crop size, one class count
        assert cfg.model.get('model', cfg.model).data_preprocessor.size == cfg.crop_size == (64, 64)
        assert cfg.model.get('model', cfg.model).decode_head.num_classes == cfg.num_classes == 3
    uda = Config.fromfile(str(out / 'uda.py')).model
    assert uda.type == 'DACS' and uda.alpha == 0.99 and uda.data_preprocessor == uda.model.data_preprocessor


def test_config_text_writes_values_that_read_back(tmp_path):
    value = dict(type='X', size=Ref('crop_size'), one=(1,), empty=(), nested=[dict(a=None, b='s' * 70)], f=0.5)
    assert eval(python_text(value), {'crop_size': (8, 8)}) == dict(value, size=(8, 8))  # long: one item a line
    assert python_text(dict(a=(1,), b=[2])) == "dict(a=(1,), b=[2])"
    path = tmp_path / 'c.py'
    path.write_text(config_text(['# header'], [], [Entry('crop_size', (8, 8), 'why ' * 40), Entry('v', value)]))
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    assert cfg.v.size == (8, 8) and cfg.v.one == (1,) and cfg.v.nested[0].b == 's' * 70
    assert all(len(line) <= 100 for line in path.read_text().splitlines())


def test_transparent_pixels_are_ignored(tmp_path):
    raw = tmp_path / 'raw'
    make_colour_dataset(raw, keys=('p', 'q', 'r'), palette_png=None)
    ids = class_map(0)
    rgba = np.dstack([colour_mask(ids), np.full(ids.shape, 255, np.uint8)])
    rgba[20:, 20:] = (255, 0, 0, 0)  # an unknown colour, but transparent
    cv2.imwrite(str(raw / 'masks' / 'p.png'), rgba[..., [2, 1, 0, 3]])
    image = np.dstack([image_of(ids, 0), np.full(ids.shape, 255, np.uint8)])
    image[:4, :4, 3] = 0
    cv2.imwrite(str(raw / 'images' / 'p.png'), image[..., [2, 1, 0, 3]])
    (raw / 'images' / 'p.jpg').unlink()
    convert(raw, tmp_path / 'out')
    ann = read(tmp_path / 'out' / 'ann_dir' / 'p.tif')[0][0]
    expected = np.where(ids == 3, 255, ids)
    expected[20:, 20:] = 255
    expected[:4, :4] = 255
    np.testing.assert_array_equal(ann, expected)
    assert read(tmp_path / 'out' / 'img_dir' / 'p.tif')[0].shape == (3, 32, 32)  # alpha dropped
