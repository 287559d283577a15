# DASPM final recipe on Sentinel-2 products: as gaofen2sentinel_uda_..._s0.py (published 8-bit RGB
# data), but the target is 16-bit reflectance at 10 m (B4, B3, B2 by band name, / 3000) resampled
# x5 onto the 2 m grid. Reflectance / 3000 exceeds 1 on bright surfaces and is not clipped at
# test time, so the colour jitter does not clamp either (clamp_jitter=False).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/uda_gaofen_to_sentinel10m_320.py',
    '../_base_/uda/dacs_a999_fdthings.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm_60k.py',
    '../_base_/schedules/schedule_60k.py',
]
randomness = dict(seed=0)
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
uda = dict(pseudo_margins=(0, 0, 0, 0), value_scale=1.0, clamp_jitter=False)
model = dict(data_preprocessor=dict(size=(320, 320)))
