# CPU schedule for the synthetic benchmark and demo: 1500 iterations, AdamW (recipe ratios:
# decoder lr x10, no decay on norms), linear warm-up over 100 iterations then poly decay.
# No ImageNet weights exist for this tiny encoder, so the base lr is 10x the recipe's 6e-5.
_base_ = ['./adamw.py', './schedule_60k.py']
max_iters = 1500
warmup_iters = 100
optim_wrapper = dict(optimizer=dict(lr=6e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=500))
