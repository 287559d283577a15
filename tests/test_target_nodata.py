"""Target nodata pixels (NaN/Inf input) get pseudo-weight 0 in DACS, like batch padding: the mask
comes from the image through the real target pipeline, and DACS still reads no target label."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import write_tif
from dacs_helpers import CROP, build_dacs, make_batch
from daspm.datasets.transforms import PackSegInputsWithNodata, TrackImageNodata
from daspm.models.uda.class_mix import class_mix
from daspm.utils.sample_fields import IMAGE_NODATA_FIELD
from test_dacs import _logits_at_input_size, _make_confident

# nodata block of target image 1 in the DACS batch (rows, columns)
NODATA = (slice(8, 40), slice(16, 56))


class UnlabelledSample(SegDataSample):
    """A target sample whose label cannot be read: any access fails the test."""

    @property
    def gt_sem_seg(self):
        raise AssertionError('DACS read a target label')


def _target_batch(nodata_masks: list[torch.Tensor | None]) -> dict:
    """``make_batch()`` with unreadable target labels and, per target image, an optional nodata mask.

    The masked pixels are filled with 0 as LoadGeoTiff fills them.
    """
    batch = make_batch()
    samples, images = [], []
    for sample, image, mask in zip(batch['target_data_samples'], batch['target_inputs'], nodata_masks):
        guarded = UnlabelledSample(metainfo=sample.metainfo)
        if mask is not None:
            guarded.set_data({IMAGE_NODATA_FIELD: PixelData(data=mask[None])})
            image = image.masked_fill(mask, 0.0)
        samples.append(guarded)
        images.append(image)
    batch.update(target_inputs=images, target_data_samples=samples)
    return batch


def _step(batch: dict, **options):
    _, model, wrapper = build_dacs(deterministic=True, **options)
    _make_confident(model)
    MessageHub.get_current_instance().update_info('iter', 0)
    log = model.train_step(copy.copy(batch), wrapper)
    return model, log


def test_target_nodata_pixels_get_pseudo_weight_0_and_do_not_count_in_the_share():
    nodata = torch.zeros(CROP, CROP, dtype=torch.bool)
    nodata[NODATA] = True
    batch = _target_batch([None, nodata])
    model, log = _step(batch)
    weight = model.debug_output['pseudo_weight']
    # by hand: the teacher (a copy of the student at iteration 0) on the filled target images
    tgt = model.data_preprocessor(dict(inputs=batch['target_inputs'],
                                       data_samples=batch['target_data_samples']), True)
    probs = torch.softmax(_logits_at_input_size(copy.deepcopy(model.ema_model).train(), tgt['inputs']), dim=1)
    confident = probs.max(dim=1).values >= model.pseudo_threshold
    has_data = torch.ones_like(confident)
    has_data[1, NODATA[0], NODATA[1]] = False
    share = (confident & has_data).sum().item() / has_data.sum().item()
    assert share != pytest.approx(confident.float().mean().item())  # the block changes the share
    assert float(log['pseudo_weight']) == pytest.approx(share)
    assert torch.all(weight[1, NODATA[0], NODATA[1]] == 0)
    assert torch.all(weight[has_data] == torch.tensor(share, dtype=torch.float32)) and share > 0
    # ClassMix (and MIC, which takes the same weights): nodata target pixels that no source class
    # covers keep weight 0 in the mixed batch, as padding does; pasted source pixels weigh 1
    d = model.debug_output
    _, _, mixed_weight = class_mix(d['mix_mask'], d['source_image'], d['target_image'], d['source_label'],
                                   d['pseudo_label'], d['pseudo_weight'])
    pasted = d['mix_mask'][1, 0].bool()
    assert (~pasted & ~has_data[1]).any() and (pasted & ~has_data[1]).any()
    assert torch.all(mixed_weight[1][~pasted & ~has_data[1]] == 0)
    assert torch.all(mixed_weight[1][pasted] == 1)
    assert float(log['tgt_pad_share']) == 0.0  # nodata is not padding


def test_nodata_and_padding_together_and_the_reference_switch_keeps_nodata_out():
    # image 1 is a padded 40x48 crop with nodata inside it; ignore_padding=False still drops nodata
    batch = make_batch(target_shapes=[(CROP, CROP), (40, 48)])
    nodata = torch.zeros(40, 48, dtype=torch.bool)
    nodata[:10, 30:] = True
    sample = batch['target_data_samples'][1]
    sample.set_data({IMAGE_NODATA_FIELD: PixelData(data=nodata[None])})
    batch['target_inputs'][1] = batch['target_inputs'][1].masked_fill(nodata, 0.0)
    model, _ = _step(batch)
    weight = model.debug_output['pseudo_weight'][1]
    assert torch.all(weight[:10, 30:48] == 0) and torch.all(weight[40:] == 0) and torch.all(weight[:, 48:] == 0)
    assert torch.all(weight[10:40, :48] > 0) and torch.all(weight[:10, :30] > 0)
    ref, _ = _step(batch, ignore_padding=False)
    ref_weight = ref.debug_output['pseudo_weight'][1]
    assert torch.all(ref_weight[:10, 30:48] == 0) and torch.all(ref_weight[40:] > 0)


# ------------------------------------------------------------------------------ the data pipeline
SIZE = 40                               # input pixels at 10 m; the target pipeline resamples to 2 m
BLOCK = (slice(8, 24), slice(4, 18))    # input pixels made NaN (off-centre: a flip moves it)


def _ramp_tile(path, with_nan: bool):
    """float32 B4/B3/B2 tile whose bands hold the input row and column (x 100), NaN on BLOCK if asked.

    Linear ramps survive bicubic and bilinear resampling, so after the pipeline each output pixel
    of the tile without NaN tells which input position it shows.
    """
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    data = np.stack([100 * rows + 300, 100 * cols + 300, np.full_like(rows, 900)])
    if with_nan:
        data[:, BLOCK[0], BLOCK[1]] = np.nan
    return write_tif(path, data, gsd=10.0, descriptions=['B4', 'B3', 'B2'])


def _run(pipeline, path, seed: int, **extra) -> dict:
    np.random.seed(seed)
    return pipeline(dict(img_path=str(path), **extra))


def test_the_nodata_mask_follows_resize_crop_and_flip_of_the_real_target_pipeline(tmp_path):
    cfg, _, _ = build_dacs()
    steps = copy.deepcopy(cfg.train_dataloader.dataset.target.pipeline)
    assert [s['type'] for s in steps] == ['LoadGeoTiff', 'SubPixelResample', 'TrackImageNodata', 'RandomResize',
                                          'RandomCrop', 'RandomFlip', 'PackSegInputsWithNodata']
    pipeline = Compose(steps)
    clean, broken = _ramp_tile(tmp_path / 'clean.tif', False), _ramp_tile(tmp_path / 'broken.tif', True)
    # a label beside the image that marks everything ignore: the mask must not come from it
    label = write_tif(tmp_path / 'label.tif', np.full((SIZE * 5, SIZE * 5), 255, np.uint8), gsd=2.0)
    seen = set()
    for seed in range(40):
        with_nan = _run(pipeline, broken, seed, seg_map_path=str(label))
        sample = with_nan['data_samples']
        assert 'gt_sem_seg' not in sample
        if IMAGE_NODATA_FIELD not in sample:
            continue  # the crop missed the block: no mask, the unchanged route (checked below)
        mask = sample.get(IMAGE_NODATA_FIELD).data[0]
        assert mask.dtype == torch.bool and mask.shape == with_nan['inputs'].shape[1:] and mask.any()
        # the same draws on the tile without NaN: its ramps give each output pixel's input position
        clean_run = _run(pipeline, clean, seed)
        positions = clean_run['inputs'].float() * 3000 / 100 - 3  # input row, column
        assert clean_run['data_samples'].flip == sample.flip
        row, col = positions[0], positions[1]
        inside = ((row > BLOCK[0].start - 0.5) & (row < BLOCK[0].stop - 0.5)
                  & (col > BLOCK[1].start - 0.5) & (col < BLOCK[1].stop - 0.5))
        # resampling conventions (nearest vs. bicubic/bilinear) differ by under one input pixel
        near_edge = ((row - BLOCK[0].start + 0.5).abs() < 1) | ((row - BLOCK[0].stop + 0.5).abs() < 1) \
            | ((col - BLOCK[1].start + 0.5).abs() < 1) | ((col - BLOCK[1].stop + 0.5).abs() < 1)
        assert torch.equal(mask[~near_edge], inside[~near_edge]), seed
        # away from the block both tiles show the same pixels: the same draws, crop and flip
        far = ((row < BLOCK[0].start - 4) | (row > BLOCK[0].stop + 3)
               | (col < BLOCK[1].start - 4) | (col > BLOCK[1].stop + 3))
        assert torch.equal(with_nan['inputs'][:, far], clean_run['inputs'][:, far])
        if inside[~near_edge].any() and far.any():
            seen.add(bool(sample.flip))  # a crop that shows block and surroundings
    assert seen == {False, True}  # crops with the block were checked flipped and not flipped


def test_a_tile_without_nodata_packs_no_mask_and_a_misplaced_tracker_is_named(tmp_path):
    clean = _ramp_tile(tmp_path / 'clean.tif', False)
    cfg, _, _ = build_dacs()
    packed = _run(Compose(copy.deepcopy(cfg.train_dataloader.dataset.target.pipeline)), clean, 0)
    assert IMAGE_NODATA_FIELD not in packed['data_samples']
    # TrackImageNodata before SubPixelResample: the map stays on the 10 m grid, which packing refuses
    results = dict(img=np.zeros((10, 10, 3), np.float32), img_nodata_mask=np.eye(2, dtype=bool),
                   img_path='t.tif', img_shape=(10, 10), ori_shape=(10, 10))
    with pytest.raises(ValueError, match=r't.tif: nodata mask \(2, 2\) does not match the image \(10, 10\); '
                                         'put TrackImageNodata after SubPixelResample'):
        PackSegInputsWithNodata()(TrackImageNodata()(results))


def test_tiles_without_nodata_train_exactly_as_with_the_pipeline_before(tmp_path):
    """The new target pipeline (tracker + packing with nodata) against the one before, on a tile
    without nodata: the same packed samples (no mask) and the same DACS step, bit for bit."""
    clean = _ramp_tile(tmp_path / 'clean.tif', False)
    cfg, _, _ = build_dacs()
    steps = copy.deepcopy(cfg.train_dataloader.dataset.target.pipeline)
    for step in steps:
        if step['type'] == 'RandomCrop':
            step['crop_size'] = (CROP, CROP)
    before = [dict(s, type='PackSegInputs') if s['type'] == 'PackSegInputsWithNodata' else s
              for s in steps if s['type'] != 'TrackImageNodata']
    logs, weights = [], []
    for pipeline in (Compose(steps), Compose(before)):
        packed = [_run(pipeline, clean, seed) for seed in (0, 1)]
        assert all(IMAGE_NODATA_FIELD not in p['data_samples'] for p in packed)
        batch = make_batch()
        batch.update(target_inputs=[p['inputs'].float() for p in packed],
                     target_data_samples=[p['data_samples'] for p in packed])
        model, log = _step(batch)
        logs.append(log)
        weights.append(model.debug_output['pseudo_weight'])
    assert set(logs[0]) == set(logs[1]) and 'mix.decode.loss_ce' in logs[0]
    for key in logs[0]:
        assert torch.equal(torch.as_tensor(logs[0][key]), torch.as_tensor(logs[1][key])), key
    assert torch.equal(weights[0], weights[1])
