# Embedded synthetic data (tools/make_synthetic_dataset.py + the two converters):
# train on the labelled source (Gaofen-like, 2 m), validate and test on the target
# (Sentinel-like, 10 m -> 2 m), whose labels are used for evaluation only.
_base_ = ['./daspm_pipelines.py']
source_root = 'data/synthetic/gaofen_converted'
target_root = 'data/synthetic/sentinel_converted'
crop_size = (128, 128)
train_pipeline = [
    {{_base_.load_gaofen}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='GaofenDataset', data_root=source_root, ann_file='train.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SentinelDataset', data_root=target_root, ann_file='val.txt',
                 pipeline={{_base_.sentinel_test_pipeline}}))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SentinelDataset', data_root=target_root, ann_file='test.txt',
                 pipeline={{_base_.sentinel_test_pipeline}}))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
