# DASPM final recipe (reference name kept): DAFormer (MiT-B5, ImageNet weights) adapted from
# Gaofen 2 m to Sentinel-2 10 m->2 m with DACS: alpha 0.999, FD on things (lambda 0.005,
# scale_min_ratio 0.75), rare class sampling (T 0.01, 3000 px, 0.5), pseudo-label margins
# (configurable, 0 for remote sensing), AdamW 6e-5 (head x10, no decay on norms), 1500-iteration
# linear warm-up then poly, crop 320, batch 2+2, 60k iterations, eval/checkpoint every 2000, seed 0.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/uda_gaofen_to_sentinel_320.py',
    '../_base_/uda/dacs_a999_fdthings.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm_60k.py',
    '../_base_/schedules/schedule_60k.py',
]
randomness = dict(seed=0)
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
uda = dict(pseudo_margins=(0, 0, 0, 0))  # "croppl": (top, bottom, left, right); reference: (15, 120, 0, 0)
model = dict(data_preprocessor=dict(size=(320, 320)))
