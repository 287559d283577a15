# DACS final recipe (alpha 0.999, FD on things, see dacs_a999_fdthings.py) plus masked image
# consistency (MIC, Hoyer et al. CVPR 2023) with MIC's values: after the mixed step the target
# batch, strongly augmented with DACS's colour jitter and blur (own draws), is masked by random
# 64 x 64 blocks (each kept with probability 1 - mask_ratio = 0.3; masked pixels 0 in the
# normalised input), and the student learns the teacher's pseudo-labels of the unmasked target
# with the same pseudo-weight, loss weight 1, own backward; logged as masked.decode.loss_ce.
# A UDA config enables MIC by listing this base instead of dacs_a999_fdthings.py (or by inheriting
# a UDA config and setting model.mic, as configs/daspm/*_mic_*.py do); `mic=None`
# (the DACS default) is plain DACS.
_base_ = ['./dacs_a999_fdthings.py']
uda = dict(mic=dict(mask_ratio=0.7, block_size=64, loss_weight=1.0))
