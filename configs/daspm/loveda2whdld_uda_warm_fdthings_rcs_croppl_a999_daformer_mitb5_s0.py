# LoveDA -> WHDLD with DACS, network: DAFormer (MiT-B5 encoder with SegFormer ImageNet weights,
# pretrained/mit_b5.pth; separable-ASPP fusion head).
# The reference's configs/daformer/loveda2whdld_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py.
# Recipe: configs/_base_/runs/loveda_40k.py; same network, schedule and seed as its source-only run.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/uda_daformer_sepaspp_mitb5.py',
          '../_base_/datasets/uda_loveda_to_whdld_256x256.py']
model = dict(value_scale=1.0, data_preprocessor=dict(size=(256, 256)),
             model=dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(256, 256))))
