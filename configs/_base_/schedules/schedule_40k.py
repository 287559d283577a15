# DAFormer's schedule, which the reference's LoveDA -> UTCD / WHDLD runs keep: 40k iterations.
# Evaluation and checkpoint every 4000 (the reference evaluated once, at the end).
_base_ = ['./schedule_60k.py']
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=3))
