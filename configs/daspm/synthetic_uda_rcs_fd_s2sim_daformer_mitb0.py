# DASPM on the synthetic data with sub-pixel-aware source augmentation (a deviation from DAFormer,
# a lever of the adaptation benchmark): every source image is first rendered as Sentinel-2's 10 m
# bands would see the same ground (Gaussian PSF with the MSI's required MTF at Nyquist, 0.15-0.30,
# 10 m footprint integration at a random grid offset, bicubic back to the 2 m grid), then resized
# and cropped as before. Labels stay at 2 m. Otherwise identical to its twin.
_base_ = ['./synthetic_uda_rcs_fd_daformer_mitb0.py']
simulate_sentinel2 = dict(type='SimulateCoarseSensor', sensor_gsd=10.0, mtf_at_nyquist=(0.15, 0.30))
# the sensor sees the ground before any random resize: right after the step that puts the image
# on the 2 m output grid
_steps = _base_.source_train_pipeline
_at = [step['type'] for step in _steps].index('SubPixelResample') + 1
train_dataloader = dict(dataset=dict(source=dict(pipeline=_steps[:_at] + [simulate_sentinel2] + _steps[_at:])))
del _steps, _at
