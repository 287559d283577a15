# Source-only baseline on the synthetic data: same network, schedule and seed as the UDA run.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb0.py',
    '../_base_/datasets/uda_synthetic_gaofen_to_sentinel.py',
    '../_base_/schedules/schedule_synthetic_uda.py',
]
randomness = dict(seed=0)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='GaofenDataset', data_root={{_base_.source_root}}, ann_file='train.txt',
    pipeline={{_base_.source_train_pipeline}}))
model = dict(data_preprocessor=dict(size=(128, 128)))
