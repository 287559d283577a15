# DASPM as tuned on the adaptation benchmark (benchmarks/adaptation_synthetic.py, row daspm-tuned):
# the synthetic DASPM recipe (DACS + ClassMix + RCS + FD) plus three levers, each a deviation from
# DAFormer (the warm start alone, synthetic_uda_warm_rcs_fd_daformer_mitb0.py, does as well and is
# the method of `make demo`):
# - warm start: the student starts from a source-only checkpoint of the same network (so do the
#   teacher and the FD model, which copy it at iteration 0), instead of the random
#   initialisation that stands in for ImageNet weights here. Set its path:
#     --cfg-options model.model.init_cfg.checkpoint=work_dirs/<exp>/<source-only run>/iter_N.pth
# - sub-pixel-aware source augmentation: source images rendered as Sentinel-2's 10 m bands see
#   the ground (synthetic_uda_rcs_fd_s2sim_daformer_mitb0.py);
# - per-pixel pseudo-weights: 1 on confident target pixels, 0 elsewhere.
# The schedule is the UDA part only: 200 iterations after a 400-iteration source-only run (the
# benchmark's protocol).
_base_ = ['./synthetic_uda_rcs_fd_s2sim_daformer_mitb0.py']
max_iters = 200
warmup_iters = 50
model = dict(pseudo_weight='pixel', model=dict(init_cfg=dict(type='Pretrained', checkpoint=None)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_hooks = [dict(type='DebugImageHook', interval=100)]
