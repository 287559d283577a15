# DASPM on the synthetic data as `make demo` trains it and the adaptation benchmark measures it
# (benchmarks/adaptation_synthetic.py, row daspm-warm): the synthetic recipe (DACS + ClassMix +
# RCS + FD, synthetic_uda_rcs_fd_daformer_mitb0.py) unchanged, started from a source-only
# checkpoint of the same network. The reference starts from ImageNet weights, which do not exist
# for this tiny encoder; without them the student, the teacher (which copies it at iteration 0)
# and the frozen FD model would start from random weights. Set the checkpoint:
#   --cfg-options model.model.init_cfg.checkpoint=work_dirs/<exp>/<source-only run>/iter_N.pth
# The schedule is the UDA part only: 200 iterations (warm-up 100, then poly) after a
# 400-iteration source-only run, the benchmark's protocol.
_base_ = ['./synthetic_uda_rcs_fd_daformer_mitb0.py']
max_iters = 200
model = dict(model=dict(init_cfg=dict(type='Pretrained', checkpoint=None)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
