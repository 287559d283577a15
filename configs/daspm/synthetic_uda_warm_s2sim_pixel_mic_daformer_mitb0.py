# DASPM as tuned (synthetic_uda_warm_s2sim_pixel_daformer_mitb0.py, "the twin": warm start, sensor
# simulation, per-pixel pseudo-weights) plus masked image consistency (MIC, Hoyer et al. CVPR 2023)
# with the values of synthetic_uda_mic_rcs_fd_daformer_mitb0.py: mask ratio 0.7, loss weight 1,
# 32-pixel blocks on the 128 crop. The benchmark's row daspm-tuned-mic: does MIC add to the tuned
# method? Set the warm start's checkpoint as for the twin:
#     --cfg-options model.model.init_cfg.checkpoint=work_dirs/<exp>/<source-only run>/iter_N.pth
_base_ = ['./synthetic_uda_warm_s2sim_pixel_daformer_mitb0.py']
model = dict(mic=dict(mask_ratio=0.7, block_size=32, loss_weight=1.0))
