# LoveDA -> UTCD with DACS, network: ISANet (ResNet-50 V1c, output stride 8; ImageNet weights
# pretrained/resnet50_v1c.pth).
# The reference's configs/daformer/loveda2utcd_uda_warm_fdthings_rcs_croppl_a999_daformer_isanet.py.
# Recipe: configs/_base_/runs/loveda_40k.py; same network, schedule and seed as its source-only run.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/uda_isanet_r50-d8.py',
          '../_base_/datasets/uda_loveda_to_utcd_512x512.py']
model = dict(value_scale=1.0, data_preprocessor=dict(size=(512, 512)),
             model=dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(512, 512))))
