"""The adaptation benchmark's levers: Sentinel-2 sensor simulation of source images, per-pixel
pseudo-weights and a warm start from a source-only checkpoint."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from conftest import REPO
from dacs_helpers import build_dacs, make_batch
from daspm.apis.config_loading import load_config
from daspm.datasets.transforms import SimulateCoarseSensor
from daspm.datasets.transforms.sensor_simulation import gaussian_psf_sigma, simulate_coarse_sensor
from daspm.models.uda.pseudo_label import pseudo_labels_from_logits
from daspm.utils.errors import DaspmInputError

S2SIM_UDA = REPO / 'configs/daspm/synthetic_uda_rcs_fd_s2sim_daformer_mitb0.py'
S2SIM_SOURCE_ONLY = REPO / 'configs/daspm/synthetic_source-only_s2sim_daformer_mitb0.py'


# ------------------------------------------------------------------ sensor simulation
@pytest.mark.parametrize('mtf', [0.15, 0.3])
def test_psf_sigma_gives_the_specified_mtf_at_nyquist(mtf):
    sigma = gaussian_psf_sigma(mtf, sensor_gsd=10.0)
    nyquist = 1.0 / (2 * 10.0)  # cycles per metre
    assert math.exp(-2 * math.pi ** 2 * sigma ** 2 * nyquist ** 2) == pytest.approx(mtf)
    # the generator's own sensor (MTF 0.30) has a 4.94 m PSF; the augmentation must not rely on it
    if mtf == 0.3:
        assert sigma == pytest.approx(4.94, abs=0.01)


def test_without_blur_each_footprint_becomes_the_mean_of_its_pixels_from_the_offset():
    img = np.arange(20 * 15, dtype=np.float32).reshape(20, 15, 1) % 7
    out = simulate_coarse_sensor(img, factor=5, sigma_px=0.0, offset=(0, 0), interpolation='nearest')
    for r in range(0, 20, 5):
        for c in range(0, 15, 5):
            assert np.allclose(out[r:r + 5, c:c + 5, 0], img[r:r + 5, c:c + 5, 0].mean())
    # footprints starting 2 rows and 3 columns before the image: the first full one is rows 3..7, columns 2..6
    out = simulate_coarse_sensor(img, factor=5, sigma_px=0.0, offset=(2, 3), interpolation='nearest')
    assert np.allclose(out[3:8, 2:7, 0], img[3:8, 2:7, 0].mean())
    assert not np.allclose(out[0:5, 0:5, 0], img[0:5, 0:5, 0].mean())


def test_detail_finer_than_the_sensor_is_lost_and_flat_ground_stays_flat():
    rows, cols = np.indices((60, 60))
    checker = ((rows + cols) % 2).astype(np.float32)[..., None].repeat(3, axis=2)  # 2 m pattern
    out = simulate_coarse_sensor(checker, factor=5, sigma_px=gaussian_psf_sigma(0.3, 10.0) / 2.0)
    assert out.shape == checker.shape and out.dtype == checker.dtype
    assert out[10:50, 10:50].std() < 0.02 and abs(out.mean() - 0.5) < 0.02
    flat = np.full((40, 40, 3), 0.37, np.float32)
    assert np.allclose(simulate_coarse_sensor(flat, 5, 2.47, (1, 4)), 0.37, atol=1e-5)


def test_an_edge_spreads_over_more_than_one_10m_pixel_and_stays_in_range():
    edge = np.zeros((50, 100, 3), np.float32)
    edge[:, 50:] = 1.0
    out = SimulateCoarseSensor(mtf_at_nyquist=0.3)(dict(img=edge.copy(), gsd=2.0))['img']
    profile = out[25, :, 0]
    assert profile.min() >= 0.0 and profile.max() <= 1.0
    ramp = np.flatnonzero((profile > 0.1) & (profile < 0.9))
    assert ramp.size >= 5  # a sharp 2 m edge now takes at least one 10 m pixel to rise
    assert profile[:35].max() < 0.05 and profile[65:].min() > 0.95


def test_transform_keeps_labels_and_reads_the_grid_from_the_sample():
    rng = np.random.default_rng(0)
    img = rng.random((40, 40, 3)).astype(np.float32)
    label = rng.integers(0, 5, (40, 40)).astype(np.uint8)
    out = SimulateCoarseSensor()(dict(img=img.copy(), gsd=2.0, gt_seg_map=label.copy()))
    assert np.array_equal(out['gt_seg_map'], label)
    assert not np.allclose(out['img'], img)
    unchanged = SimulateCoarseSensor(prob=0.0)(dict(img=img.copy(), gsd=2.0))
    assert np.array_equal(unchanged['img'], img)
    # a 4 m grid is simulated with 10/4 = 2.5 footprint pixels: not whole, refused with the fix
    with pytest.raises(DaspmInputError, match='not a whole multiple'):
        SimulateCoarseSensor()(dict(img=img, gsd=4.0, img_path='a.tif'))
    with pytest.raises(DaspmInputError, match='a.tif.*after SubPixelResample'):
        SimulateCoarseSensor()(dict(img=img, img_path='a.tif'))
    with pytest.raises(ValueError, match='mtf_at_nyquist'):
        SimulateCoarseSensor(mtf_at_nyquist=(0.3, 1.0))


def test_nodata_fill_values_do_not_bleed_into_the_image():
    img = np.full((30, 30, 3), 0.5, np.float32)
    nodata = np.zeros((30, 30), bool)
    nodata[:, :10] = True
    img[nodata] = 100.0  # a fill value far outside the image
    out = SimulateCoarseSensor()(dict(img=img, gsd=2.0, img_nodata_mask=nodata))['img']
    assert np.allclose(out[~nodata], 0.5, atol=1e-5)


@pytest.mark.parametrize('config, twin', [
    (S2SIM_UDA, 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'),
    (S2SIM_SOURCE_ONLY, 'configs/daspm/synthetic_source-only_daformer_mitb0.py'),
])
def test_sensor_configs_add_one_step_after_the_grid_step_and_change_nothing_else(config, twin):
    cfg, base = load_config(config), load_config(REPO / twin)

    def source_pipeline(c):
        dataset = c.train_dataloader.dataset
        return dataset.source.pipeline if 'source' in dataset else dataset.pipeline

    steps = source_pipeline(cfg)
    types = [s['type'] for s in steps]
    at = types.index('SimulateCoarseSensor')
    assert types[at - 1] == 'SubPixelResample' and types.index('RandomResize') == at + 1
    assert steps[at]['sensor_gsd'] == 10.0 and tuple(steps[at]['mtf_at_nyquist']) == (0.15, 0.30)
    assert [s for s in steps if s['type'] != 'SimulateCoarseSensor'] == source_pipeline(base)
    assert cfg.model == base.model and cfg.param_scheduler == base.param_scheduler


# ------------------------------------------------------------------ per-pixel pseudo-weights
def test_per_pixel_weight_is_one_on_confident_pixels_and_zero_elsewhere():
    # 1 image, 2 classes, 2x3 pixels; softmax of (l, 0): p = 1 / (1 + e^-l)
    logits = torch.zeros(1, 2, 2, 3)
    logits[0, 0] = torch.tensor([[5.0, 0.5, -5.0], [4.0, -4.0, -0.5]])  # p0 = .993 .622 .007 / .982 .018 .378
    valid = torch.ones(1, 2, 3, dtype=torch.bool)
    valid[0, 1, 2] = False  # padding
    label, weight, share = pseudo_labels_from_logits(logits, 0.968, valid=valid, per_pixel=True)
    assert label.tolist() == [[[0, 0, 1], [0, 1, 1]]]
    # confident (max prob >= 0.968): (0,0), (0,2), (1,0), (1,1); the padded pixel gets 0
    assert weight.tolist() == [[[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]]
    assert share == pytest.approx(4 / 5)
    _, batch_weight, batch_share = pseudo_labels_from_logits(logits, 0.968, valid=valid)
    assert batch_share == share
    assert torch.allclose(batch_weight, torch.tensor([[[0.8, 0.8, 0.8], [0.8, 0.8, 0.0]]]))


def test_dacs_uses_per_pixel_weights_in_its_mixed_step_and_rejects_unknown_modes():
    torch.manual_seed(0)
    _, model, wrapper = build_dacs(pseudo_weight='pixel')
    model.train_step(make_batch(), wrapper)
    weight = model.debug_output['pseudo_weight']
    assert set(weight.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="pseudo_weight must be 'share' or 'pixel'"):
        build_dacs(pseudo_weight='soft')


# ------------------------------------------------------------------ warm start
def test_warm_start_loads_the_source_only_checkpoint_into_student_teacher_and_imagenet_model(tmp_path):
    cfg = load_config(REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py')
    torch.manual_seed(1)
    source_only = MODELS.build(copy.deepcopy(cfg.model.model))
    source_only.init_weights()
    checkpoint = tmp_path / 'source_only.pth'
    torch.save(dict(state_dict=source_only.state_dict(), meta={}), checkpoint)
    # the option a user sets: model.model.init_cfg (mmengine's Pretrained initialiser)
    _, model, wrapper = build_dacs(model=dict(cfg.model.model, init_cfg=dict(type='Pretrained',
                                                                          checkpoint=str(checkpoint))))
    expected = source_only.state_dict()
    for name, value in model.model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    model.train_step(make_batch(), wrapper)  # iteration 0: the teacher and the FD model copy the start
    for module in (model.ema_model, model.imnet_model):
        for name, value in module.state_dict().items():
            if value.is_floating_point() and 'running' not in name:
                assert torch.equal(value, expected[name]), name


@pytest.mark.parametrize('name, pseudo_weight', [('synthetic_uda_warm_s2sim_pixel_daformer_mitb0', 'pixel'),
                                                  ('synthetic_uda_warm_rcs_fd_daformer_mitb0', 'share')])
def test_a_warm_start_without_a_checkpoint_file_names_the_option_to_set(tmp_path, name, pseudo_weight):
    cfg = load_config(REPO / f'configs/daspm/{name}.py')
    assert cfg.model.pseudo_weight == pseudo_weight and cfg.model.model.init_cfg.type == 'Pretrained'
    model = MODELS.build(copy.deepcopy(cfg.model))  # building (e.g. to test a run) needs no file
    with pytest.raises(DaspmInputError, match=r"checkpoint None is not a file; set model\.model\.init_cfg\.checkpoint"):
        model.init_weights()
    cfg.model.model.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(DaspmInputError, match='missing.pth'):
        MODELS.build(copy.deepcopy(cfg.model)).init_weights()
