# Source-only on the synthetic data with the sub-pixel-aware source augmentation of
# synthetic_uda_rcs_fd_s2sim_daformer_mitb0.py (source images rendered as Sentinel-2 10 m would see
# them). The benchmark's control: how much of a gain comes from the augmentation without adaptation.
_base_ = ['./synthetic_source-only_daformer_mitb0.py']
simulate_sentinel2 = dict(type='SimulateCoarseSensor', sensor_gsd=10.0, mtf_at_nyquist=(0.15, 0.30))
_steps = _base_.source_train_pipeline
_at = [step['type'] for step in _steps].index('SubPixelResample') + 1
train_dataloader = dict(dataset=dict(pipeline=_steps[:_at] + [simulate_sentinel2] + _steps[_at:]))
del _steps, _at
