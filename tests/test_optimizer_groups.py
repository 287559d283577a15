"""MergedParamGroupsConstructor: the recipe's per-parameter lr/decay in one group per setting."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from conftest import REPO
from daspm.apis.config_loading import load_config
from dacs_helpers import build_dacs
from daspm.engine.optimizers import merge_param_groups

CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'


def _model_and_configs():
    torch.manual_seed(0)
    cfg = load_config(CONFIG)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    merged_cfg = copy.deepcopy(cfg.optim_wrapper)
    default_cfg = copy.deepcopy(cfg.optim_wrapper)
    default_cfg.pop('constructor')
    return model, merged_cfg, default_cfg


def _settings(optimizer) -> dict[int, tuple]:
    """Effective (lr, weight_decay, betas) of every parameter, by identity."""
    out = {}
    for group in optimizer.param_groups:
        for param in group['params']:
            assert id(param) not in out, 'a parameter is in two groups'
            out[id(param)] = (group['lr'], group['weight_decay'], group['betas'])
    return out


def test_merge_keeps_options_and_order_and_every_parameter_once():
    a, b, c, d = (torch.nn.Parameter(torch.zeros(1)) for _ in range(4))
    groups = [dict(params=[a], lr=1.0), dict(params=[b], lr=2.0, weight_decay=0.0), dict(params=[c], lr=1.0),
              dict(params=[d])]
    merged = merge_param_groups(groups)
    assert merged == [dict(lr=1.0, params=[a, c]), dict(lr=2.0, weight_decay=0.0, params=[b]), dict(params=[d])]


def test_recipe_settings_are_those_of_mmengines_default_constructor_in_few_groups():
    model, merged_cfg, default_cfg = _model_and_configs()
    merged = build_optim_wrapper(model, merged_cfg).optimizer
    default = build_optim_wrapper(model, default_cfg).optimizer
    assert len(default.param_groups) > 100  # one per parameter
    # trainable: (head, backbone) x (decay, no decay); frozen teacher/ImageNet model: one more
    assert len(merged.param_groups) <= 5
    assert _settings(merged) == _settings(default)
    lrs = {s[0] for s in _settings(merged).values()}
    assert sorted(lrs) == pytest.approx([6e-4, 6e-3])  # the synthetic schedule's lr and the head's x10
    head_conv = model.model.decode_head.conv_seg.weight
    assert _settings(merged)[id(head_conv)][:2] == pytest.approx((6e-3, 0.01))
    norm = model.model.backbone.layers[0][2].weight  # a MiT stage norm: no weight decay
    assert _settings(merged)[id(norm)][:2] == pytest.approx((6e-4, 0.0))


def test_an_optimizer_step_equals_the_default_constructors_step():
    model, merged_cfg, default_cfg = _model_and_configs()
    twin = copy.deepcopy(model)
    wrappers = [build_optim_wrapper(model, merged_cfg), build_optim_wrapper(twin, default_cfg)]
    start = [p.detach().clone() for p in model.model.parameters()]
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for net, wrapper in zip((model, twin), wrappers):
        net.eval()  # no drop path: both see the same forward pass
        for _ in range(2):
            loss = net.model.extract_feat(x)[-1].square().mean() + net.model.decode_head.conv_seg.weight.sum()
            wrapper.update_params(loss)
    assert any(not torch.equal(p, p0) for p, p0 in zip(model.model.parameters(), start)), 'no step was made'
    for (name, p), q in zip(model.model.named_parameters(), twin.model.parameters()):
        torch.testing.assert_close(p, q, msg=name)


def test_no_per_parameter_log_flood_but_one_summary_line():
    import logging

    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Capture()
    logger.addHandler(handler)
    try:
        _, model, _ = build_dacs()  # student + frozen teacher and ImageNet model, paramwise_cfg
    finally:
        logger.removeHandler(handler)
    assert not [m for m in seen if 'is skipped since its requires_grad=False' in m]
    assert not [m for m in seen if m.startswith('paramwise_options -- ')]
    (summary,) = [m for m in seen if m.startswith('optimizer: ')]
    frozen = sum(p.numel() > 0 for p in model.parameters() if not p.requires_grad)
    assert f'{frozen} frozen parameters' in summary
    assert summary.startswith('optimizer: 4 parameter groups')  # (head, backbone) x (decay, no decay)
