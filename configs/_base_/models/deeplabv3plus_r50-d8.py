# DeepLabV3+ on ResNet-50 (output stride 8), DAFormer's baseline: mmseg's DepthwiseSeparableASPPHead
# (no compiled mmcv op) with the stride-4 features of stage 1 as low-level input. No auxiliary head.
# num_classes: the 7 LoveDA classes.
_base_ = ['./resnet50_v1c_d8.py']
model = dict(
    decode_head=dict(
        type='DepthwiseSeparableASPPHead', in_channels=2048, in_index=3, channels=512,
        dilations=(1, 12, 24, 36), c1_in_channels=256, c1_channels=48, dropout_ratio=0.1,
        num_classes=7, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
