# Target oracle: WHDLD train.txt WITH its labels (upper bound; not a UDA setting), WHDLD val/test.
_base_ = ['./uda_loveda_to_whdld_256x256.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='WHDLDataset', data_root={{_base_.target_root}}, ann_file='train.txt',
    pipeline={{_base_.target_oracle_pipeline}}))
