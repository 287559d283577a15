# SegFormer MiT-B0 encoder (mmseg MixVisionTransformer) with the SegFormer all-MLP head.
_base_ = ['./encoder_decoder.py']
model = dict(
    backbone=dict(
        # mmseg's MixVisionTransformer with its attention in PyTorch's fused kernel (same function and
        # weights; fused_attention=False: mmseg's own, which stores every attention weight)
        type='FusedMixVisionTransformer', in_channels=3, embed_dims=32, num_stages=4,
        num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True,
        drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1),
    decode_head=dict(
        type='SegformerHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3],
        channels=256, dropout_ratio=0.1, num_classes=5, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
