"""DACS's ``compile`` switch: options, what is compiled, and the same training step with it on and off.

The step is compared with torch.compile's ``eager`` backend (TorchDynamo traces the forward passes
and runs the captured graphs with the same operators), so the test needs no C++ compiler and the
numbers must agree; the inductor backend's speed is measured by ``benchmarks/gpu_check.sh``.
"""
from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from mmseg.models.backbones.mit import TransformerEncoderLayer
from mmseg.models.utils import PatchEmbed

from daspm.models.uda.compile import (DEFAULT_OPTIONS, compile_options, compile_segmentor, is_compiled,
                                      repeated_blocks)
from dacs_helpers import build_dacs, make_batch


def test_options_default_merge_and_errors():
    assert compile_options(None) is None and compile_options(False) is None
    assert compile_options(True) == {**DEFAULT_OPTIONS, 'scope': 'blocks'}
    assert compile_options(dict(mode='max-autotune-no-cudagraphs')) == {
        **DEFAULT_OPTIONS, 'mode': 'max-autotune-no-cudagraphs', 'scope': 'blocks'}
    assert compile_options(dict(scope='whole'))['scope'] == 'whole'
    with pytest.raises(ValueError, match=r"unknown torch.compile option\(s\) \['fast'\]"):
        compile_options(dict(fast=True))
    with pytest.raises(ValueError, match=r"model.compile.scope must be one of \['blocks', 'whole'\], got 'layer'"):
        compile_options(dict(scope='layer'))
    with pytest.raises(TypeError, match='model.compile must be'):
        compile_options('inductor')


def test_compiling_allows_the_source_backward_that_keeps_its_graph(monkeypatch):
    """DACS's source loss is backpropagated with retain_graph=True for the feature distance, which
    AOTAutograd's donated buffers refuse (inductor on the CPU failed the first step with it on)."""
    import torch._functorch.config as functorch_config
    monkeypatch.setattr(functorch_config, 'donated_buffer', True)
    _, model, _ = build_dacs()
    compile_segmentor(model.model, compile_options(dict(backend='eager')))
    assert functorch_config.donated_buffer is True, 'the eager backend does not go through AOTAutograd'
    compile_segmentor(model.ema_model, compile_options(True))
    assert functorch_config.donated_buffer is False


def test_repeated_blocks_of_mit_are_its_transformer_layers_and_patch_embeddings():
    _, model, _ = build_dacs()
    backbone = model.model.backbone
    blocks = repeated_blocks(backbone)
    layers = [m for m in backbone.modules() if isinstance(m, TransformerEncoderLayer)]
    embeds = [m for m in backbone.modules() if isinstance(m, PatchEmbed)]
    # every transformer layer and patch embedding, each once, and nothing inside them
    assert len(layers) == sum(model.model.backbone.num_layers) and len(embeds) == 4
    assert sorted(map(id, blocks)) == sorted(map(id, layers + embeds))


def test_scope_whole_compiles_the_backbone_forward_and_blocks_its_blocks():
    for scope, backbone_compiled in (('whole', True), ('blocks', False)):
        _, model, _ = build_dacs()
        compile_segmentor(model.model, compile_options(dict(backend='eager', scope=scope)))
        backbone = model.model.backbone
        assert is_compiled(backbone) == backbone_compiled, scope
        assert all(is_compiled(block) for block in repeated_blocks(backbone)) != backbone_compiled, scope
        assert is_compiled(model.model.decode_head), scope


def _step(model, wrapper) -> tuple[dict, dict]:
    log = model.train_step(make_batch(seed=3), wrapper)
    return ({k: float(v.detach()) for k, v in log.items()},
            {k: v.detach().clone() for k, v in model.model.state_dict().items()})


@pytest.fixture(scope='module')
def runs():
    torch._dynamo.reset()
    plain = build_dacs(deterministic=True, imnet_feature_dist_lambda=0.005)
    compiled = build_dacs(deterministic=True, imnet_feature_dist_lambda=0.005, compile=dict(backend='eager'))
    out = {}
    for name, (_, model, wrapper) in (('plain', plain), ('compiled', compiled)):
        counters.clear()
        first = _step(model, wrapper)
        second = _step(model, wrapper)
        out[name] = (model, first, second)
        out[f'{name}_graphs'] = counters['stats']['unique_graphs']
    yield out
    torch._dynamo.reset()


def test_student_teacher_and_imagenet_model_forward_passes_are_compiled(runs):
    model = runs['compiled'][0]
    for segmentor in (model.model, model.ema_model, model.imnet_model):
        blocks = repeated_blocks(segmentor.backbone)
        assert blocks and all(is_compiled(block) for block in blocks) and is_compiled(segmentor.decode_head)
    plain = runs['plain'][0]
    assert not is_compiled(plain.model.backbone) and plain.compile_options is None
    # TorchDynamo captured graphs for the compiled model's steps, none for the plain one's
    assert runs['compiled_graphs'] >= 2 and runs['plain_graphs'] == 0


def test_parameter_names_are_unchanged(runs):
    compiled, plain = runs['compiled'][0], runs['plain'][0]
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert not any('_orig_mod' in k for k in compiled.state_dict())


def test_two_training_steps_give_the_same_losses_and_weights(runs):
    _, plain_first, plain_second = runs['plain']
    _, compiled_first, compiled_second = runs['compiled']
    for plain, compiled in ((plain_first, compiled_first), (plain_second, compiled_second)):
        plain_log, plain_weights = plain
        compiled_log, compiled_weights = compiled
        assert plain_log.keys() == compiled_log.keys()
        for key in plain_log:
            assert compiled_log[key] == pytest.approx(plain_log[key], rel=1e-5, abs=1e-6), key
        for key, value in plain_weights.items():
            torch.testing.assert_close(compiled_weights[key], value, rtol=1e-5, atol=1e-6, msg=key)
    # the losses moved between the steps: the comparison covers an optimizer step and an EMA update
    assert plain_second[0]['loss'] != plain_first[0]['loss']
