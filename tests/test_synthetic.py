"""Tests of the procedural synthetic Gaofen -> Sentinel-2 dataset generator (daspm.synthetic)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from daspm.convert import convert_dataset
from daspm.synthetic import (GREEN, IMPERVIOUS, MANIFEST_NAME, NUM_CLASSES, PSF_SIGMA_M, PSF_SIGMA_PX, ROAD,
                             WATER, class_counts, generate_dataset, make_layout, make_scene, make_tile,
                             parse_splits, render_gaofen, render_sentinel, sentinel_rgb_on_label_grid,
                             surface_reflectance)
from daspm.utils.errors import DaspmInputError

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / 'tools' / 'make_synthetic_dataset.py'
SIZE = 160  # 2 m pixels per tile side in the dataset fixture (32 Sentinel pixels)


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        meta = dict(crs=src.crs, transform=src.transform, bounds=src.bounds, nodata=src.nodata,
                    descriptions=src.descriptions, dtype=src.dtypes[0], count=src.count, shape=src.shape)
        return src.read(), meta


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), *args, '--quiet'], capture_output=True, text=True, cwd=REPO)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp('synth') / 'synthetic'
    manifest = generate_dataset(out, seed=3, tile_size=SIZE, num_source=4, num_target=4, progress=False)
    return out, manifest


# ---- scenes ----------------------------------------------------------------------------------

def test_scene_is_deterministic_per_seed() -> None:
    a = make_scene(np.random.default_rng(7), 120)
    b = make_scene(np.random.default_rng(7), 120)
    c = make_scene(np.random.default_rng(8), 120)
    assert a.dtype == np.uint8 and a.shape == (120, 120)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.max() < NUM_CLASSES


def test_all_classes_present_and_roads_impervious_rarest() -> None:
    total = sum(class_counts(make_scene(np.random.default_rng([0, i]), 200)) for i in range(24))
    shares = total / total.sum()
    assert (total > 0).all(), shares
    assert set(np.argsort(shares)[:2]) == {ROAD, IMPERVIOUS}, shares


def _short_runs(mask: np.ndarray, longest: int) -> int:
    """Runs of True of length 1..longest along rows, bounded by False on both sides inside the tile."""
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    count = 0
    for starts_row, ends_row in zip(edges == 1, edges == -1):
        starts, ends = np.flatnonzero(starts_row), np.flatnonzero(ends_row)
        inside = (starts > 0) & (ends < mask.shape[1])
        lengths = (ends - starts)[inside]
        count += int(((lengths >= 1) & (lengths <= longest)).sum())
    return count


def test_thin_subpixel_roads_and_wide_main_roads_exist() -> None:
    thin = wide = 0
    for i in range(8):
        road = make_scene(np.random.default_rng([1, i]), 200) == ROAD
        thin += _short_runs(road, 3) + _short_runs(road.T, 3)
        # A main road holds pixels at least 3 px from any non-road pixel (width >= 5 px = 10 m).
        wide += int((ndimage.distance_transform_edt(np.pad(road, 1))[1:-1, 1:-1] >= 3).sum())
    assert thin >= 100, thin
    assert wide > 0


def test_layout_instances_have_one_class_each() -> None:
    layout = make_layout(np.random.default_rng(5), 150)
    ids, cls = layout.instances.ravel(), layout.labels.ravel()
    first = np.full(ids.max() + 1, -1)
    first[ids] = cls
    assert np.array_equal(first[ids], cls)
    assert not layout.lane_marks[layout.labels != ROAD].any()


# ---- rendering -------------------------------------------------------------------------------

def test_psf_sigma_gives_mtf_03_at_10m_nyquist() -> None:
    nyquist = 1 / (2 * 10.0)
    assert math.exp(-2 * math.pi ** 2 * PSF_SIGMA_M ** 2 * nyquist ** 2) == pytest.approx(0.3, abs=1e-6)
    assert PSF_SIGMA_PX == pytest.approx(PSF_SIGMA_M / 2.0)


def test_renderers_shapes_dtypes_and_spectra() -> None:
    labels = np.full((100, 100), GREEN, np.uint8)
    labels[:, 50:] = WATER
    refl = surface_reflectance(np.random.default_rng(0), labels)
    assert refl.shape == (4, 100, 100) and refl.dtype == np.float32
    gf = render_gaofen(np.random.default_rng(1), refl)
    s2 = render_sentinel(np.random.default_rng(2), refl)
    assert gf.shape == (3, 100, 100) and gf.dtype == np.uint8
    assert s2.shape == (4, 20, 20) and s2.dtype == np.uint16
    assert s2.min() >= 1 and s2.max() <= 10000
    # Away from the boundary (PSF), vegetation is bright and water dark in B8.
    assert s2[3, :, :7].mean() > 3 * s2[3, :, 13:].mean()
    assert np.array_equal(s2, render_sentinel(np.random.default_rng(2), refl))


def test_tile_does_not_depend_on_other_tiles() -> None:
    a = make_tile(0, 'sentinel', 5, 60)
    b = make_tile(0, 'sentinel', 5, 60)
    gf = make_tile(0, 'gaofen', 5, 60)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, gf.labels)  # source and target scenes use different streams


# ---- dataset files ---------------------------------------------------------------------------

def test_layout_dtypes_bands_and_nodata(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    assert manifest['status'] == 'complete'
    assert json.loads((out / MANIFEST_NAME).read_text()) == manifest
    assert (out / 'README.md').read_text().startswith('# Synthetic')
    for name in (f'gf_{i:04d}' for i in range(4)):
        img, im = _read(out / 'gaofen' / 'images' / f'{name}.tif')
        lab, lm = _read(out / 'gaofen' / 'labels' / f'{name}.tif')
        assert (im['dtype'], im['count'], im['descriptions'], im['nodata']) == \
            ('uint8', 3, ('red', 'green', 'blue'), None)
        assert (lm['dtype'], lm['count'], lm['nodata']) == ('uint8', 1, 0)
        assert im['shape'] == lm['shape'] == (SIZE, SIZE)
        assert im['transform'] == lm['transform']
        assert set(np.unique(lab)) <= {1, 2, 3, 4, 5}
    for name in (f's2_{i:04d}' for i in range(4)):
        img, im = _read(out / 'sentinel' / 'images' / f'{name}.tif')
        lab, lm = _read(out / 'sentinel' / 'labels' / f'{name}.tif')
        assert (im['dtype'], im['count'], im['descriptions'], im['nodata']) == \
            ('uint16', 4, ('B2', 'B3', 'B4', 'B8'), None)
        assert img.min() >= 1 and img.max() <= 10000
        assert (lm['dtype'], lm['count'], lm['nodata']) == ('uint8', 1, 0)
        assert set(np.unique(lab)) <= {1, 2, 3, 4, 5}


def test_georeferencing(dataset: tuple[Path, dict]) -> None:
    out, _ = dataset
    corners = set()
    for domain, prefix in (('gaofen', 'gf'), ('sentinel', 's2')):
        for i in range(4):
            _, im = _read(out / domain / 'images' / f'{prefix}_{i:04d}.tif')
            _, lm = _read(out / domain / 'labels' / f'{prefix}_{i:04d}.tif')
            for meta in (im, lm):
                assert meta['crs'].is_projected and meta['crs'].to_epsg() == 32650
                assert meta['transform'].b == meta['transform'].d == 0  # north-up
            gsd = 2.0 if domain == 'gaofen' else 10.0
            assert (im['transform'].a, im['transform'].e) == (gsd, -gsd)
            assert (lm['transform'].a, lm['transform'].e) == (2.0, -2.0)
            assert im['bounds'] == lm['bounds']
            if domain == 'sentinel':
                assert lm['shape'] == (im['shape'][0] * 5, im['shape'][1] * 5) == (SIZE, SIZE)
            corners.add((im['bounds'].left, im['bounds'].top))
    assert len(corners) == 8  # every tile at its own place


def test_sentinel_vegetation_nir_above_water(dataset: tuple[Path, dict]) -> None:
    out, _ = dataset
    nir = {GREEN: [], WATER: []}
    for i in range(4):
        img, _ = _read(out / 'sentinel' / 'images' / f's2_{i:04d}.tif')
        lab, _ = _read(out / 'sentinel' / 'labels' / f's2_{i:04d}.tif')
        blocks = lab[0].reshape(SIZE // 5, 5, SIZE // 5, 5).transpose(0, 2, 1, 3).reshape(SIZE // 5, SIZE // 5, 25)
        for cls in nir:
            pure = (blocks == cls + 1).all(axis=2)  # 10 m pixels entirely of one class
            nir[cls].append(img[3][pure])
    veg, water = np.concatenate(nir[GREEN]), np.concatenate(nir[WATER])
    assert veg.size > 20 and water.size > 20
    assert veg.mean() > 2 * water.mean()


def test_manifest_shares_match_labels(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    for domain, prefix in (('gaofen', 'gf'), ('sentinel', 's2')):
        counts = np.zeros(6, np.int64)
        for path in sorted((out / domain / 'labels').glob(f'{prefix}_*.tif')):
            counts += np.bincount(_read(path)[0].ravel(), minlength=6)
        assert counts[0] == 0
        stored = manifest['domains'][domain]['class_pixels']
        assert [stored[str(c)] for c in range(1, 6)] == counts[1:].tolist()


def test_splits_partition_all_names(dataset: tuple[Path, dict]) -> None:
    out, manifest = dataset
    for domain, prefix in (('gaofen', 'gf'), ('sentinel', 's2')):
        names = {p.stem for p in (out / domain / 'images').glob('*.tif')}
        assert names == {f'{prefix}_{i:04d}' for i in range(4)}
        lists = [(out / domain / 'splits' / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')]
        flat = [n for lst in lists for n in lst]
        assert len(flat) == len(set(flat)) and set(flat) == names
        assert all(lists)  # each split non-empty with 4 tiles
        assert manifest['domains'][domain]['splits'] == dict(zip(('train', 'val', 'test'), map(len, lists)))


def test_dataset_deterministic_for_seed(tmp_path: Path) -> None:
    def arrays(out: Path) -> list[np.ndarray]:
        return [_read(p)[0] for p in sorted(out.rglob('*.tif'))]

    kwargs = dict(tile_size=60, num_source=2, num_target=2, progress=False)
    generate_dataset(tmp_path / 'a', seed=11, **kwargs)
    generate_dataset(tmp_path / 'b', seed=11, **kwargs)
    generate_dataset(tmp_path / 'c', seed=12, **kwargs)
    a, b, c = arrays(tmp_path / 'a'), arrays(tmp_path / 'b'), arrays(tmp_path / 'c')
    assert len(a) == 8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))
    # More tiles do not change the first ones.
    generate_dataset(tmp_path / 'd', seed=11, **{**kwargs, 'num_source': 3})
    for rel in ('gaofen/images/gf_0001.tif', 'sentinel/labels/s2_0001.tif'):
        assert np.array_equal(_read(tmp_path / 'a' / rel)[0], _read(tmp_path / 'd' / rel)[0])


# ---- user errors and the CLI -----------------------------------------------------------------

def test_tile_size_must_be_multiple_of_5(tmp_path: Path) -> None:
    with pytest.raises(DaspmInputError, match='multiple of 5'):
        generate_dataset(tmp_path / 'x', tile_size=62, num_source=1, num_target=1, progress=False)
    assert not (tmp_path / 'x').exists()
    res = _cli(str(tmp_path / 'y'), '--tile-size', '322')
    assert res.returncode == 2
    assert 'multiple of 5' in res.stderr and '320 or 325' in res.stderr
    assert 'Traceback' not in res.stderr


def test_bad_splits() -> None:
    assert parse_splits('0.5,0.25,0.25') == (0.5, 0.25, 0.25)
    for text in ('0.5,0.5', '0.6,0.6,0.6', 'a,b,c', '-0.1,0.6,0.5'):
        with pytest.raises(DaspmInputError):
            parse_splits(text)


def test_cli_refuses_to_overwrite_without_flag(tmp_path: Path) -> None:
    out = tmp_path / 'synthetic'
    args = (str(out), '--tile-size', '60', '--num-source', '2', '--num-target', '2')
    first = _cli(*args)
    assert first.returncode == 0, first.stderr
    assert 'gaofen' in first.stdout
    (out / 'notes.txt').write_text('mine')
    before = (out / 'gaofen' / 'images' / 'gf_0000.tif').read_bytes()

    again = _cli(*args, '--seed', '1')
    assert again.returncode == 2
    assert '--overwrite' in again.stderr and 'Traceback' not in again.stderr
    assert (out / 'gaofen' / 'images' / 'gf_0000.tif').read_bytes() == before

    replaced = _cli(*args, '--seed', '1', '--overwrite', '--num-source', '1')
    assert replaced.returncode == 0, replaced.stderr
    assert (out / 'notes.txt').read_text() == 'mine'  # only the generator's own folders are removed
    assert sorted(p.name for p in (out / 'gaofen' / 'images').iterdir()) == ['gf_0000.tif']
    assert json.loads((out / MANIFEST_NAME).read_text())['parameters']['seed'] == 1


def test_cli_never_touches_foreign_folders(tmp_path: Path) -> None:
    out = tmp_path / 'data'
    (out / 'gaofen').mkdir(parents=True)
    (out / 'gaofen' / 'real.tif').write_text('user data')
    res = _cli(str(out), '--tile-size', '60', '--num-source', '1', '--num-target', '1', '--overwrite')
    assert res.returncode == 2
    assert 'not written by this generator' in res.stderr
    assert (out / 'gaofen' / 'real.tif').read_text() == 'user data'


# ---- the published (reference) layout --------------------------------------------------------

REF_ARGS = ('--layout', 'reference', '--tile-size', '80', '--num-source', '6', '--num-target', '6', '--seed', '1')


@pytest.fixture(scope='module')
def reference_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('synth_ref') / 'data'
    res = _cli(str(out), *REF_ARGS)
    assert res.returncode == 0, res.stderr
    assert 'tools/convert_datasets/gaofen2m.py' in res.stdout
    return out


def test_sentinel_rgb_band_order_stretch_and_grid() -> None:
    image = np.zeros((4, 3, 2), np.uint16)
    image[0], image[1], image[2], image[3] = 600, 1200, 3000, 9000  # B2, B3, B4, B8
    rgb = sentinel_rgb_on_label_grid(image)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 15, 10)
    # red = B4 (white at reflectance 0.3), green = B3, blue = B2; B8 is dropped.
    assert [int(np.unique(band)[0]) for band in rgb] == [255, 102, 51]
    assert all(np.unique(band).size == 1 for band in rgb)
    image[2] = 9000  # brighter than the stretch: clipped, not wrapped
    assert (sentinel_rgb_on_label_grid(image)[0] == 255).all()


def test_reference_layout_files(reference_dataset: Path) -> None:
    out = reference_dataset
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest['parameters']['layout'] == 'reference' and manifest['status'] == 'complete'
    # Only images, labels and (for the target) split files: what the published data hold.
    assert sorted(p.name for p in (out / 'gaofen').iterdir()) == ['image', 'label']
    assert sorted(p.name for p in (out / 'sentinel').iterdir()) == \
        ['image', 'label', 'test.txt', 'train.txt', 'val.txt']
    assert manifest['domains']['gaofen']['splits'] == {}
    for domain, prefix in (('gaofen', 'gf'), ('sentinel', 's2')):
        names = sorted(p.stem for p in (out / domain / 'image').glob('*.tif'))
        assert names == [f'{prefix}_{i:04d}' for i in range(6)]
        for i, name in enumerate(names):
            img, im = _read(out / domain / 'image' / f'{name}.tif')
            lab, lm = _read(out / domain / 'label' / f'{name}.tif')
            assert (im['dtype'], im['count'], im['nodata']) == ('uint8', 3, None)
            assert im['descriptions'] == ('red', 'green', 'blue')
            # The image lies on the label grid: same CRS, transform and size (2 m).
            assert im['crs'] == lm['crs'] and im['crs'].to_epsg() == 32650
            assert im['transform'] == lm['transform'] and im['shape'] == lm['shape'] == (80, 80)
            assert (im['transform'].a, im['transform'].e) == (2.0, -2.0)
            tile = make_tile(1, domain, i, 80)
            assert np.array_equal(lab[0], tile.labels + 1)  # the same tiles as the default layout
            expected = tile.image if domain == 'gaofen' else sentinel_rgb_on_label_grid(tile.image)
            assert np.array_equal(img, expected)


def test_reference_layout_target_splits(reference_dataset: Path) -> None:
    lists = [(reference_dataset / 'sentinel' / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')]
    flat = [n for lst in lists for n in lst]
    assert all(lists)  # every split non-empty with 6 target tiles
    assert sorted(flat) == [f's2_{i:04d}' for i in range(6)]


def test_reference_layout_converts(reference_dataset: Path, tmp_path: Path) -> None:
    gaofen = convert_dataset(reference_dataset / 'gaofen', tmp_path / 'gaofen_converted', dataset='gaofen2m',
                             progress=False)['manifest']
    sentinel = convert_dataset(reference_dataset / 'sentinel', tmp_path / 'sentinel_converted',
                               dataset='sentinel10m', progress=False)['manifest']
    rgb = {'dtype': 'uint8', 'bands': 3, 'band_names': ['red', 'green', 'blue'], 'label_factor': 1}
    assert gaofen['image_format'] == sentinel['image_format'] == rgb
    assert gaofen['splits'] == {} and gaofen['num_images'] == 6
    assert sum(sentinel['splits'].values()) == 6 and min(sentinel['splits'].values()) >= 1
    assert sentinel['subpixel_factor'] == 1


def test_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(DaspmInputError, match='reference'):
        generate_dataset(tmp_path / 'x', tile_size=60, num_source=1, num_target=1, progress=False, layout='flat')
    assert not (tmp_path / 'x').exists()
