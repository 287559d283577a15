# DAFormer network (METHOD.md "Network"): MiT-B5 encoder with SegFormer ImageNet-1k weights and the
# DAFormer head with separable-ASPP context fusion. Put mit_b5.pth in pretrained/
# (`sh tools/download_checkpoints.sh`); it is read when the model's weights are initialised.
_base_ = ['./encoder_decoder.py']
model = dict(
    backbone=dict(
        # mmseg's MixVisionTransformer with its attention in PyTorch's fused kernel (same function and
        # weights; fused_attention=False: mmseg's own, which stores every attention weight)
        type='FusedMixVisionTransformer', in_channels=3, embed_dims=64, num_stages=4,
        num_layers=[3, 6, 40, 3], num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True,
        drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1,
        init_cfg=dict(type='MiTPretrained', checkpoint='pretrained/mit_b5.pth')),
    decode_head=dict(
        type='DAFormerHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3],
        channels=256, embed_dims=256, fusion='aspp', dilations=(1, 6, 12, 18),
        dropout_ratio=0.1, num_classes=5, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
