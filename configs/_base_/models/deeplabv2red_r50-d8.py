# DeepLabV2 on ResNet-50 (output stride 8) as DAFormer's UDA baselines run it ("red"): the ASPP
# classifier keeps only the dilations 6 and 12, as previous UDA code effectively did. mmseg 1.x has
# no DeepLabV2 head; DLV2Head (daspm/models/decode_heads/dlv2_head.py) is DAFormer's: dilated 3x3
# convolutions straight to class logits, summed. num_classes: the 7 LoveDA classes.
_base_ = ['./resnet50_v1c_d8.py']
model = dict(
    decode_head=dict(
        type='DLV2Head', in_channels=2048, in_index=3, dilations=(6, 12), num_classes=7,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
