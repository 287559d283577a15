# The published DASPM data (reference README): Gaofen / Google Earth 2 m (labelled source) ->
# Sentinel-2 (unlabelled target), both 8-bit RGB .tif, the target already on the 2 m label grid.
# Data roots are the outputs of `python tools/convert_datasets/gaofen2m.py data/gaofen` and
# `... sentinel10m.py data/sentinel`. A source without split files trains on every image.
# Resizing follows the reference recipe (source 1280x720, target 1024x512, ratio 0.5-2.0, crop
# 320): about 8% of target crops are smaller than 320 and padded. Target labels are never
# loaded for training, so the target crop has no class-share check.
_base_ = ['./daspm_pipelines.py']
source_root = 'data/gaofen_converted'
target_root = 'data/sentinel_converted'
crop_size = (320, 320)
load_target = {{_base_.load_sentinel_rgb8}}
source_train_pipeline = [
    {{_base_.load_gaofen}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(1280, 720), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
target_train_pipeline = [
    load_target,
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='TrackImageNodata'),  # nodata pixels get pseudo-weight 0 in DACS
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithNodata', meta_keys={{_base_.meta_keys}}),
]
# the target WITH labels, for the oracle baseline (not a UDA setting)
target_oracle_pipeline = [
    load_target,
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
target_test_pipeline = {{_base_.sentinel_rgb8_test_pipeline}}
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UDADataset',
        source=dict(type='GaofenDataset', data_root=source_root, ann_file='train.txt',
                    pipeline=source_train_pipeline),
        target=dict(type='SentinelDataset', data_root=target_root, ann_file='train.txt',
                    pipeline=target_train_pipeline),
        # DAFormer's rare class sampling: temperature 0.01, files with >= 3000 px of the class,
        # crops re-drawn until they hold > 3000 x 0.5 px of it
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SentinelDataset', data_root=target_root, ann_file='val.txt',
                 pipeline=target_test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SentinelDataset', data_root=target_root, ann_file='test.txt',
                 pipeline=target_test_pipeline))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
