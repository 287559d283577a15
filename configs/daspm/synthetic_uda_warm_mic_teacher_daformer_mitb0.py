# A candidate lever of issue 27 (benchmarks/adaptation_shifts.py, row daspm-warm-mic-teacher;
# docs/results.md): DASPM
# (synthetic_uda_warm_rcs_fd_daformer_mitb0.py: DACS + ClassMix + RCS + FD from a source-only
# checkpoint) plus MIC (synthetic_uda_mic_rcs_fd_daformer_mitb0.py's values), tested and mapped
# with the EMA teacher. Training is the published recipe's; `eval_with` changes only which network
# predicts. The teacher normalises with batch statistics gathered on target batches (it
# pseudo-labels them in training mode), the student with those of source and mixed batches: under a
# sensor shift that alone moved the test by 20 mIoU (docs/shift_diagnostics.md); under a shift of
# the class shares (the real patch of `make demo`, ~95 % vegetation) the same statistics broke the
# teacher's map (docs/demo.md), so make demo maps with the student.
_base_ = ['./synthetic_uda_warm_rcs_fd_daformer_mitb0.py']
model = dict(mic=dict(mask_ratio=0.7, block_size=32, loss_weight=1.0), eval_with='teacher')
