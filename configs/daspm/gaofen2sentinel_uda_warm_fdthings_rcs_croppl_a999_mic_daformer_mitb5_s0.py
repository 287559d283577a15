# The DASPM final recipe (gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py,
# "the twin") plus masked image consistency (MIC, Hoyer et al. CVPR 2023) with MIC's values, as in
# configs/_base_/uda/dacs_a999_fdthings_mic.py: mask ratio 0.7, 64 x 64 blocks (a 5 x 5 grid on
# the 320 crops), loss weight 1. tests/test_mic.py checks that the resolved config is the twin's
# plus `model.mic`.
_base_ = ['./gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py']
model = dict(mic=dict(mask_ratio=0.7, block_size=64, loss_weight=1.0))
