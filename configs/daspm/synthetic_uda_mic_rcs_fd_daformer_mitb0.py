# The synthetic DASPM run (synthetic_uda_rcs_fd_daformer_mitb0.py, "the twin") plus masked image
# consistency (MIC, Hoyer et al. CVPR 2023): mask ratio 0.7 and loss weight 1 (MIC's values, as in
# configs/_base_/uda/dacs_a999_fdthings_mic.py), blocks of 32 pixels: with 64-pixel blocks a
# 128 crop is a 2 x 2 grid and 0.7^4 = 24% of the masked crops would be entirely black; 32 gives
# a 4 x 4 grid, close to the recipe's 5 x 5 on 320 crops. tests/test_mic.py checks that the
# resolved config is the twin's plus `model.mic`.
_base_ = ['./synthetic_uda_rcs_fd_daformer_mitb0.py']
model = dict(mic=dict(mask_ratio=0.7, block_size=32, loss_weight=1.0))
