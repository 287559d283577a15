# Linear warm-up over 1500 iterations from ratio 1e-6, then polynomial decay (power 1) to 0.
warmup_iters = 1500
max_iters = 40000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
