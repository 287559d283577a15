# Source-only baseline on the embedded synthetic Gaofen -> Sentinel data (used by `make demo`):
# MiT-B0 SegFormer trained on the 2 m source, evaluated on the Sentinel-like target on the 2 m grid.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/segformer_mitb0.py',
    '../_base_/datasets/synthetic_gaofen_to_sentinel.py',
    '../_base_/schedules/schedule_synthetic.py',
]
model = dict(decode_head=dict(channels=128))  # a lighter head keeps the CPU demo short
crop_size = (128, 128)
data_preprocessor = dict(size=crop_size)
model.update(data_preprocessor=data_preprocessor)
