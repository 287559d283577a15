# LoveDA (labelled source: the Urban images of Train + Val, urban.txt, as the reference's source) ->
# WHDLD (unlabelled target), crop 256, batch 2 source + 2 target. Data roots are the outputs of
# `python tools/convert_datasets/loveda.py data/loveda` and `... whdld.py data/whdld`. Target labels
# are never loaded for training, so the target crop has no class-share check; validation on
# WHDLD val.txt, testing on test.txt.
# Crop 256 (the WHDLD tiles are 256 x 256 at 2 m; the reference's file of this name crops 512).
# Everything else as LoveDA -> UTCD: the same pipelines with the 256 crop.
_base_ = ['./uda_loveda_to_utcd_512x512.py']
target_root = 'data/whdld_converted'
crop_size = (256, 256)


def _cropped(pipeline: list) -> list:
    """``pipeline`` with this file's crop size (a function: mmengine keeps it out of the config)."""
    return [dict(step, crop_size=crop_size) if step['type'] == 'RandomCrop' else step for step in pipeline]


source_train_pipeline = _cropped(_base_.source_train_pipeline)
target_train_pipeline = _cropped(_base_.target_train_pipeline)
target_oracle_pipeline = _cropped(_base_.target_oracle_pipeline)
train_dataloader = dict(dataset=dict(
    source=dict(pipeline=source_train_pipeline),
    target=dict(type='WHDLDataset', data_root=target_root, pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(type='WHDLDataset', data_root=target_root))
test_dataloader = dict(dataset=dict(type='WHDLDataset', data_root=target_root))
