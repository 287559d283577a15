# Target oracle: UTCD train.txt WITH its labels (upper bound; not a UDA setting), UTCD val/test.
_base_ = ['./uda_loveda_to_utcd_512x512.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='UTCDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline={{_base_.target_oracle_pipeline}}))
