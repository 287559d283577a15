# The DASPM final recipe (gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py,
# "the twin") plus masked image consistency (MIC, Hoyer et al. CVPR 2023) with MIC's values:
# mask ratio 0.7, 64 x 64 blocks (a 5 x 5 grid on the 320 crops), loss weight 1. The only change
# is the uda base (dacs_a999_fdthings_mic.py); tests/test_mic.py checks that the resolved config
# is the twin's plus `model.mic`. The twin's description:
# DASPM final recipe on the published data (reference name kept): DAFormer (MiT-B5, ImageNet
# weights) adapted from Gaofen / Google Earth 2 m RGB to Sentinel-2 RGB on the 2 m grid (both 8-bit
# .tif, / 255 as the reference's mean 0 / std 255) with DACS: alpha 0.999, FD on things (lambda
# 0.005, scale_min_ratio 0.75), rare class sampling (T 0.01, 3000 px, 0.5), pseudo-label margins
# (configurable, 0 for remote sensing), colour jitter clamped to [0, 1] as DAFormer's kornia 0.5.8
# (8-bit inputs), AdamW 6e-5 (head x10, no decay on norms), 1500-iteration linear warm-up then
# poly, crop 320, batch 2+2, 60k iterations, eval/checkpoint every 2000, seed 0.
# Sentinel-2 reflectance products (16-bit, bands B2/B3/B4/B8 at 10 m): gaofen2sentinel10m_*.py.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/uda_gaofen_to_sentinel_320.py',
    '../_base_/uda/dacs_a999_fdthings_mic.py',  # the twin's base plus MIC
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm_60k.py',
    '../_base_/schedules/schedule_60k.py',
]
randomness = dict(seed=0)
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# The run's model is the UDA segmentor: DACS with the options of the uda base (its `uda` entry,
# taken out of the bases so that none is left) around the network of the model base, which
# sees 320 x 320 crops. mmseg's tools/train.py and a plain mmengine Runner train it as it is.
_base_.model.data_preprocessor.size = (320, 320)
model = dict(
    _base_.pop('uda'),
    _delete_=True,
    model=_base_.model,
    data_preprocessor=_base_.model.data_preprocessor,
    pseudo_margins=(0, 0, 0, 0),  # "croppl": (top, bottom, left, right); reference: (15, 120, 0, 0)
    value_scale=1.0,
    clamp_jitter=True,
)
