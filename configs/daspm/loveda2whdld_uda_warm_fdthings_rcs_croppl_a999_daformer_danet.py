# LoveDA -> WHDLD with DACS, network: DANet (ResNet-50 V1c, output stride 8; ImageNet weights
# pretrained/resnet50_v1c.pth).
# The reference has no LoveDA -> WHDLD config for this decoder (it has one for LoveDA -> UTCD).
# Recipe: configs/_base_/runs/loveda_40k.py; same network, schedule and seed as its source-only run.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/uda_danet_r50-d8.py',
          '../_base_/datasets/uda_loveda_to_whdld_256x256.py']
model = dict(value_scale=1.0, data_preprocessor=dict(size=(256, 256)),
             model=dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(256, 256))))
