# LoveDA -> UTCD target oracle: trained on UTCD train.txt WITH labels (upper bound); network: DAFormer
# (MiT-B5 encoder with SegFormer ImageNet weights, pretrained/mit_b5.pth; separable-ASPP fusion head).
# Same network, optimiser, schedule and seed as loveda2utcd_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py.
_base_ = ['../_base_/runs/loveda_40k.py', '../_base_/models/daformer_sepaspp_mitb5.py',
          '../_base_/datasets/utcd_oracle_512x512.py']
model = dict(decode_head=dict(num_classes=7), data_preprocessor=dict(size=(512, 512)))
