# Sentinel-2 products as the target: Gaofen / Google Earth 2 m RGB (labelled source) -> Sentinel-2
# 16-bit reflectance at 10 m with bands named B2/B3/B4(/B8), resampled x5 onto the 2 m label grid
# (unlabelled target), crop 320. Data roots are the converters' outputs for data/gaofen and
# data/sentinel10m. Resizing follows the reference recipe (source 1280x720, target 1024x512,
# ratio 0.5-2.0). Target labels are never loaded for training.
_base_ = ['./uda_gaofen_to_sentinel_320.py']
target_root = 'data/sentinel10m_converted'
load_target = {{_base_.load_sentinel}}
# the published data's pipelines with this target's loader
target_train_pipeline = [load_target, *_base_.target_train_pipeline[1:]]
target_oracle_pipeline = [load_target, *_base_.target_oracle_pipeline[1:]]
target_test_pipeline = {{_base_.sentinel_test_pipeline}}
train_dataloader = dict(dataset=dict(target=dict(data_root=target_root, pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(data_root=target_root, pipeline=target_test_pipeline))
test_dataloader = dict(dataset=dict(data_root=target_root, pipeline=target_test_pipeline))
