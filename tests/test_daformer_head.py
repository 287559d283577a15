"""DAFormer head: output shapes, fusion structure, and training through an EncoderDecoder."""
from __future__ import annotations

import pytest
import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import daspm.models.decode_heads  # noqa: F401  (registers DAFormerHead)
from conftest import REPO
from daspm.utils.errors import DaspmInputError

B0_CHANNELS = [32, 64, 160, 256]
B0_STRIDES = [4, 8, 16, 32]


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def _head(fusion: str = 'aspp', embed_dims: int = 32, channels: int = 24, num_classes: int = 5):
    return MODELS.build(dict(
        type='DAFormerHead', in_channels=B0_CHANNELS, in_index=[0, 1, 2, 3], channels=channels,
        embed_dims=embed_dims, fusion=fusion, num_classes=num_classes, norm_cfg=dict(type='BN')))


def _features(size: int = 64, batch: int = 2):
    return [torch.randn(batch, c, size // s, size // s) for c, s in zip(B0_CHANNELS, B0_STRIDES)]


@pytest.mark.parametrize('fusion', ['aspp', 'conv1'])
def test_logits_at_stride_4(fusion):
    head = _head(fusion, num_classes=5)
    out = head(_features(64))
    assert out.shape == (2, 5, 16, 16)


def test_aspp_structure():
    head = _head('aspp', embed_dims=32, channels=24)
    # Per-level linear embeddings, no norm or activation.
    assert [tuple(e.proj.weight.shape) for e in head.embed_layers] == [(32, c) for c in B0_CHANNELS]
    assert all(list(e.children()) == [e.proj] for e in head.embed_layers)
    branches = head.fuse_layer.aspp_modules
    assert len(branches) == 4
    first = branches[0]
    assert isinstance(first, ConvModule) and first.conv.kernel_size == (1, 1)
    assert first.conv.in_channels == 4 * 32 and first.conv.out_channels == 24
    assert first.with_norm and first.with_activation
    for branch, dilation in zip(branches[1:], (6, 12, 18)):
        assert isinstance(branch, DepthwiseSeparableConvModule)
        dw, pw = branch.depthwise_conv, branch.pointwise_conv
        assert dw.conv.kernel_size == (3, 3) and dw.conv.dilation == (dilation, dilation)
        assert dw.conv.padding == (dilation, dilation)
        assert dw.conv.groups == 4 * 32 == dw.conv.in_channels == dw.conv.out_channels
        assert pw.conv.kernel_size == (1, 1) and pw.conv.groups == 1 and pw.conv.out_channels == 24
        assert dw.with_norm and dw.with_activation and pw.with_norm and pw.with_activation
    bottleneck = head.fuse_layer.bottleneck
    assert bottleneck.conv.kernel_size == (3, 3) and bottleneck.conv.in_channels == 4 * 24
    assert bottleneck.conv.out_channels == 24 and bottleneck.with_norm
    assert head.conv_seg.in_channels == 24 and head.dropout.p == 0.1


def test_conv1_structure_and_names():
    head = _head('conv1', embed_dims=32, channels=24)
    assert isinstance(head.fuse_layer, ConvModule)
    assert head.fuse_layer.conv.kernel_size == (1, 1) and head.fuse_layer.conv.in_channels == 4 * 32
    assert {k for k in head.state_dict() if k.startswith('fuse_layer.')} == {
        'fuse_layer.conv.weight', 'fuse_layer.bn.weight', 'fuse_layer.bn.bias', 'fuse_layer.bn.running_mean',
        'fuse_layer.bn.running_var', 'fuse_layer.bn.num_batches_tracked'}


def test_reference_parameter_names():
    keys = set(_head('aspp').state_dict())
    for name in ('embed_layers.3.proj.weight', 'fuse_layer.aspp_modules.0.conv.weight',
                 'fuse_layer.aspp_modules.0.bn.running_var',
                 'fuse_layer.aspp_modules.2.depthwise_conv.conv.weight',
                 'fuse_layer.aspp_modules.2.pointwise_conv.bn.weight',
                 'fuse_layer.bottleneck.conv.weight', 'fuse_layer.bottleneck.bn.bias',
                 'conv_seg.weight', 'conv_seg.bias'):
        assert name in keys


def test_bad_fusion_is_a_clear_error():
    with pytest.raises(DaspmInputError, match='fusion'):
        _head('sum')


def test_encoder_decoder_forward_backward():
    cfg = Config.fromfile(str(REPO / 'configs/_base_/models/daformer_sepaspp_mitb0.py'))
    cfg.model.decode_head.update(channels=32, embed_dims=32)  # tiny: the test is about wiring
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 64, 64)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64)))
        sample.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(sample)
    losses = model.loss(inputs, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)  # keys like 'decode.loss_ce'
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.layers[0][0].projection.weight.grad is not None
    assert model.decode_head.embed_layers[0].proj.weight.grad is not None
    assert model.decode_head.fuse_layer.aspp_modules[3].depthwise_conv.conv.weight.grad is not None
    model.eval()
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
    assert logits.shape == (2, 5, 16, 16)


@pytest.mark.parametrize('name', ['daformer_sepaspp_mitb5.py', 'daformer_conv1_mitb5.py'])
def test_b5_configs_describe_the_paper_network(name):
    cfg = Config.fromfile(str(REPO / 'configs/_base_/models' / name))
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert backbone.num_layers == [3, 6, 40, 3] and backbone.embed_dims == 64
    assert backbone.init_cfg == dict(type='MiTPretrained', checkpoint='pretrained/mit_b5.pth')
    assert head.type == 'DAFormerHead' and head.in_channels == [64, 128, 320, 512]
    assert head.fusion == ('conv1' if 'conv1' in name else 'aspp') and head.num_classes == 5


def test_fusion_input_is_the_linear_embeddings_upsampled_bilinearly_to_stride_4():
    # METHOD.md: a linear embedding per level, all upsampled to stride 4 (bilinear, align_corners
    # False), concatenated in level order.
    import torch.nn.functional as F
    torch.manual_seed(0)
    head = _head('aspp', embed_dims=8, channels=8).eval()
    feats = _features(64, batch=1)
    captured = []
    head.fuse_layer.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    with torch.no_grad():
        head(feats)
        expected = []
        for feat, embed in zip(feats, head.embed_layers):
            w, b = embed.proj.weight, embed.proj.bias          # (8, C), (8,)
            out = torch.einsum('oc,nchw->nohw', w, feat) + b[None, :, None, None]
            if out.shape[2:] != (16, 16):
                out = F.interpolate(out, size=(16, 16), mode='bilinear', align_corners=False)
            expected.append(out)
    torch.testing.assert_close(captured[0], torch.cat(expected, dim=1), rtol=1e-5, atol=1e-5)
