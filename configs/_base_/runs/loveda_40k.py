# The reference's LoveDA -> UTCD / WHDLD recipe without network and data: mmengine runtime, AdamW
# 6e-5 (head x10, no decay on norms), 1500-iteration linear warm-up then poly, 40k iterations,
# seed 0. A run (configs/daspm/loveda2*) adds a network (or UDA) base, a data base, the 7 LoveDA
# classes and the crop size. Its UDA runs are DACS as the reference ran it: alpha 0.999, rare
# class sampling (T 0.01, 3000 px, 0.5) on LoveDA, NO ImageNet feature distance (the reference
# sets its lambda to 0 despite "fdthings" in the names), pseudo-label margins 0 (its 15/120-row
# "croppl" is a Cityscapes artefact), colour jitter clamped to [0, 1] (8-bit images / 255).
_base_ = ['../default_runtime.py', '../schedules/adamw.py', '../schedules/poly10warm.py',
          '../schedules/schedule_40k.py']
randomness = dict(seed=0)
