# LoveDA -> UTCD source-only baseline: trained on LoveDA Urban only, evaluated on UTCD; network: DeepLabV2
# (ResNet-50 V1c, output stride 8, ASPP dilations 6 and 12; ImageNet weights pretrained/resnet50_v1c.pth).
# Same network, optimiser, schedule and seed as loveda2utcd_uda_warm_fdthings_rcs_croppl_a999_daformer_dv2.py.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/deeplabv2red_r50-d8.py',
          '../_base_/datasets/loveda_to_utcd_512x512.py']
model = dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(512, 512)))
