# Sentinel-2 products as the target: Gaofen / Google Earth 2 m RGB (labelled source) -> Sentinel-2
# 16-bit reflectance at 10 m with bands named B2/B3/B4(/B8), resampled x5 onto the 2 m label grid
# (unlabelled target), crop 320. Data roots are the converters' outputs for data/gaofen and
# data/sentinel10m. Resizing follows the reference recipe (source 1280x720, target 1024x512,
# ratio 0.5-2.0). Target labels are never loaded for training.
_base_ = ['./uda_gaofen_to_sentinel_320.py']
target_root = 'data/sentinel10m_converted'
load_target = {{_base_.load_sentinel}}
target_train_pipeline = [
    load_target,
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='TrackImageNodata'),  # nodata pixels get pseudo-weight 0 in DACS
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithNodata', meta_keys={{_base_.meta_keys}}),
]
target_oracle_pipeline = [
    load_target,
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
target_test_pipeline = {{_base_.sentinel_test_pipeline}}
train_dataloader = dict(dataset=dict(target=dict(data_root=target_root, pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(data_root=target_root, pipeline=target_test_pipeline))
test_dataloader = dict(dataset=dict(data_root=target_root, pipeline=target_test_pipeline))
