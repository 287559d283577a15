# LoveDA -> UTCD target oracle: trained on UTCD train.txt WITH labels (upper bound); network: ISANet
# (ResNet-50 V1c, output stride 8; ImageNet weights pretrained/resnet50_v1c.pth).
# Same network, optimiser, schedule and seed as loveda2utcd_uda_warm_fdthings_rcs_croppl_a999_daformer_isanet.py.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/isanet_r50-d8.py',
          '../_base_/datasets/utcd_oracle_512x512.py']
model = dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(512, 512)))
