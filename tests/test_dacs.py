"""DACS train_step semantics: teacher EMA over real steps, losses, evaluation model, checkpoint round trip."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from conftest import REPO
from daspm.apis.checkpoint import load_checkpoint_checked
from daspm.apis.config_loading import load_config

CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
CROP = 64


def _load_benchmark_helpers():
    import importlib.util
    spec = importlib.util.spec_from_file_location('uda_step_cost', REPO / 'benchmarks/uda_step_cost.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_dacs(device: str = 'cpu', amp: bool = False):
    """The synthetic DACS model in training mode on ``device`` and its optimizer wrapper (bf16 AMP if ``amp``)."""
    torch.manual_seed(0)
    cfg = load_config(CONFIG)
    cfg.model.data_preprocessor.size = (CROP, CROP)
    cfg.model.alpha = 0.99
    model = MODELS.build(copy.deepcopy(cfg.model)).to(device)
    model.init_weights()
    model.train()
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.update(type='AmpOptimWrapper', dtype='bfloat16')
    return cfg, model, build_optim_wrapper(model, optim_cfg)


@pytest.fixture()
def dacs_setup():
    cfg, model, wrapper = build_dacs()
    batch = _load_benchmark_helpers().make_batch(2, CROP, 3, 5, seed=0)
    return cfg, model, wrapper, batch


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _step(model, wrapper, batch, iteration):
    MessageHub.get_current_instance().update_info('iter', iteration)
    return model.train_step(copy.copy(batch), wrapper)


def test_teacher_is_copied_then_averaged_with_the_ema_formula(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    student_0 = _params(model.model)
    _step(model, wrapper, batch, 0)
    for teacher, start in zip(model.ema_model.parameters(), student_0):
        torch.testing.assert_close(teacher, start)  # iteration 0: teacher = student before the step
    assert not any(p.requires_grad for p in model.ema_model.parameters())
    student_1 = _params(model.model)
    assert any(not torch.equal(a, b) for a, b in zip(student_0, student_1)), 'the optimizer step did nothing'
    _step(model, wrapper, batch, 1)
    alpha = min(1 - 1 / 2, 0.99)  # a = min(1 - 1/(iter+1), alpha) at iteration 1
    for teacher, s0, s1 in zip(model.ema_model.parameters(), student_0, student_1):
        torch.testing.assert_close(teacher, alpha * s0 + (1 - alpha) * s1)


def test_losses_and_pseudo_weight_are_logged(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    log = _step(model, wrapper, batch, 0)
    for key in ('src.decode.loss_ce', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce', 'pseudo_weight', 'loss'):
        assert key in log and torch.isfinite(torch.as_tensor(log[key]))
    total = log['src.decode.loss_ce'] + log['src.loss_imnet_feat_dist'] + log['mix.decode.loss_ce']
    torch.testing.assert_close(torch.as_tensor(log['loss']), torch.as_tensor(total))
    assert 0.0 <= float(log['pseudo_weight']) <= 1.0
    debug = model.debug_output
    assert debug['mixed_image'].shape == (2, 3, CROP, CROP) and debug['fd_mask'].dtype == torch.bool
    # mixed labels come from the source where the mask is set, from the pseudo-labels elsewhere
    mask = debug['mix_mask'].bool()
    assert torch.equal(debug['mixed_label'][mask], debug['source_label'][mask])
    assert torch.equal(debug['mixed_label'][~mask], debug['pseudo_label'].unsqueeze(1)[~mask])


def test_evaluation_uses_student_or_teacher(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    _step(model, wrapper, batch, 0)
    _step(model, wrapper, batch, 1)
    model.eval()
    data = model.data_preprocessor(dict(inputs=batch['target_inputs'], data_samples=batch['target_data_samples']))
    with torch.no_grad():
        student = model(data['inputs'], data['data_samples'], mode='tensor')
        model.eval_with = 'teacher'
        teacher = model(data['inputs'], data['data_samples'], mode='tensor')
        torch.testing.assert_close(teacher, model.ema_model._forward(data['inputs'], data['data_samples']))
    assert not torch.allclose(student, teacher)


def test_checkpoint_round_trip_restores_teacher_and_imagenet_model(dacs_setup, tmp_path):
    cfg, model, wrapper, batch = dacs_setup
    _step(model, wrapper, batch, 0)
    _step(model, wrapper, batch, 1)
    path = tmp_path / 'iter_2.pth'
    torch.save(dict(meta=dict(iter=2), state_dict=model.state_dict()), path)
    restored = MODELS.build(copy.deepcopy(cfg.model))
    ckpt = load_checkpoint_checked(restored, path)
    assert ckpt['meta']['iter'] == 2
    for part in ('model', 'ema_model', 'imnet_model'):
        for (name, a), b in zip(getattr(model, part).state_dict().items(), getattr(restored, part).state_dict().values()):
            torch.testing.assert_close(a, b, msg=f'{part}.{name}')


def test_gradient_accumulation_steps_once_per_accumulated_iterations(dacs_setup):
    cfg, model, _, batch = dacs_setup
    wrapper = build_optim_wrapper(model, dict(copy.deepcopy(cfg.optim_wrapper), accumulative_counts=2))
    wrapper.initialize_count_status(model, 0, 4)
    start = _params(model.model)
    _step(model, wrapper, batch, 0)  # three backward passes, no optimizer step yet
    assert all(torch.equal(a, b) for a, b in zip(start, _params(model.model)))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.model.parameters())
    _step(model, wrapper, batch, 1)  # second iteration: one step for the accumulated gradients
    assert any(not torch.equal(a, b) for a, b in zip(start, _params(model.model)))
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.model.parameters())
