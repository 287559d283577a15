# DAFormer ablation: MiT-B5 encoder, DAFormer head fusing the embedded levels with a single
# 1x1 conv + BN + ReLU instead of the separable ASPP.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(decode_head=dict(fusion='conv1'))
