# Source only: Gaofen (2 m) for training, Sentinel-2 10 m reflectance for validation and testing.
_base_ = ['./uda_gaofen_to_sentinel10m_320.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='GaofenDataset', data_root={{_base_.source_root}}, ann_file='train.txt',
    pipeline={{_base_.source_train_pipeline}}))
