# LoveDA -> WHDLD target oracle: trained on WHDLD train.txt WITH labels (upper bound); network: DANet
# (ResNet-50 V1c, output stride 8; ImageNet weights pretrained/resnet50_v1c.pth).
# Same network, optimiser, schedule and seed as loveda2whdld_uda_warm_fdthings_rcs_croppl_a999_daformer_danet.py.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/danet_r50-d8.py',
          '../_base_/datasets/whdld_oracle_256x256.py']
model = dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(256, 256)))
