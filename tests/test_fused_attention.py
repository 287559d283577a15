"""FusedMixVisionTransformer: mmseg's MiT with its attention in PyTorch's fused kernel.

The block-level formula (SegFormer's attention written out by hand) is checked for both encoders in
tests/test_weight_conversion.py; here: the whole encoder against mmseg's, gradients, parameters,
copies, and the switch.
"""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.models.backbones.mit import EfficientMultiheadAttention
from mmseg.registry import MODELS
from torch.utils._python_dispatch import TorchDispatchMode

from daspm.models.backbones.fused_mit import FusedEfficientMultiheadAttention

B0 = dict(embed_dims=16, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 4, 8], sr_ratios=[8, 4, 2, 1], qkv_bias=True,
          drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0)


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def _pair():
    """mmseg's encoder and the fused one with the same weights."""
    torch.manual_seed(0)
    theirs = MODELS.build(dict(type='MixVisionTransformer', **B0))
    ours = MODELS.build(dict(type='FusedMixVisionTransformer', **B0))
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def test_same_parameters_outputs_and_gradients_as_mmseg_s_encoder():
    theirs, ours = _pair()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    attentions = [m for m in ours.modules() if isinstance(m, EfficientMultiheadAttention)]
    assert len(attentions) == 5 and all(type(m) is FusedEfficientMultiheadAttention for m in attentions)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outs_theirs, outs_ours = theirs(x), ours(x)
    assert len(outs_ours) == 4
    for a, b in zip(outs_theirs, outs_ours):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    sum((o * o).mean() for o in outs_theirs).backward()
    sum((o * o).mean() for o in outs_ours).backward()
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_attention_weights_are_never_materialised():
    """mmseg's path multiplies Q and K^T explicitly and averages the weights over the heads; ours calls the
    fused scaled-dot-product kernel once per attention."""
    theirs, ours = _pair()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        with _Ops() as mmseg_ops:
            theirs(x)
        with _Ops() as fused_ops:
            ours(x)
    fused_calls = [n for n in fused_ops.names if 'scaled_dot_product' in n]
    assert len(fused_calls) == 5, fused_ops.names
    assert not any('scaled_dot_product' in n for n in mmseg_ops.names)
    assert 'aten.softmax' not in fused_ops.names and 'aten.baddbmm' not in fused_ops.names
    assert len(fused_ops.names) < len(mmseg_ops.names)


def test_copies_keep_the_fused_attention_and_the_switch_turns_it_off():
    _, ours = _pair()
    copied = copy.deepcopy(ours)
    assert all(type(m) is FusedEfficientMultiheadAttention
               for m in copied.modules() if isinstance(m, EfficientMultiheadAttention))
    off = MODELS.build(dict(type='FusedMixVisionTransformer', fused_attention=False, **B0))
    assert not off.fused_attention
    assert all(type(m) is EfficientMultiheadAttention
               for m in off.modules() if isinstance(m, EfficientMultiheadAttention))


def test_training_mode_with_drop_path_runs_and_backpropagates():
    torch.manual_seed(0)
    net = MODELS.build(dict(type='FusedMixVisionTransformer', **{**B0, 'drop_path_rate': 0.1})).train()
    outs = net(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


def test_the_benchmark_compares_both_encoders_side_by_side(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import REPO

    out = tmp_path / 'attention.json'
    proc = subprocess.run([sys.executable, str(REPO / 'benchmarks/attention_cost.py'), '--variant', 'b0', '--crop', '32',
                           '--batch', '1', '--iters', '1', '--rounds', '2', '--device', 'cpu', '--json', str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result['median_s']) == {'training', 'inference'}
    for mode in ('training', 'inference'):
        assert len(result['rounds_s'][mode]['mmseg']) == len(result['rounds_s'][mode]['fused']) == 2
        assert result['fused_over_mmseg'][mode] == pytest.approx(
            result['median_s'][mode]['fused'] / result['median_s'][mode]['mmseg'])
    assert result['operators_per_training_pass']['fused'] < result['operators_per_training_pass']['mmseg']
    assert result['max_abs_difference'] < 1e-4
    assert 'fused/mmseg' in proc.stdout
