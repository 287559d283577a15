# ISANet (interlaced sparse self-attention) on ResNet-50 (output stride 8), DAFormer's baseline:
# mmseg's ISAHead (no compiled mmcv op). No auxiliary head. num_classes: the 7 LoveDA classes.
_base_ = ['./resnet50_v1c_d8.py']
model = dict(
    decode_head=dict(
        type='ISAHead', in_channels=2048, in_index=3, channels=512, isa_channels=256,
        down_factor=(8, 8), dropout_ratio=0.1, num_classes=7, norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
