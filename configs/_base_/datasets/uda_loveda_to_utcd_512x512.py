# LoveDA (labelled source: the Urban images of Train + Val, urban.txt, as the reference's source) ->
# UTCD (unlabelled target), crop 512, batch 2 source + 2 target. Data roots are the outputs of
# `python tools/convert_datasets/loveda.py data/loveda` and `... utcd.py data/utcd`. Target labels
# are never loaded for training, so the target crop has no class-share check; validation on
# UTCD val.txt, testing on test.txt.
_base_ = ['./loveda_family_pipelines.py']
source_root = 'data/loveda_converted'
target_root = 'data/utcd_converted'
crop_size = (512, 512)
source_train_pipeline = [
    {{_base_.load_rgb8}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='RandomResize', scale={{_base_.source_scale}}, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
target_train_pipeline = [
    {{_base_.load_rgb8}},
    dict(type='TrackImageNodata'),  # nodata pixels get pseudo-weight 0 in DACS
    dict(type='RandomResize', scale={{_base_.target_scale}}, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithNodata', meta_keys={{_base_.meta_keys}}),
]
# the target WITH labels, for the oracle baseline (not a UDA setting)
target_oracle_pipeline = [
    {{_base_.load_rgb8}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='RandomResize', scale={{_base_.target_scale}}, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UDADataset',
        source=dict(type='LoveDAConvertedDataset', data_root=source_root, ann_file='urban.txt',
                    pipeline=source_train_pipeline),
        target=dict(type='UTCDataset', data_root=target_root, ann_file='train.txt',
                    pipeline=target_train_pipeline),
        # DAFormer's rare class sampling: temperature 0.01, files with >= 3000 px of the class,
        # crops re-drawn until they hold > 3000 x 0.5 px of it
        rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='UTCDataset', data_root=target_root, ann_file='val.txt',
                 pipeline={{_base_.target_test_pipeline}}))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='UTCDataset', data_root=target_root, ann_file='test.txt',
                 pipeline={{_base_.target_test_pipeline}}))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
