# Short CPU schedule for the embedded synthetic data (source-only SegFormer): 600 iterations.
_base_ = ['./adamw.py', './schedule_60k.py']
max_iters = 600
warmup_iters = 50
optim_wrapper = dict(optimizer=dict(lr=6e-4))  # no ImageNet weights and a short run: 10x the recipe's lr
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=200, max_keep_ckpts=3))
