# CPU-sized DAFormer network for the synthetic data and tests: the MiT-B0 encoder of
# segformer_mitb0.py trained from scratch (no ImageNet weights, so nothing has to be downloaded)
# and the DAFormer separable-ASPP head with 128 instead of 256 channels (embedding and fusion)
# to keep CPU runs short.
_base_ = ['./segformer_mitb0.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DAFormerHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3],
        channels=128, embed_dims=128, fusion='aspp', dilations=(1, 6, 12, 18),
        dropout_ratio=0.1, num_classes=5, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
