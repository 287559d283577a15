"""MiT weight conversion (official SegFormer layout -> mmseg), MiTPretrained, reference checkpoints."""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import daspm.models.backbones  # noqa: F401  (registers MiTPretrained)
import daspm.models.decode_heads  # noqa: F401  (registers DAFormerHead)
from conftest import REPO
from daspm.utils.checkpoint import read_checkpoint
from daspm.models.backbones import mit_weights
from daspm.models.backbones.mit_weights import MiTPretrained, convert_mit_official
from daspm.utils.errors import DaspmInputError

B0 = dict(type='MixVisionTransformer', embed_dims=32, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8],
          sr_ratios=[8, 4, 2, 1], qkv_bias=True)
MODEL_CFG = REPO / 'configs/_base_/models/daformer_sepaspp_mitb0.py'


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def _mit(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    model = MODELS.build({**B0, **overrides})
    model.init_weights()
    # Random values everywhere (also biases and norms) so that any misplaced tensor is caught.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model.eval()


def official_from_mmseg(state: dict) -> dict:
    """The inverse mapping, written independently of the converter: mmseg keys -> official keys."""
    out = {}
    for key, value in state.items():
        stage, kind, rest = re.match(r'layers\.(\d)\.(\d)\.?(.*)', key).groups()
        s = int(stage) + 1
        if kind == '0':
            out[f'patch_embed{s}.' + rest.replace('projection.', 'proj.')] = value
        elif kind == '2':
            out[f'norm{s}.{rest}'] = value
        else:
            j, sub = rest.split('.', 1)
            prefix = f'block{s}.{j}.'
            if sub.startswith('attn.attn.in_proj_'):
                param = sub.rsplit('_', 1)[1]
                dim = value.shape[0] // 3
                out[prefix + f'attn.q.{param}'] = value[:dim]
                out[prefix + f'attn.kv.{param}'] = value[dim:]
            elif sub.startswith('attn.attn.out_proj.'):
                out[prefix + 'attn.proj.' + sub.rsplit('.', 1)[1]] = value
            elif sub.startswith('ffn.layers.'):
                idx, param = sub[len('ffn.layers.'):].split('.')
                name = {'0': 'mlp.fc1', '1': 'mlp.dwconv.dwconv', '4': 'mlp.fc2'}[idx]
                out[prefix + f'{name}.{param}'] = value.flatten(1) if idx != '1' and param == 'weight' else value
            else:
                out[prefix + sub] = value
    out['head.weight'] = torch.randn(1000, 256)
    out['head.bias'] = torch.randn(1000)
    return out


def test_fake_official_state_has_the_official_names_and_shapes():
    official = official_from_mmseg(_mit().state_dict())
    expected = {  # from the SegFormer MiT-B0 definition
        'patch_embed1.proj.weight': (32, 3, 7, 7), 'patch_embed2.proj.weight': (64, 32, 3, 3),
        'patch_embed4.norm.bias': (256,), 'block1.0.attn.q.weight': (32, 32), 'block1.0.attn.kv.weight': (64, 32),
        'block1.1.attn.sr.weight': (32, 32, 8, 8), 'block1.0.attn.norm.weight': (32,),
        'block2.0.mlp.fc1.weight': (256, 64), 'block2.0.mlp.dwconv.dwconv.weight': (256, 1, 3, 3),
        'block3.1.mlp.fc2.weight': (160, 640), 'block4.1.attn.q.bias': (256,), 'block4.1.attn.proj.weight': (256, 256),
        'norm3.weight': (160,), 'head.weight': (1000, 256)}
    for key, shape in expected.items():
        assert tuple(official[key].shape) == shape, key
    assert not any(k.startswith('block4.') and '.attn.sr.' in k for k in official)  # sr ratio 1
    assert len(official) == 178  # 176 encoder tensors of MiT-B0 + the ImageNet head


def test_convert_official_loads_strictly_with_identical_tensors():
    source = _mit()
    reference = source.state_dict()
    official = official_from_mmseg(reference)
    converted = convert_mit_official(official)
    assert set(converted) == set(reference)
    for key, value in reference.items():
        assert torch.equal(converted[key], value), key
    # Explicit placement: [query; key; value] in-projection, linear -> 1x1 conv.
    q, kv = official['block2.1.attn.q.weight'], official['block2.1.attn.kv.weight']
    in_proj = converted['layers.1.1.1.attn.attn.in_proj_weight']
    assert torch.equal(in_proj[:64], q)
    assert torch.equal(in_proj[64:128], kv[:64]) and torch.equal(in_proj[128:], kv[64:])
    assert torch.equal(converted['layers.2.1.0.ffn.layers.0.weight'][:, :, 0, 0], official['block3.0.mlp.fc1.weight'])
    assert not any(k.startswith('head') for k in converted)
    target = MODELS.build(B0)
    result = target.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_conversion_is_idempotent():
    converted = convert_mit_official(official_from_mmseg(_mit().state_dict()))
    again = convert_mit_official(converted)
    assert list(again) == list(converted) and all(again[k] is converted[k] for k in converted)


def _official_attention(x, hw, w, heads, sr_ratio):
    """SegFormer's efficient self-attention computed from the official tensors."""
    b, n, c = x.shape
    q = F.linear(x, w['q.weight'], w['q.bias']).reshape(b, n, heads, c // heads).transpose(1, 2)
    reduced = x
    if sr_ratio > 1:
        grid = x.transpose(1, 2).reshape(b, c, *hw)
        reduced = F.conv2d(grid, w['sr.weight'], w['sr.bias'], stride=sr_ratio).flatten(2).transpose(1, 2)
        reduced = F.layer_norm(reduced, (c,), w['norm.weight'], w['norm.bias'], eps=1e-6)
    kv = F.linear(reduced, w['kv.weight'], w['kv.bias']).reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ kv[0].transpose(-2, -1) / math.sqrt(c // heads)).softmax(-1)
    out = (attn @ kv[1]).transpose(1, 2).reshape(b, n, c)
    return F.linear(out, w['proj.weight'], w['proj.bias'])


def _official_mix_ffn(x, hw, w):
    """SegFormer's Mix-FFN (linear, 3x3 depthwise conv, GELU, linear) from the official tensors."""
    b, n, c = x.shape
    hidden = F.linear(x, w['fc1.weight'], w['fc1.bias'])
    grid = hidden.transpose(1, 2).reshape(b, -1, *hw)
    grid = F.conv2d(grid, w['dwconv.dwconv.weight'], w['dwconv.dwconv.bias'], padding=1, groups=grid.shape[1])
    return F.linear(F.gelu(grid.flatten(2).transpose(1, 2)), w['fc2.weight'], w['fc2.bias'])


@pytest.mark.parametrize('backbone', ['MixVisionTransformer', 'FusedMixVisionTransformer'])
@pytest.mark.parametrize('stage,heads,sr', [(0, 1, 8), (2, 5, 2), (3, 8, 1)])
def test_converted_block_computes_what_the_official_block_computes(stage, heads, sr, backbone):
    # float64: with random full-scale weights the softmax is sharp and float32 rounding would show.
    official = {k: v.double() for k, v in official_from_mmseg(_mit().state_dict()).items()}
    target = MODELS.build({**B0, 'type': backbone}).double().eval()
    target.load_state_dict(convert_mit_official(official))
    block = target.layers[stage][1][1]
    c, hw = 32 * heads, (8, 8)
    x = torch.randn(2, hw[0] * hw[1], c, dtype=torch.float64)
    zero = torch.zeros_like(x)
    prefix = f'block{stage + 1}.1.'
    attn_w = {k[len(prefix + 'attn.'):]: v for k, v in official.items() if k.startswith(prefix + 'attn.')}
    mlp_w = {k[len(prefix + 'mlp.'):]: v for k, v in official.items() if k.startswith(prefix + 'mlp.')}
    with torch.no_grad():
        torch.testing.assert_close(block.attn(x, hw, identity=zero), _official_attention(x, hw, attn_w, heads, sr),
                                   rtol=1e-7, atol=1e-7)
        torch.testing.assert_close(block.ffn(x, hw, identity=zero), _official_mix_ffn(x, hw, mlp_w),
                                   rtol=1e-7, atol=1e-7)


def _segmentor_cfg(init_cfg=None):
    cfg = Config.fromfile(str(MODEL_CFG))
    cfg.model.decode_head.update(channels=32, embed_dims=32)
    if init_cfg is not None:
        cfg.model.backbone.init_cfg = init_cfg
    return cfg


@pytest.mark.parametrize('layout', ['official', 'state_dict', 'model', 'mmseg'])
def test_mit_pretrained_init_through_config(tmp_path, layout):
    source = _mit(seed=1).state_dict()
    official = official_from_mmseg(source)
    content = {'official': official, 'state_dict': {'state_dict': official, 'meta': {}},
               'model': {'model': official}, 'mmseg': {'state_dict': source}}[layout]
    path = tmp_path / 'mit_b0.pth'
    torch.save(content, path)
    cfg = _segmentor_cfg(dict(type='MiTPretrained', checkpoint=str(path)))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.init_weights()
    after = model.backbone.state_dict()
    for key, value in source.items():
        assert torch.equal(after[key], value), key
    assert not torch.equal(before['layers.0.0.projection.weight'], after['layers.0.0.projection.weight'])


def test_mit_pretrained_reports_dropped_head_and_missing_keys(tmp_path):
    official = official_from_mmseg(_mit().state_dict())
    del official['norm4.weight']
    official['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'mit_b0.pth'
    torch.save(official, path)
    report = mit_weights.load_mit_weights(MODELS.build(B0), path)
    assert report['missing'] == ['layers.3.2.weight']
    assert report['unexpected'] == ['extra.weight']
    assert report['dropped'] == ['head.bias', 'head.weight']


def test_missing_pretrained_file_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mit_weights, 'REPO_ROOT', tmp_path)  # a real download in the repo must not count
    with pytest.raises(DaspmInputError) as err:
        MiTPretrained(checkpoint='pretrained/mit_b5.pth')(MODELS.build(B0))
    assert str(err.value) == (
        'pretrained/mit_b5.pth not found: run `sh tools/download_checkpoints.sh` (needs network) or download '
        'mit_b5.pth (SegFormer ImageNet-1k weights) and put it in pretrained/')


def test_wrong_variant_is_a_clear_error(tmp_path):
    path = tmp_path / 'mit_b0.pth'
    torch.save(official_from_mmseg(_mit().state_dict()), path)
    b1 = MODELS.build({**B0, 'embed_dims': 64})
    with pytest.raises(DaspmInputError, match='do not fit MixVisionTransformer.*mit_bX.pth'):
        mit_weights.load_mit_weights(b1, path)


# ---------------------------------------------------------------- reference (mmseg 0.x) checkpoints

def _load_tool():
    from daspm.cli import convert_checkpoint  # the code of tools/convert_reference_checkpoint.py
    return convert_checkpoint


def _reference_segmentor(seed: int) -> tuple[dict, dict]:
    """(our EncoderDecoder state, the same weights in the reference 0.x names)."""
    torch.manual_seed(seed)
    model = MODELS.build(_segmentor_cfg().model)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    ours = model.state_dict()
    backbone = {k[len('backbone.'):]: v for k, v in ours.items() if k.startswith('backbone.')}
    reference = {f'backbone.{k}': v for k, v in official_from_mmseg(backbone).items() if not k.startswith('head.')}
    reference.update({k: v for k, v in ours.items() if k.startswith('decode_head.')})  # same names by design
    return ours, reference


@pytest.fixture
def uda_checkpoint(tmp_path):
    parts = {name: _reference_segmentor(seed) for seed, name in enumerate(('model', 'ema_model', 'imnet_model'))}
    state = {f'{name}.{k}': v for name, (_, ref) in parts.items() for k, v in ref.items()}
    state['model.decode_head.fuse_layer.image_pool.1.conv.weight'] = torch.zeros(1)  # an unsupported variant
    meta = dict(CLASSES=('green area', 'urban area', 'roads', 'impervious surface', 'water'),
                PALETTE=[[0, 238, 0], [205, 20, 20], [255, 255, 0], [196, 196, 0], [2, 2, 141]], iter=40000)
    path = tmp_path / 'reference.pth'
    torch.save(dict(state_dict=state, meta=meta), path)
    return path, {name: ours for name, (ours, _) in parts.items()}


def _strict_load(state: dict) -> None:
    model = MODELS.build(_segmentor_cfg().model)
    model.load_state_dict(state, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize('part', ['model', 'ema_model'])
def test_reference_uda_checkpoint_converts_to_a_plain_segmentor(tmp_path, uda_checkpoint, capsys, part):
    src, expected = uda_checkpoint
    dst = tmp_path / 'out' / f'{part}.pth'
    _load_tool().main([str(src), str(dst), '--part', part])
    ckpt = read_checkpoint(dst)  # safe loading
    _strict_load(ckpt['state_dict'])
    for key, value in expected[part].items():
        assert torch.equal(ckpt['state_dict'][key], value), key
    assert ckpt['meta']['dataset_meta']['classes'][1] == 'urban area'
    assert ckpt['meta']['iter'] == 40000
    out = capsys.readouterr().out
    assert f'{part}: 160 backbone' in out
    if part == 'model':
        assert 'unmapped' in out and 'image_pool' in out


def test_reference_uda_checkpoint_all_parts_keep_prefixes(tmp_path, uda_checkpoint):
    src, expected = uda_checkpoint
    dst = tmp_path / 'all.pth'
    state = _load_tool().main([str(src), str(dst), '--part', 'all'])['state_dict']
    for name in ('model', 'ema_model', 'imnet_model'):
        sub = {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + '.')}
        _strict_load(sub)
        assert all(torch.equal(sub[k], v) for k, v in expected[name].items())
    assert len(state) == 3 * len(expected['model'])


def test_reference_plain_checkpoint_and_num_classes(tmp_path):
    ours, reference = _reference_segmentor(seed=5)
    src = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=reference, meta=dict(CLASSES=tuple('abcdefg'), PALETTE=[[i, i, i] for i in range(7)])),
               src)
    out = _load_tool().main([str(src), str(tmp_path / 'plain3.pth'), '--num-classes', '3'])
    assert out['state_dict']['decode_head.conv_seg.weight'].shape[0] == 3
    assert torch.equal(out['state_dict']['decode_head.conv_seg.bias'], ours['decode_head.conv_seg.bias'][:3])
    assert out['meta']['dataset_meta'] == dict(classes=('a', 'b', 'c'), palette=[[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    # 7 class names for 5 logits: the names would mislabel the metrics, so they are left out.
    out = _load_tool().main([str(src), str(tmp_path / 'plain5.pth')])
    assert 'dataset_meta' not in out['meta'] and out['state_dict']['decode_head.conv_seg.weight'].shape[0] == 5
    with pytest.raises(SystemExit):  # a plain checkpoint has no UDA parts
        _load_tool().main([str(src), str(tmp_path / 'x.pth'), '--part', 'all'])


def test_cli_never_overwrites_its_input(tmp_path, uda_checkpoint, capsys):
    src, _ = uda_checkpoint
    before = src.read_bytes()
    tool = _load_tool()
    with pytest.raises(SystemExit) as exc:
        tool.main([str(src), str(src), '--overwrite'])
    assert exc.value.code == 2
    assert 'never overwrite' in capsys.readouterr().err
    (tmp_path / 'link').mkdir()
    with pytest.raises(SystemExit):
        tool.main([str(src), str(tmp_path / 'link' / '..' / src.name)])
    assert src.read_bytes() == before
    existing = tmp_path / 'existing.pth'
    existing.write_bytes(b'keep')
    with pytest.raises(SystemExit):
        tool.main([str(src), str(existing)])
    assert existing.read_bytes() == b'keep'


def test_cli_needs_trust_pickle_for_pickled_objects(tmp_path, capsys):
    _, reference = _reference_segmentor(seed=2)
    src = tmp_path / 'old.pth'
    torch.save(dict(state_dict=reference, meta=dict(config=argparse.Namespace(lr=0.1))), src)
    tool = _load_tool()
    with pytest.raises(SystemExit):
        tool.main([str(src), str(tmp_path / 'new.pth')])
    assert '--trust-pickle' in capsys.readouterr().err
    assert not (tmp_path / 'new.pth').exists()
    tool.main([str(src), str(tmp_path / 'new.pth'), '--trust-pickle'])
    _strict_load(read_checkpoint(tmp_path / 'new.pth')['state_dict'])


# ---------------------------------------------------------------- download script (no network: file:// mirror)

@pytest.mark.skipif(shutil.which('sh') is None or shutil.which('curl') is None,
                    reason='needs a POSIX shell and curl (wget cannot read file:// URLs)')
def test_download_script_uses_mirror_and_keeps_existing_files(tmp_path):
    mirror = tmp_path / 'mirror'
    mirror.mkdir()
    (mirror / 'mit_b0.pth').write_bytes(b'weights-b0')
    dest = tmp_path / 'pretrained'
    env = {**os.environ, 'MIT_WEIGHTS_URL': mirror.as_uri(), 'PRETRAINED_DIR': str(dest)}
    script = str(REPO / 'tools/download_checkpoints.sh')
    run = subprocess.run(['sh', script, 'b0'], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert (dest / 'mit_b0.pth').read_bytes() == b'weights-b0'
    (mirror / 'mit_b0.pth').write_bytes(b'changed')
    run = subprocess.run(['sh', script, 'mit_b0'], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and 'kept' in run.stdout
    assert (dest / 'mit_b0.pth').read_bytes() == b'weights-b0'
    run = subprocess.run(['sh', script, 'b1'], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f'{dest}/mit_b1.pth' in run.stderr and not (dest / 'mit_b1.pth').exists()
    assert not list(dest.glob('.*.part'))


def test_mit_pretrained_reads_ddp_and_whole_segmentor_checkpoints(tmp_path):
    source = _mit(seed=3).state_dict()
    official = official_from_mmseg(source)
    segmentor = {f'backbone.{k}': v for k, v in source.items()}
    segmentor['decode_head.conv_seg.weight'] = torch.zeros(5, 32, 1, 1)
    contents = {'ddp': {'state_dict': {f'module.{k}': v for k, v in official.items()}},
                'segmentor': {'state_dict': segmentor, 'meta': {}}}
    for name, content in contents.items():
        path = tmp_path / f'{name}.pth'
        torch.save(content, path)
        target = MODELS.build(B0)
        report = mit_weights.load_mit_weights(target, path)
        assert report['missing'] == [] and report['unexpected'] == [], name
        for key, value in source.items():
            assert torch.equal(target.state_dict()[key], value), (name, key)
