# Source only: LoveDA Urban (urban.txt) for training, UTCD for validation and testing.
_base_ = ['./uda_loveda_to_utcd_512x512.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='LoveDAConvertedDataset', data_root={{_base_.source_root}}, ann_file='urban.txt',
    pipeline={{_base_.source_train_pipeline}}))
