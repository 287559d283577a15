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
from daspm.convert import compute_class_stats, convert_dataset
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


# ------------------------------------------------------------------ user errors


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
