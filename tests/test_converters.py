"""Dataset converters: train ids, RCS statistics, input safety, resume and user errors."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from affine import Affine

from daspm.classes import DASPM_PALETTE
from daspm.convert import check_label_grid, compute_class_stats, convert_dataset
from daspm.convert.cli import main as cli_main
from daspm.convert.report import CONFIG_8BIT_RGB, CONFIG_S2_10M
from daspm.utils.errors import DaspmInputError

REPO = Path(__file__).resolve().parents[1]
CRS_UTM = CRS.from_epsg(32650)
NAMES = ('a', 'b', 'c')


def from_origin(west: float, north: float, xres: float, yres: float) -> Affine:
    """North-up geotransform (rasterio's helper warns about Affine's deprecated ``*``)."""
    return Affine(xres, 0.0, west, 0.0, -yres, north)


def _write(path: Path, data: np.ndarray, transform, crs=CRS_UTM, nodata=None) -> None:
    data = data[None] if data.ndim == 2 else data
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, 'w', driver='GTiff', height=data.shape[1], width=data.shape[2],
                       count=data.shape[0], dtype=data.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data)


def _codes(rng: np.random.Generator, size: int) -> np.ndarray:
    codes = rng.integers(0, 6, size=(size, size), dtype=np.uint8)
    codes[0, :3] = [1, 2, 3]  # every file holds a few classes for sure
    return codes


def make_gaofen(root: Path, seed: int = 0, splits: bool = True) -> Path:
    """Three 20x20 RGB images at 2 m with raw-code labels on the same grid."""
    rng = np.random.default_rng(seed)
    for i, name in enumerate(NAMES):
        tr = from_origin(500000 + 100 * i, 4000000, 2, 2)
        _write(root / 'images' / f'{name}.tif', rng.integers(0, 256, (3, 20, 20), dtype=np.uint8), tr)
        _write(root / 'labels' / f'{name}.tif', _codes(rng, 20), tr)
    if splits:
        (root / 'splits').mkdir()
        (root / 'splits' / 'train.txt').write_text('a\nb\n')
        (root / 'splits' / 'val.txt').write_text('c\n')
    return root


def make_sentinel(root: Path, seed: int = 1) -> Path:
    """Three 4x4 four-band uint16 images at 10 m with 20x20 labels at 2 m over the same bounds."""
    rng = np.random.default_rng(seed)
    for i, name in enumerate(NAMES):
        x0, y0 = 600000 + 100 * i, 3000000
        _write(root / 'images' / f'{name}.tif',
               rng.integers(0, 10000, (4, 4, 4), dtype=np.uint16), from_origin(x0, y0, 10, 10))
        _write(root / 'labels' / f'{name}.tif', _codes(rng, 20), from_origin(x0, y0, 2, 2))
    return root


def make_published(root: Path, seed: int = 2, splits: dict[str, str] | None = None,
                   x0: float = 700000) -> Path:
    """The published DASPM layout: image/ + label/, 8-bit RGB on the 2 m label grid, splits in root."""
    rng = np.random.default_rng(seed)
    for i, name in enumerate(NAMES):
        tr = from_origin(x0 + 100 * i, 3500000, 2, 2)
        _write(root / 'image' / f'{name}.tif', rng.integers(0, 256, (3, 20, 20), dtype=np.uint8), tr)
        _write(root / 'label' / f'{name}.tif', _codes(rng, 20), tr)
    for split, text in (splits or {}).items():
        (root / f'{split}.txt').write_text(text)
    return root


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """Every file (and folder) under root with its content hash and mtime."""
    out = {}
    for p in sorted(root.rglob('*')):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else 'dir'
        out[str(p.relative_to(root))] = (digest, st.st_mtime_ns)
    return out


def read_band(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def expected_train_ids(codes: np.ndarray) -> np.ndarray:
    return np.where(codes == 0, 255, codes.astype(np.int64) - 1).astype(np.uint8)


def convert(raw: Path, out: Path, dataset: str = 'gaofen2m', **kw) -> dict:
    return convert_dataset(raw, out, dataset=dataset, progress=False, **kw)


# ------------------------------------------------------------------ conversion results


def test_gaofen_train_ids_layout_and_untouched_input(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    before = tree_digest(raw)
    out = tmp_path / 'out'
    result = convert(raw, out)
    assert tree_digest(raw) == before  # byte-for-byte, same files, same mtimes

    assert result['converted'] == 3 and result['skipped'] == 0
    for name in NAMES:
        codes = read_band(raw / 'labels' / f'{name}.tif')
        ann = out / 'ann_dir' / f'{name}.tif'
        np.testing.assert_array_equal(read_band(ann), expected_train_ids(codes))
        with rasterio.open(ann) as a, rasterio.open(raw / 'labels' / f'{name}.tif') as r:
            assert a.dtypes[0] == 'uint8' and a.nodata == 255 and a.count == 1
            assert a.crs == r.crs and a.transform == r.transform
            cmap = a.colormap(1)
            for i, rgb in enumerate(DASPM_PALETTE):
                assert cmap[i][:3] == tuple(rgb)
        img = out / 'img_dir' / f'{name}.tif'
        assert not img.is_symlink()
        assert img.read_bytes() == (raw / 'images' / f'{name}.tif').read_bytes()

    assert (out / 'train.txt').read_text().split() == ['a', 'b']
    assert (out / 'val.txt').read_text().split() == ['c']
    assert not (out / 'test.txt').exists()
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['format'] == 'daspm-converted' and manifest['version'] == 1
    assert manifest['dataset'] == 'gaofen2m' and manifest['num_images'] == 3
    assert manifest['status'] == 'complete'
    assert manifest['source'] == str(raw)
    assert manifest['splits'] == {'train': 2, 'val': 1}
    assert manifest['classes'][0] == 'green area' and len(manifest['classes']) == 5
    assert manifest['label_table']['codes'] == {'0': 255, '1': 0, '2': 1, '3': 2, '4': 3, '5': 4}
    assert manifest['label_table']['name'] == 'others-first'
    assert manifest['raw_layout'] == {'images': 'images', 'labels': 'labels',
                                      'splits': {'train': 'splits/train.txt', 'val': 'splits/val.txt'}}
    assert manifest['image_format'] == {'dtype': 'uint8', 'bands': 3, 'band_names': None,
                                        'label_factor': 1}
    assert 'subpixel_factor' not in manifest
    assert not list(out.rglob('*.part'))


def test_statistics_match_label_histograms(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    out = tmp_path / 'out'
    convert(raw, out)
    stats = json.loads((out / 'sample_class_stats.json').read_text())
    with_class = json.loads((out / 'samples_with_class.json').read_text())

    files = [e['file'] for e in stats]
    assert files == sorted(files) == [f'ann_dir/{n}.tif' for n in NAMES]
    expected_with_class: dict[str, list] = {}
    for entry in stats:
        rel = entry['file']
        assert not os.path.isabs(rel) and (out / rel).is_file()
        hist = np.bincount(read_band(out / rel).ravel(), minlength=256)
        assert sum(hist[:5]) + hist[255] == 400 and hist[5:255].sum() == 0
        expected = {str(c): int(hist[c]) for c in range(5) if hist[c] > 0}
        assert {k: v for k, v in entry.items() if k != 'file'} == expected
        for c, n in expected.items():
            expected_with_class.setdefault(c, []).append([rel, n])
    assert with_class == dict(sorted(expected_with_class.items()))
    assert '255' not in with_class
    # The standalone recomputation agrees with what the converter wrote.
    assert compute_class_stats(out) == (stats, with_class)


def test_nproc_1_and_2_give_identical_json(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    convert(raw, tmp_path / 'o1', nproc=1)
    convert(raw, tmp_path / 'o2', nproc=2)
    for fname in ('sample_class_stats.json', 'samples_with_class.json', 'daspm_dataset.json',
                  'train.txt', 'val.txt'):
        assert (tmp_path / 'o1' / fname).read_bytes() == (tmp_path / 'o2' / fname).read_bytes()
    for name in NAMES:
        np.testing.assert_array_equal(read_band(tmp_path / 'o1' / 'ann_dir' / f'{name}.tif'),
                                      read_band(tmp_path / 'o2' / 'ann_dir' / f'{name}.tif'))


def test_sentinel_subpixel_labels(tmp_path):
    raw = make_sentinel(tmp_path / 'raw')
    before = tree_digest(raw)
    out = tmp_path / 'out'
    result = convert(raw, out, dataset='sentinel10m', nproc=2)
    assert tree_digest(raw) == before
    assert result['manifest']['subpixel_factor'] == 5
    assert json.loads((out / 'daspm_dataset.json').read_text())['subpixel_factor'] == 5
    assert result['manifest']['image_format'] == {'dtype': 'uint16', 'bands': 4, 'band_names': None,
                                                  'label_factor': 5}
    assert result['manifest']['splits'] == {}
    for name in NAMES:
        with rasterio.open(out / 'img_dir' / f'{name}.tif') as img:
            assert img.count == 4 and img.dtypes[0] == 'uint16' and img.shape == (4, 4)
        with rasterio.open(out / 'ann_dir' / f'{name}.tif') as ann:
            assert ann.shape == (20, 20) and ann.res == (2.0, 2.0)
        np.testing.assert_array_equal(read_band(out / 'ann_dir' / f'{name}.tif'),
                                      expected_train_ids(read_band(raw / 'labels' / f'{name}.tif')))


def test_rgb_palette_labels(tmp_path):
    raw = make_gaofen(tmp_path / 'raw', splits=False)
    palette = np.array([[0, 0, 0]] + DASPM_PALETTE, dtype=np.uint8)  # index = raw code
    codes = read_band(raw / 'labels' / 'a.tif')
    with rasterio.open(raw / 'labels' / 'a.tif') as src:
        tr = src.transform
    _write(raw / 'labels' / 'a.tif', np.moveaxis(palette[codes], -1, 0), tr)
    convert(raw, tmp_path / 'out')
    np.testing.assert_array_equal(read_band(tmp_path / 'out' / 'ann_dir' / 'a.tif'),
                                  expected_train_ids(codes))


def test_declared_nodata_becomes_ignore(tmp_path):
    raw = make_gaofen(tmp_path / 'raw', splits=False)
    codes = read_band(raw / 'labels' / 'b.tif')
    codes[5:8, 5:8] = 99
    with rasterio.open(raw / 'labels' / 'b.tif') as src:
        tr = src.transform
    _write(raw / 'labels' / 'b.tif', codes, tr, nodata=99)
    convert(raw, tmp_path / 'out')
    ann = read_band(tmp_path / 'out' / 'ann_dir' / 'b.tif')
    assert (ann[5:8, 5:8] == 255).all()


def test_symlink_images(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    out = tmp_path / 'out'
    result = convert(raw, out, symlink_images=True)
    img = out / 'img_dir' / 'a.tif'
    assert img.is_symlink() and img.resolve() == (raw / 'images' / 'a.tif').resolve()
    assert result['manifest']['images'] == 'symlink'


def test_resume_skips_finished_and_overwrite_redoes(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    out = tmp_path / 'out'
    convert(raw, out)
    stats_before = (out / 'sample_class_stats.json').read_bytes()
    (out / 'ann_dir' / 'b.tif').unlink()
    (out / 'ann_dir' / '.c.leftover.tif.part').write_bytes(b'partial write of a killed run')
    kept = {n: (out / 'ann_dir' / f'{n}.tif').stat().st_mtime_ns for n in ('a', 'c')}

    result = convert(raw, out)
    assert result['converted'] == 1 and result['skipped'] == 2
    assert (out / 'ann_dir' / 'b.tif').is_file()
    assert {n: (out / 'ann_dir' / f'{n}.tif').stat().st_mtime_ns for n in kept} == kept
    assert (out / 'sample_class_stats.json').read_bytes() == stats_before
    assert not list(out.rglob('*.part'))

    # A raw label edited after its conversion is converted again on resume.
    label_c = raw / 'labels' / 'c.tif'
    ann_c = out / 'ann_dir' / 'c.tif'
    os.utime(label_c, ns=(ann_c.stat().st_mtime_ns + 10**9,) * 2)
    result = convert(raw, out)
    assert result['converted'] == 1 and result['skipped'] == 2
    assert ann_c.stat().st_mtime_ns != kept['c']

    result = convert(raw, out, overwrite=True)
    assert result['converted'] == 3 and result['skipped'] == 0
    assert (out / 'sample_class_stats.json').read_bytes() == stats_before


def test_cli_default_output_beside_input(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    tool = REPO / 'tools' / 'convert_datasets' / 'gaofen2m.py'
    proc = subprocess.run([sys.executable, str(tool), str(raw), '--nproc', '2'],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'raw_converted' / 'samples_with_class.json').is_file()
    assert 'green area' in proc.stdout

    proc = subprocess.run([sys.executable, str(tool), str(tmp_path / 'nope')],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith('error: ') and 'nope' in proc.stderr
    assert 'Traceback' not in proc.stderr

    help_text = subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_datasets' /
                                                    'sentinel10m.py'), '--help'],
                               capture_output=True, text=True).stdout
    assert 'impervious surface' in help_text and '255' in help_text and '--nproc' in help_text


# ------------------------------------------------------------------ the published layout


def test_published_gaofen_without_split_files(tmp_path):
    raw = make_published(tmp_path / 'gaofen')
    before = tree_digest(raw)
    result = convert(raw, tmp_path / 'gaofen_converted')
    assert tree_digest(raw) == before
    out = tmp_path / 'gaofen_converted'
    manifest = result['manifest']
    assert manifest['splits'] == {} and manifest['num_images'] == 3
    assert manifest['raw_layout'] == {'images': 'image', 'labels': 'label', 'splits': {}}
    assert manifest['image_format'] == {'dtype': 'uint8', 'bands': 3, 'band_names': None,
                                        'label_factor': 1}
    assert not list(out.glob('*.txt'))
    for name in NAMES:
        assert (out / 'img_dir' / f'{name}.tif').read_bytes() == \
            (raw / 'image' / f'{name}.tif').read_bytes()
        np.testing.assert_array_equal(read_band(out / 'ann_dir' / f'{name}.tif'),
                                      expected_train_ids(read_band(raw / 'label' / f'{name}.tif')))


def test_published_sentinel_on_the_label_grid_with_split_files(tmp_path):
    # The published target: 8-bit RGB already on the 2 m label grid (factor 1), split files
    # directly in the dataset folder, names with or without suffix.
    raw = make_published(tmp_path / 'sentinel', splits={'train': 'a\nb.tif\n', 'val': 'c\n',
                                                        'test': 'c\n'})
    result = convert(raw, tmp_path / 'sentinel_converted', dataset='sentinel10m', nproc=2)
    out = tmp_path / 'sentinel_converted'
    manifest = result['manifest']
    assert manifest['subpixel_factor'] == 1
    assert manifest['image_format']['label_factor'] == 1
    assert manifest['splits'] == {'train': 2, 'val': 1, 'test': 1}
    assert manifest['raw_layout']['splits'] == {'train': 'train.txt', 'val': 'val.txt',
                                                'test': 'test.txt'}
    assert (out / 'train.txt').read_text().split() == ['a', 'b']
    with rasterio.open(out / 'ann_dir' / 'a.tif') as ann, rasterio.open(raw / 'image' / 'a.tif') as img:
        assert ann.shape == img.shape and ann.transform == img.transform


def test_check_label_grid_accepts_factor_1_for_subpixel_datasets(tmp_path):
    raw = make_published(tmp_path / 'raw')
    assert check_label_grid(raw / 'image' / 'a.tif', raw / 'label' / 'a.tif', subpixel=True) == 1
    assert check_label_grid(raw / 'image' / 'a.tif', raw / 'label' / 'a.tif', subpixel=False) == 1


def test_reference_commands_verbatim(tmp_path):
    make_published(tmp_path / 'data' / 'gaofen')
    make_published(tmp_path / 'data' / 'sentinel', seed=3, splits={'train': 'a\nb\n', 'val': 'c\n'})
    tools = REPO / 'tools' / 'convert_datasets'
    outputs = {}
    for tool, raw in (('gaofen2m.py', 'data/gaofen'), ('sentinel10m.py', 'data/sentinel')):
        proc = subprocess.run([sys.executable, str(tools / tool), raw, '--nproc', '8'],
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outputs[tool] = proc.stdout
    assert (tmp_path / 'data' / 'gaofen_converted' / 'daspm_dataset.json').is_file()
    assert (tmp_path / 'data' / 'sentinel_converted' / 'train.txt').read_text().split() == ['a', 'b']
    for stdout in outputs.values():
        assert 'found: 8-bit RGB on the label grid' in stdout.splitlines()
        assert f'config: {CONFIG_8BIT_RGB}' in stdout.splitlines()
    assert 'splits: none' in outputs['gaofen2m.py']


def _report(capsys, dataset: str, raw: Path, out: Path) -> list[str]:
    cli_main(dataset, 'test', [str(raw), '-o', str(out)])
    return capsys.readouterr().out.splitlines()


def test_cli_report_names_the_config(tmp_path, capsys):
    lines = _report(capsys, 'sentinel10m', make_sentinel(tmp_path / 's2'), tmp_path / 's2_out')
    assert 'found: 16-bit, 4 bands, labels x5 finer' in lines
    assert f'config: {CONFIG_S2_10M}' in lines

    lines = _report(capsys, 'gaofen2m', make_gaofen(tmp_path / 'gf'), tmp_path / 'gf_out')
    found = lines.index('found: 8-bit RGB on the label grid')
    assert lines[found + 1] == f'config: {CONFIG_8BIT_RGB}'
    assert 'target decides' in lines[found + 2]  # the source alone cannot pick the family

    # uint16 RGB on the label grid matches neither shipped config.
    raw = make_published(tmp_path / 'odd')
    for name in NAMES:
        with rasterio.open(raw / 'image' / f'{name}.tif') as src:
            tr = src.transform
        _write(raw / 'image' / f'{name}.tif', np.full((3, 20, 20), 900, np.uint16), tr)
    lines = _report(capsys, 'sentinel10m', raw, tmp_path / 'odd_out')
    assert 'found: 16-bit, 3 bands on the label grid' in lines
    config = next(line for line in lines if line.startswith('config: '))
    assert 'no shipped config matches' in config and 'LoadGeoTiff' in config
    assert 'bands' in config and 'scale' in config


def test_five_classes_label_table(tmp_path):
    raw = make_published(tmp_path / 'raw')
    codes = read_band(raw / 'label' / 'b.tif')
    codes[5:8, 5:8] = 99
    with rasterio.open(raw / 'label' / 'b.tif') as src:
        tr = src.transform
    _write(raw / 'label' / 'b.tif', codes, tr, nodata=99)
    out = tmp_path / 'out'
    result = convert(raw, out, label_table='five-classes')
    assert result['manifest']['label_table']['name'] == 'five-classes'
    assert result['manifest']['label_table']['codes'] == {'0': 0, '1': 1, '2': 2, '3': 3, '4': 4,
                                                          '5': 255}
    for name in NAMES:
        raw_codes = read_band(raw / 'label' / f'{name}.tif')
        expected = np.where(raw_codes == 5, 255, raw_codes).astype(np.uint8)
        expected[raw_codes == 99] = 255  # declared nodata stays ignore, although code 0 is a class
        np.testing.assert_array_equal(read_band(out / 'ann_dir' / f'{name}.tif'), expected)
    # Resuming with the other table would mix two tables in one folder.
    with pytest.raises(DaspmInputError, match=r'--label-table five-classes.*--overwrite'):
        convert(raw, out)
    assert convert(raw, out, overwrite=True)['manifest']['label_table']['name'] == 'others-first'


def test_cli_rejects_unknown_label_table(tmp_path):
    tool = REPO / 'tools' / 'convert_datasets' / 'gaofen2m.py'
    proc = subprocess.run([sys.executable, str(tool), str(make_published(tmp_path / 'raw')),
                           '--label-table', 'nine'], capture_output=True, text=True)
    assert proc.returncode == 2 and 'others-first' in proc.stderr
    help_text = subprocess.run([sys.executable, str(tool), '--help'], capture_output=True,
                               text=True).stdout
    assert 'five-classes' in help_text and 'Others' in help_text


# ------------------------------------------------------------------ user errors


def test_error_both_layout_spellings(tmp_path):
    raw = make_published(tmp_path / 'raw')
    (raw / 'images').mkdir()
    with pytest.raises(DaspmInputError) as err:
        convert(raw, tmp_path / 'out')
    msg = str(err.value)
    assert str(raw) in msg and 'image/' in msg and 'images/' in msg and 'keep one' in msg
    assert not (tmp_path / 'out').exists()
    (raw / 'images').rmdir()
    (raw / 'label').rename(raw / 'labels')  # image/ + labels/: half of each layout
    with pytest.raises(DaspmInputError, match='keep one'):
        convert(raw, tmp_path / 'out')


def test_error_no_layout_names_both(tmp_path):
    (tmp_path / 'raw').mkdir()
    with pytest.raises(DaspmInputError) as err:
        convert(tmp_path / 'raw', tmp_path / 'out')
    msg = str(err.value)
    assert 'directory not found' in msg
    assert '<raw>/image/ + <raw>/label/' in msg and '<raw>/images/ + <raw>/labels/' in msg
    (tmp_path / 'raw' / 'image').mkdir()
    with pytest.raises(DaspmInputError, match=r'raw/label: directory not found.*<raw>/images/'):
        convert(tmp_path / 'raw', tmp_path / 'out')


def test_error_split_file_in_both_places(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    (raw / 'val.txt').write_text('c\n')
    with pytest.raises(DaspmInputError) as err:
        convert(raw, tmp_path / 'out')
    msg = str(err.value)
    assert str(raw / 'splits' / 'val.txt') in msg and str(raw / 'val.txt') in msg
    assert not (tmp_path / 'out').exists()
    # Different splits in the two places are fine.
    (raw / 'splits' / 'val.txt').unlink()
    assert convert(raw, tmp_path / 'out')['manifest']['splits'] == {'train': 2, 'val': 1}


def test_error_mixed_image_formats(tmp_path):
    raw = make_published(tmp_path / 'raw')
    with rasterio.open(raw / 'image' / 'b.tif') as src:
        tr = src.transform
    _write(raw / 'image' / 'b.tif', np.full((4, 20, 20), 900, np.uint16), tr)
    with pytest.raises(DaspmInputError) as err:
        convert(raw, tmp_path / 'out', dataset='sentinel10m')
    msg = str(err.value)
    assert str(raw / 'image' / 'b.tif') in msg and str(raw / 'image' / 'a.tif') in msg
    assert 'uint16 with 4 bands' in msg and 'uint8 with 3 bands' in msg


def test_error_label_factors_differ(tmp_path):
    raw = make_sentinel(tmp_path / 'raw')
    # One pair on the image grid (factor 1) among pairs with 5x finer labels.
    _write(raw / 'labels' / 'c.tif', np.ones((4, 4), np.uint8), from_origin(600200, 3000000, 10, 10))
    with pytest.raises(DaspmInputError, match=r'different factors.*1x: c; 5x: a, b'):
        convert(raw, tmp_path / 'out', dataset='sentinel10m')



def test_error_missing_input_dir(tmp_path):
    with pytest.raises(DaspmInputError, match='input directory not found') as err:
        convert(tmp_path / 'missing', tmp_path / 'out')
    assert str(tmp_path / 'missing') in str(err.value)
    assert not (tmp_path / 'out').exists()


def test_error_missing_labels_dir(tmp_path):
    (tmp_path / 'raw' / 'images').mkdir(parents=True)
    with pytest.raises(DaspmInputError, match='labels'):
        convert(tmp_path / 'raw', tmp_path / 'out')


def test_error_empty_images_dir(tmp_path):
    (tmp_path / 'raw' / 'images').mkdir(parents=True)
    (tmp_path / 'raw' / 'labels').mkdir()
    with pytest.raises(DaspmInputError, match='no .tif images') as err:
        convert(tmp_path / 'raw', tmp_path / 'out')
    assert str(tmp_path / 'raw' / 'images') in str(err.value)


def test_error_image_without_label(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    (raw / 'labels' / 'b.tif').unlink()
    with pytest.raises(DaspmInputError, match='images without a label.*: b'):
        convert(raw, tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


def test_error_label_without_image(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    (raw / 'images' / 'c.tif').unlink()
    (raw / 'splits' / 'val.txt').unlink()
    with pytest.raises(DaspmInputError, match='labels without an image.*: c'):
        convert(raw, tmp_path / 'out')


def test_error_bad_label_value(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    codes = read_band(raw / 'labels' / 'b.tif')
    codes[3, 3], codes[4, 4] = 7, 42
    with rasterio.open(raw / 'labels' / 'b.tif') as src:
        tr = src.transform
    _write(raw / 'labels' / 'b.tif', codes, tr)
    before = tree_digest(raw)
    with pytest.raises(DaspmInputError) as err:
        convert(raw, tmp_path / 'out')
    msg = str(err.value)
    assert str(raw / 'labels' / 'b.tif') in msg and '7, 42' in msg and 'extend' in msg
    assert tree_digest(raw) == before
    assert not (tmp_path / 'out' / 'ann_dir' / 'b.tif').exists()


def test_error_unknown_colour(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    rgb = np.zeros((3, 20, 20), dtype=np.uint8)
    rgb[:, 0, 0] = (1, 2, 3)
    with rasterio.open(raw / 'labels' / 'a.tif') as src:
        tr = src.transform
    _write(raw / 'labels' / 'a.tif', rgb, tr)
    with pytest.raises(DaspmInputError, match=r'a\.tif.*\(1,2,3\)'):
        convert(raw, tmp_path / 'out')


def test_error_split_names_unknown(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    (raw / 'splits' / 'test.txt').write_text('a\nzzz\n')
    with pytest.raises(DaspmInputError, match=r'test\.txt.*zzz'):
        convert(raw, tmp_path / 'out')


@pytest.mark.parametrize('shift, res', [(3.0, 2.0), (0.0, 3.0)])
def test_error_misaligned_sentinel_label(tmp_path, shift, res):
    raw = make_sentinel(tmp_path / 'raw')
    size = int(40 / res)
    _write(raw / 'labels' / 'b.tif', np.ones((size, size), dtype=np.uint8),
           from_origin(600100 + shift, 3000000, res, res))
    with pytest.raises(DaspmInputError) as err:
        convert(raw, tmp_path / 'out', dataset='sentinel10m')
    assert str(raw / 'labels' / 'b.tif') in str(err.value)
    assert 'nearest neighbour' in str(err.value)


def test_error_gaofen_label_not_on_image_grid(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    _write(raw / 'labels' / 'c.tif', np.ones((20, 20), dtype=np.uint8),
           from_origin(500200 + 4, 4000000, 2, 2))
    with pytest.raises(DaspmInputError, match=r'c\.tif.*same grid'):
        convert(raw, tmp_path / 'out')


def test_error_output_inside_input_and_input_inside_output(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    before = tree_digest(raw)
    with pytest.raises(DaspmInputError, match='inside the input'):
        convert(raw, raw / 'converted')
    with pytest.raises(DaspmInputError, match='inside the input'):
        convert(raw, raw)
    assert tree_digest(raw) == before
    with pytest.raises(DaspmInputError, match='inside the output'):
        convert(raw, tmp_path)


def test_error_foreign_non_empty_output(tmp_path):
    raw = make_gaofen(tmp_path / 'raw')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'precious.txt').write_text('keep me')
    for overwrite in (False, True):
        with pytest.raises(DaspmInputError, match='not a previous DASPM'):
            convert(raw, out, overwrite=overwrite)
    assert (out / 'precious.txt').read_text() == 'keep me'
    assert sorted(p.name for p in out.iterdir()) == ['precious.txt']


def test_error_resume_with_other_dataset(tmp_path):
    out = tmp_path / 'out'
    convert(make_gaofen(tmp_path / 'g'), out)
    with pytest.raises(DaspmInputError, match='gaofen2m conversion'):
        convert(make_sentinel(tmp_path / 's'), out, dataset='sentinel10m')
