# Target oracle on the synthetic data: trained on the Sentinel-like target WITH labels (upper bound).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb0.py',
    '../_base_/datasets/uda_synthetic_gaofen_to_sentinel.py',
    '../_base_/schedules/schedule_synthetic_uda.py',
]
randomness = dict(seed=0)
oracle_train_pipeline = [
    {{_base_.load_sentinel}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SentinelDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline=oracle_train_pipeline))
model = dict(data_preprocessor=dict(size=(128, 128)))
