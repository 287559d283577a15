# ResNet-50 V1c dilated to output stride 8, the encoder of DAFormer's *_r50-d8 baselines (BN instead
# of SyncBN, no auxiliary head), with ImageNet weights from pretrained/resnet50_v1c.pth: fetch them
# once with `sh tools/download_checkpoints.sh resnet50_v1c` (mmseg's 'open-mmlab://resnet50_v1c',
# which would be downloaded at run time). The decoder comes from the model file that uses this one.
_base_ = ['./encoder_decoder.py']
model = dict(
    backbone=dict(
        type='ResNetV1c', depth=50, num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1), norm_cfg={{_base_.norm_cfg}}, norm_eval=False, style='pytorch', contract_dilation=True,
        init_cfg=dict(type='LocalPretrained', checkpoint='pretrained/resnet50_v1c.pth')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
