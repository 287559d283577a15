# The DASPM Gaofen -> Sentinel schedule: poly10warm over 60k iterations (warm-up 1500, then poly to 0).
_base_ = ['./poly10warm.py']
max_iters = 60000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end={{_base_.warmup_iters}}),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin={{_base_.warmup_iters}}, end=max_iters),
]
