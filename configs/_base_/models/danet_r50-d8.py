# DANet on ResNet-50 (output stride 8), DAFormer's baseline: mmseg's dual attention head (no
# compiled mmcv op) as DAHeadFusedLogits, which returns the fused position + channel attention
# logits from forward() (what DACS's pseudo-labels and mixed step read) and keeps DANet's two
# auxiliary losses in loss(); see daspm/models/decode_heads/danet_head.py. No auxiliary FCN head.
# num_classes: the 7 LoveDA classes.
_base_ = ['./resnet50_v1c_d8.py']
model = dict(
    decode_head=dict(
        type='DAHeadFusedLogits', in_channels=2048, in_index=3, channels=512, pam_channels=64,
        dropout_ratio=0.1, num_classes=7, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
