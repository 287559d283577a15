# DASPM final recipe on Sentinel-2 products: as gaofen2sentinel_uda_..._s0.py (published 8-bit RGB
# data), but the target is 16-bit reflectance at 10 m (B4, B3, B2 by band name, / 3000) resampled
# x5 onto the 2 m grid. Reflectance / 3000 exceeds 1 on bright surfaces and is not clipped at
# test time, so the colour jitter does not clamp either (clamp_jitter=False).
_base_ = ['../_base_/runs/daspm_60k.py', '../_base_/models/uda_daformer_sepaspp_mitb5.py',
          '../_base_/datasets/uda_gaofen_to_sentinel10m_320.py']
model = dict(imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=[1, 2, 3], pseudo_margins=(0, 0, 0, 0),
             value_scale=1.0, clamp_jitter=False, data_preprocessor=dict(size=(320, 320)),
             model=dict(data_preprocessor=dict(size=(320, 320))))
