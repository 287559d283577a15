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
# The run's model is the UDA segmentor: DACS with the options of the uda base (its `uda` entry,
# taken out of the bases so that none is left) around the network of the model base, which
# sees 320 x 320 crops. mmseg's tools/train.py and a plain mmengine Runner train it as it is.
_base_.model.data_preprocessor.size = (320, 320)
model = dict(
    _base_.pop('uda'),
    _delete_=True,
    model=_base_.model,
    data_preprocessor=_base_.model.data_preprocessor,
    pseudo_margins=(0, 0, 0, 0),
    value_scale=1.0,
    clamp_jitter=False,
)
