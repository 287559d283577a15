# DASPM final recipe on the published data (reference name kept): DAFormer (MiT-B5, ImageNet
# weights) adapted from Gaofen / Google Earth 2 m RGB to Sentinel-2 RGB on the 2 m grid (both 8-bit
# .tif, / 255 as the reference's mean 0 / std 255) with DACS: alpha 0.999, FD on things (lambda
# 0.005, scale_min_ratio 0.75), rare class sampling (T 0.01, 3000 px, 0.5), pseudo-label margins
# (configurable, 0 for remote sensing), colour jitter clamped to [0, 1] as DAFormer's kornia 0.5.8
# (8-bit inputs), AdamW 6e-5 (head x10, no decay on norms), 1500-iteration linear warm-up then
# poly, crop 320, batch 2+2, 60k iterations, eval/checkpoint every 2000, seed 0.
# Sentinel-2 reflectance products (16-bit, bands B2/B3/B4/B8 at 10 m): gaofen2sentinel10m_*.py.
# FD on things: the built-up classes urban area (1), roads (2), impervious surface (3), see
# configs/_base_/uda/dacs_a999_fdthings.py; "croppl" margins: (top, bottom, left, right),
# reference (15, 120, 0, 0).
_base_ = ['../_base_/runs/daspm_60k.py', '../_base_/models/uda_daformer_sepaspp_mitb5.py',
          '../_base_/datasets/uda_gaofen_to_sentinel_320.py']
model = dict(imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=[1, 2, 3], pseudo_margins=(0, 0, 0, 0),
             value_scale=1.0, clamp_jitter=True, data_preprocessor=dict(size=(320, 320)),
             model=dict(data_preprocessor=dict(size=(320, 320))))
