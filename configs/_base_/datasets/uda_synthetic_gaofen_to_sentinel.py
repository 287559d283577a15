# Embedded synthetic Gaofen -> Sentinel data (tools/make_synthetic_dataset.py + converters), CPU-sized:
# 320x320 tiles on the 2 m grid, crop 128, batch 2 source + 2 target.
_base_ = ['./uda_gaofen_to_sentinel10m_320.py']
source_root = 'data/synthetic/gaofen_converted'
target_root = 'data/synthetic/sentinel_converted'
crop_size = (128, 128)
source_train_pipeline = [
    {{_base_.load_gaofen}},
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
target_train_pipeline = [
    {{_base_.load_sentinel}},
    dict(type='SubPixelResample', out_gsd={{_base_.output_gsd}}),
    dict(type='TrackImageNodata'),  # nodata pixels get pseudo-weight 0 in DACS
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithNodata', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    num_workers=2,
    dataset=dict(source=dict(data_root=source_root, pipeline=source_train_pipeline),
                 target=dict(data_root=target_root, pipeline=target_train_pipeline)))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=target_root))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=target_root))
