"""UDADataset (source x target pairs) and Rare Class Sampling on tiny converted datasets."""
from __future__ import annotations

import itertools
import json
import math
import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from conftest import write_tif
from daspm.datasets.rare_class_sampling import RareClassSampler, class_sampling_probabilities
from daspm.datasets.uda_dataset import MAX_CROP_TRIES, UDADataset
from daspm.utils.errors import DaspmInputError

SIZE = 32
CROP = 16
SOURCE_PIPELINE = [
    dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, nominal_gsd=2.0, num_bands=3),
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='RandomCrop', crop_size=(CROP, CROP)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
TARGET_PIPELINE = [
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0),
    dict(type='PackSegInputs'),
]


def source_labels() -> dict[str, np.ndarray]:
    """Labels with known counts: s0 holds a rare 10x10 block of water (4); s3 is outside the split."""
    s0 = np.zeros((SIZE, SIZE), np.uint8)
    s0[:10, :10] = 4                                   # {0: 924, 4: 100}
    s1 = np.ones((SIZE, SIZE), np.uint8)
    s1[:, SIZE // 2:] = 2                              # {1: 512, 2: 512}
    s2 = np.zeros((SIZE, SIZE), np.uint8)
    s2[SIZE // 2:] = 3                                 # {0: 512, 3: 512}
    s3 = np.full((SIZE, SIZE), 4, np.uint8)            # {4: 1024}, val split
    return dict(s0=s0, s1=s1, s2=s2, s3=s3)


# Pixels per class in the train split (s0, s1, s2), counted by hand from source_labels().
TRAIN_COUNTS = {0: 924 + 512, 1: 512, 2: 512, 3: 512, 4: 100}
FILE_COUNTS = {'ann_dir/s0.tif': {0: 924, 4: 100}, 'ann_dir/s1.tif': {1: 512, 2: 512},
               'ann_dir/s2.tif': {0: 512, 3: 512}, 'ann_dir/s3.tif': {4: 1024}}
TRAIN_FILES = ['ann_dir/s0.tif', 'ann_dir/s1.tif', 'ann_dir/s2.tif']


def write_statistics(root, labels: dict[str, np.ndarray]) -> None:
    """The converters' two RCS json files, counted from the labels."""
    stats, with_class = [], {}
    for name in sorted(labels):
        file = f'ann_dir/{name}.tif'
        hist = np.bincount(labels[name].ravel(), minlength=256)
        entry = {str(c): int(hist[c]) for c in range(5) if hist[c]}
        for c in range(5):
            if hist[c]:
                with_class.setdefault(str(c), []).append([file, int(hist[c])])
        stats.append({**entry, 'file': file})
    (root / 'sample_class_stats.json').write_text(json.dumps(stats))
    (root / 'samples_with_class.json').write_text(json.dumps(with_class))


def make_source(root):
    """Converted Gaofen-like dataset: 3-band uint8 images, train = s0..s2, val = s3, statistics."""
    labels = source_labels()
    for i, (name, label) in enumerate(labels.items()):
        write_tif(root / 'img_dir' / f'{name}.tif', np.full((3, SIZE, SIZE), 40 * i, np.uint8))
        write_tif(root / 'ann_dir' / f'{name}.tif', label, nodata=255)
    (root / 'train.txt').write_text('s0\ns1\ns2\n')
    (root / 'val.txt').write_text('s3\n')
    (root / 'daspm_dataset.json').write_text(json.dumps({'format': 'daspm-converted'}))
    write_statistics(root, labels)
    return root


def make_target(root, names=('t0', 't1')):
    """Converted Sentinel-like dataset: 4-band 10 m images of 4x4 (20x20 on the 2 m grid)."""
    for i, name in enumerate(names):
        write_tif(root / 'img_dir' / f'{name}.tif', np.full((4, 4, 4), 1000 + 100 * i, np.uint16),
                  gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])
        write_tif(root / 'ann_dir' / f'{name}.tif', np.zeros((20, 20), np.uint8), nodata=255)
    (root / 'train.txt').write_text(''.join(f'{n}\n' for n in names))
    (root / 'daspm_dataset.json').write_text(json.dumps({'format': 'daspm-converted'}))
    return root


@pytest.fixture
def roots(tmp_path):
    return make_source(tmp_path / 'gaofen'), make_target(tmp_path / 'sentinel')


def uda_config(source_root, target_root, **kwargs) -> dict:
    return dict(
        source=dict(type='GaofenDataset', data_root=str(source_root), ann_file='train.txt',
                    pipeline=SOURCE_PIPELINE),
        target=dict(type='SentinelDataset', data_root=str(target_root), ann_file='train.txt',
                    pipeline=TARGET_PIPELINE),
        **kwargs)


def expected_probs(counts: dict[int, int], temperature: float) -> list[float]:
    total = sum(counts.values())
    weights = [math.exp((1 - counts[c] / total) / temperature) for c in sorted(counts)]
    return [w / sum(weights) for w in weights]


# -- class probabilities and the sampler -------------------------------------------------------

def test_class_probabilities_follow_the_formula():
    # f = (0.75, 0.25), T = 1: p_1 = e^0.75 / (e^0.25 + e^0.75) = 1 / (1 + e^-0.5)
    classes, probs = class_sampling_probabilities({0: 3, 1: 1}, 1.0)
    assert classes == [0, 1]
    assert probs == pytest.approx([1 - 0.6224593, 0.6224593], abs=1e-6)
    # Equal shares give equal probabilities, classes without pixels are left out.
    classes, probs = class_sampling_probabilities({0: 10, 2: 10, 3: 0}, 0.01)
    assert classes == [0, 2] and probs == pytest.approx([0.5, 0.5])
    # T = 0.01 gives logits near 100 and must stay finite.
    classes, probs = class_sampling_probabilities(TRAIN_COUNTS, 0.01)
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)
    assert probs == pytest.approx(expected_probs(TRAIN_COUNTS, 0.01))
    assert probs.argmax() == 4  # the rarest class dominates


