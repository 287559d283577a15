# Target oracle: Sentinel-2 10 m reflectance WITH its labels (upper bound; not a UDA setting).
_base_ = ['./uda_gaofen_to_sentinel10m_320.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SentinelDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline={{_base_.target_oracle_pipeline}}))
