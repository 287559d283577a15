# Target oracle: the published Sentinel-2 RGB data WITH its labels (upper bound; not a UDA setting).
_base_ = ['./uda_gaofen_to_sentinel_320.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SentinelDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline={{_base_.target_oracle_pipeline}}))