def test_sampler_uses_split_pixels_and_draws_classes_by_probability(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    sampler = RareClassSampler(root, TRAIN_FILES, ['a', 'b', 'c', 'd', 'e'], temperature=0.1,
                               min_pixels=50, seed=0)
    # s3 (val) holds 1024 water pixels; counted, it would change f_4 from 100/3072.
    assert sampler.class_pixels == TRAIN_COUNTS
    assert sampler.classes == [0, 1, 2, 3, 4]
    assert sampler.probs == pytest.approx(expected_probs(TRAIN_COUNTS, 0.1))
    rng = np.random.default_rng(1)
    draws = 10000
    counts = Counter(sampler.sample_class(rng) for _ in range(draws))
    for c, p in zip(sampler.classes, sampler.probs):
        assert abs(counts[c] / draws - p) < 0.02, (c, counts[c] / draws, p)


def test_sampled_files_hold_the_class_and_stay_in_the_split(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    sampler = RareClassSampler(root, ['./ann_dir/s0.tif', 'ann_dir/s1.tif', 'ann_dir/s2.tif'],
                               ['a', 'b', 'c', 'd', 'e'], min_pixels=500, drop_unqualified_classes=True,
                               seed=0)
    # Water (100 px in s0) does not reach 500 and is dropped; s3 (val) has 1024 but is not in the split.
    assert 4 not in sampler.classes
    assert sampler.files_per_class[0] == ['ann_dir/s0.tif', 'ann_dir/s2.tif']
    rng = np.random.default_rng(0)
    drawn = Counter()
    for _ in range(2000):
        c = sampler.sample_class(rng)
        file = sampler.sample_file(c, rng)
        assert FILE_COUNTS[file][c] > 500
        drawn[file] += 1
    assert 'ann_dir/s3.tif' not in drawn
    # Class 0 draws pick uniformly between its two qualifying files.
    zero = Counter(sampler.sample_file(0, rng) for _ in range(4000))
    assert abs(zero['ann_dir/s0.tif'] / 4000 - 0.5) < 0.03


def test_missing_statistics_name_the_file_and_the_converter(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    (root / 'samples_with_class.json').unlink()
    with pytest.raises(DaspmInputError, match=r'samples_with_class\.json.*does not exist.*'
                                              r'tools/convert_datasets/gaofen2m\.py'):
        RareClassSampler(root, TRAIN_FILES, ['a'] * 5)
    (root / 'sample_class_stats.json').unlink()
    with pytest.raises(DaspmInputError, match=r'sample_class_stats\.json.*convert_datasets'):
        RareClassSampler(root, TRAIN_FILES, ['a'] * 5)


def test_stale_statistics_are_reported(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    with pytest.raises(DaspmInputError, match=r'no entry for 1 file.*ann_dir/new\.tif.*stale'):
        RareClassSampler(root, TRAIN_FILES + ['ann_dir/new.tif'], ['a'] * 5, min_pixels=50)


def test_class_without_qualifying_file_is_named_with_a_working_min_pixels(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    names = ['green area', 'urban area', 'roads', 'impervious surface', 'water']
    with pytest.raises(DaspmInputError) as err:
        RareClassSampler(root, TRAIN_FILES, names, min_pixels=200)
    message = str(err.value)
    assert "'water'" in message and 'green area' not in message
    # Largest per-file counts: 924, 512, 512, 512, 100 -> suggest half of 100.
    assert 'min_pixels=50' in message
    RareClassSampler(root, TRAIN_FILES, names, min_pixels=50)  # the suggestion works
    with pytest.raises(DaspmInputError, match=r'green area.*water.*min_pixels=50'):
        RareClassSampler(root, TRAIN_FILES, names)  # default 3000 is too large for 32x32 images
    with pytest.warns(UserWarning, match='water'):
        sampler = RareClassSampler(root, TRAIN_FILES, names, min_pixels=200,
                                   drop_unqualified_classes=True)
    assert sampler.classes == [0, 1, 2, 3]
    # f_c keeps the dropped class's pixels in the denominator.
    total = sum(TRAIN_COUNTS.values())
    weights = [math.exp((1 - TRAIN_COUNTS[c] / total) / 0.01) for c in range(4)]
    assert sampler.probs == pytest.approx([w / sum(weights) for w in weights])


# -- UDADataset --------------------------------------------------------------------------------

def test_without_rcs_every_pair_appears_once(roots):
    dataset = UDADataset(**uda_config(*roots))
    assert len(dataset) == 3 * 2
    assert dataset.metainfo['classes'][4] == 'water'
    pairs = []
    for i in range(len(dataset)):
        item = dataset[i]
        assert item['rcs_class'] == -1
        pairs.append((osp.basename(item['data_samples'].img_path),
                      osp.basename(item['target_data_samples'].img_path)))
    assert sorted(pairs) == sorted(itertools.product(['s0.tif', 's1.tif', 's2.tif'], ['t0.tif', 't1.tif']))
    # item i -> source i // len(target), target i % len(target)
    assert pairs[3] == ('s1.tif', 't1.tif')


def test_items_have_source_and_target_keys_shapes_and_collate(roots):
    dataset = UDADataset(**uda_config(*roots))
    item = dataset[0]
    assert set(item) == {'inputs', 'data_samples', 'target_inputs', 'target_data_samples', 'rcs_class'}
    assert item['inputs'].shape == (3, CROP, CROP)
    assert item['data_samples'].gt_sem_seg.data.shape == (1, CROP, CROP)
    assert item['target_inputs'].shape == (3, 20, 20)
    assert 'gt_sem_seg' not in item['target_data_samples']
    batch = pseudo_collate([dataset[0], dataset[5]])
    assert set(batch) == set(item)
    assert len(batch['inputs']) == 2 and batch['inputs'][0].shape == (3, CROP, CROP)
    assert len(batch['target_inputs']) == 2 and len(batch['target_data_samples']) == 2
    assert batch['rcs_class'] == [-1, -1]


def test_rcs_items_hold_the_drawn_class(roots):
    dataset = UDADataset(**uda_config(*roots, rare_class_sampling=dict(class_temp=0.1, min_pixels=50)))
    assert len(dataset) == 6
    assert dataset.rcs is not None and dataset.rcs.probs == pytest.approx(expected_probs(TRAIN_COUNTS, 0.1))
    classes, targets = Counter(), Counter()
    for i in range(60):
        item = dataset[i]
        c = item['rcs_class']
        file = 'ann_dir/' + osp.basename(item['data_samples'].seg_map_path)
        assert file != 'ann_dir/s3.tif'
        assert FILE_COUNTS[file][c] > 50
        classes[c] += 1
        targets[osp.basename(item['target_data_samples'].img_path)] += 1
    assert classes[4] > classes[0]  # the rare class is drawn more often than the frequent one
    assert set(targets) == {'t0.tif', 't1.tif'}


class _CountingSource:
    """Wraps a source dataset; the crops' labels hold ``pixels[k]`` pixels of class 4 on call k."""

    def __init__(self, dataset, pixels):
        self.dataset, self.pixels, self.calls = dataset, list(pixels), 0

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        item = self.dataset[idx]
        gt = item['data_samples'].gt_sem_seg.data
        gt.zero_()
        gt.view(-1)[:self.pixels[min(self.calls, len(self.pixels) - 1)]] = 4
        self.calls += 1
        return item


def test_rcs_redraws_the_crop_until_it_holds_enough_of_the_class(roots):
    dataset = UDADataset(**uda_config(*roots, rare_class_sampling=dict(
        class_temp=0.001, min_pixels=50, min_crop_ratio=0.5)))
    assert dataset.rcs.probs[dataset.rcs.classes.index(4)] > 0.999  # always the rare class
    dataset.source = _CountingSource(dataset.source, [0, 10, 25, 26])  # needs > 25
    assert dataset[0]['rcs_class'] == 4
    assert dataset.source.calls == 4
    dataset.source = _CountingSource(dataset.source.dataset, [0])
    dataset[0]
    assert dataset.source.calls == MAX_CROP_TRIES  # gives up after 10 tries, keeps the last crop


def test_rcs_generator_differs_per_worker_seed_and_repeats_for_the_same(roots):
    dataset = UDADataset(**uda_config(*roots, rare_class_sampling=dict(class_temp=1.0, min_pixels=50)))

    def stream(torch_seed):
        torch.manual_seed(torch_seed)  # what mmengine's worker_init_fn does in each worker
        dataset._rng = None
        return [dataset.rcs.sample_class(dataset.rng) for _ in range(50)]

    assert stream(1) == stream(1)
    assert stream(1) != stream(2)


def test_rcs_errors_reach_the_user(roots):
    source_root, target_root = roots
    with pytest.raises(DaspmInputError, match=r'water.*min_pixels=50'):
        UDADataset(**uda_config(source_root, target_root, rare_class_sampling=dict()))
    with pytest.raises(DaspmInputError, match=r'unknown rare_class_sampling option.*min_pixel\b'):
        UDADataset(**uda_config(source_root, target_root, rare_class_sampling=dict(min_pixel=50)))
    (source_root / 'sample_class_stats.json').unlink()
    with pytest.raises(DaspmInputError, match=r'sample_class_stats\.json.*gaofen2m\.py'):
        UDADataset(**uda_config(source_root, target_root, rare_class_sampling=dict(min_pixels=50)))


def test_different_classes_are_refused(roots):
    cfg = uda_config(*roots)
    cfg['target']['metainfo'] = dict(classes=('green area', 'urban area'))
    with pytest.raises(DaspmInputError, match='different classes'):
        UDADataset(**cfg)


# -- boundaries: "more than min_pixels" and "more than min_pixels * min_crop_ratio" -------------

NAMES = ['green area', 'urban area', 'roads', 'impervious surface', 'water']


def test_a_file_with_exactly_min_pixels_of_a_class_does_not_qualify(tmp_path):
    root = make_source(tmp_path / 'gaofen')
    # water: exactly 100 pixels in s0, its only train file -> needs min_pixels < 100
    with pytest.raises(DaspmInputError, match=r"'water' \(id 4, at most 100 px"):
        RareClassSampler(root, TRAIN_FILES, NAMES, min_pixels=100)
    sampler = RareClassSampler(root, TRAIN_FILES, NAMES, min_pixels=99)
    assert sampler.classes == [0, 1, 2, 3, 4]
    assert sampler.files_per_class[4] == ['ann_dir/s0.tif']
    # class 0: 924 px in s0 and exactly 512 in s2; classes 1, 2, 3: exactly 512 in one file
    with pytest.warns(UserWarning, match='urban area.*roads.*impervious surface.*water'):
        at_512 = RareClassSampler(root, TRAIN_FILES, NAMES, min_pixels=512, drop_unqualified_classes=True)
    assert at_512.files_per_class == {0: ['ann_dir/s0.tif']}
    assert at_512.classes == [0]
    with pytest.warns(UserWarning, match='water'):
        at_511 = RareClassSampler(root, TRAIN_FILES, NAMES, min_pixels=511, drop_unqualified_classes=True)
    assert at_511.files_per_class == {0: ['ann_dir/s0.tif', 'ann_dir/s2.tif'], 1: ['ann_dir/s1.tif'],
                                      2: ['ann_dir/s1.tif'], 3: ['ann_dir/s2.tif']}


def test_uda_dataset_min_pixels_boundary(roots):
    source_root, target_root = roots
    with pytest.raises(DaspmInputError, match='water'):
        UDADataset(**uda_config(source_root, target_root, rare_class_sampling=dict(min_pixels=100)))
    dataset = UDADataset(**uda_config(source_root, target_root, rare_class_sampling=dict(min_pixels=99)))
    assert dataset.rcs.files_per_class[4] == ['ann_dir/s0.tif']


def test_crop_with_exactly_min_pixels_times_ratio_is_redrawn(roots):
    dataset = UDADataset(**uda_config(*roots, rare_class_sampling=dict(
        class_temp=0.001, min_pixels=60, min_crop_ratio=0.25)))
    assert dataset.rcs.min_crop_pixels == 15  # 60 * 0.25: a crop needs more than 15 pixels
    source = dataset.source
    dataset.source = _CountingSource(source, [15])
    dataset[0]
    assert dataset.source.calls == MAX_CROP_TRIES  # 15 is not more than 15: every try re-drawn
    dataset.source = _CountingSource(source, [16])
    dataset[0]
    assert dataset.source.calls == 1


def test_dropped_class_stays_in_the_frequency_denominator(tmp_path):
    # min_pixels=200 drops water (100 px), but f_c = n_c / (all 3072 train pixels, water included):
    # f = 1436, 512, 512, 512 over 3072 -> p_c = softmax((1 - f_c) / 0.1) over the four classes.
    root = make_source(tmp_path / 'gaofen')
    with pytest.warns(UserWarning, match='water'):
        sampler = RareClassSampler(root, TRAIN_FILES, NAMES, temperature=0.1, min_pixels=200,
                                   drop_unqualified_classes=True)
    logits = [(1 - n / 3072) / 0.1 for n in (1436, 512, 512, 512)]
    weights = [math.exp(v) for v in logits]
    assert sampler.probs == pytest.approx([w / sum(weights) for w in weights], rel=1e-9)
    # over the four sampled classes alone (2972 px) the rare-class preference would be larger
    alone = [math.exp((1 - n / 2972) / 0.1) for n in (1436, 512, 512, 512)]
    assert abs(sampler.probs[0] - alone[0] / sum(alone)) > 1e-3


# -- rare class sampling inside forked DataLoader workers ----------------------------------------

def _draws_of_a_batch(batch: list[dict]) -> tuple[int, list[tuple[int, str, str]]]:
    """collate_fn (runs in the worker): the worker's id and (class, source file, target file) of each item."""
    info = torch.utils.data.get_worker_info()
    return info.id, [(item['rcs_class'], osp.basename(item['data_samples'].seg_map_path),
                      osp.basename(item['target_data_samples'].img_path)) for item in batch]


def _worker_streams(dataset, seed: int, persistent: bool, epochs: int = 2,
                    items: int = 48) -> list[dict[int, list[tuple[int, str, str]]]]:
    """Per epoch, each worker's draws, loaded as mmengine's Runner loads them (its worker_init_fn,
    torch seeded by the run's seed, fork start method, two workers)."""
    from functools import partial

    from mmengine.dataset import worker_init_fn
    torch.manual_seed(seed)      # the Runner's set_random_seed: the loader's base seed comes from it
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=6, sampler=list(range(items)), num_workers=2, persistent_workers=persistent,
        collate_fn=_draws_of_a_batch, multiprocessing_context='fork',
        worker_init_fn=partial(worker_init_fn, num_workers=2, rank=0, seed=seed))
    epochs_out = []
    for _ in range(epochs):
        streams: dict[int, list] = {0: [], 1: []}
        for worker, draws in loader:
            streams[worker] += draws
        epochs_out.append(streams)
    return epochs_out


@pytest.mark.parametrize('persistent', [False, True])
def test_rcs_in_forked_workers_draws_own_reproducible_streams_with_the_rcs_frequencies(roots, persistent):
    dataset = UDADataset(**uda_config(*roots, rare_class_sampling=dict(class_temp=0.1, min_pixels=50)))
    dataset[0]   # the main process draws first: its generator must not be inherited by the forked workers
    run = _worker_streams(dataset, seed=7, persistent=persistent)
    for epoch in run:
        assert len(epoch[0]) == len(epoch[1]) == 24
        assert [c for c, _, _ in epoch[0]] != [c for c, _, _ in epoch[1]], 'both workers drew the same classes'
        assert epoch[0] != epoch[1]
    # a new epoch continues (persistent workers) or reseeds (new workers): it does not replay the last one
    assert run[0][0] != run[1][0] and run[0][1] != run[1][1]
    # the same seed gives the same run, worker by worker; another seed another run
    assert _worker_streams(dataset, seed=7, persistent=persistent) == run
    assert _worker_streams(dataset, seed=8, persistent=persistent, epochs=1)[0] != run[0]
    # pooled over workers and epochs, classes follow p(c) = softmax((1 - f_c) / T) of the train split
    draws = [d for epoch in run for stream in epoch.values() for d in stream]
    n = len(draws)
    counts = Counter(c for c, _, _ in draws)
    for c, p in zip(range(5), expected_probs(TRAIN_COUNTS, 0.1)):
        assert abs(counts[c] / n - p) <= 3.5 * math.sqrt(p * (1 - p) / n) + 1 / n, (c, counts[c] / n, p)
    for c, source, _ in draws:
        assert FILE_COUNTS[f'ann_dir/{source}'][c] > 50     # the file drawn holds the class drawn
    assert {t for _, _, t in draws} == {'t0.tif', 't1.tif'}
