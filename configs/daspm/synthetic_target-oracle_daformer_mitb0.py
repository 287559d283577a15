# Target oracle on the synthetic data: trained on the Sentinel-like target WITH labels (upper bound).
_base_ = ['./synthetic_source-only_daformer_mitb0.py']  # the same network, schedule and seed
# the labelled source's training pipeline with the target's loader
oracle_train_pipeline = [_base_.load_sentinel, *_base_.source_train_pipeline[1:]]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SentinelDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline=oracle_train_pipeline))
