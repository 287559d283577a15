# Target oracle on the synthetic data: trained on the Sentinel-like target WITH labels (upper bound).
_base_ = ['./synthetic_source-only_daformer_mitb0.py']  # the same network, schedule and seed
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
