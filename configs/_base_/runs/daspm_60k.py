# The DASPM Gaofen -> Sentinel recipe without network and data: mmengine runtime, AdamW 6e-5 (head
# x10, no decay on norms), 1500-iteration linear warm-up then poly, 60k iterations, evaluation and
# checkpoint every 2000, seed 0. A run adds a network (or UDA) base, a data base and the crop size.
_base_ = ['../default_runtime.py', '../schedules/adamw.py', '../schedules/poly10warm_60k.py',
          '../schedules/schedule_60k.py']
randomness = dict(seed=0)
