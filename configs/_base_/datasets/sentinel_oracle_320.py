# Target oracle: Sentinel-2 WITH its labels (upper bound; not a UDA setting).
_base_ = ['./uda_gaofen_to_sentinel_320.py']
oracle_train_pipeline = [
    {{_base_.load_sentinel}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SentinelDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline=oracle_train_pipeline))
