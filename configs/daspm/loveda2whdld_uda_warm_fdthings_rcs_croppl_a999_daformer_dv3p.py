# LoveDA -> WHDLD with DACS, network: DeepLabV3+ (ResNet-50 V1c, output stride 8; ImageNet weights
# pretrained/resnet50_v1c.pth).
# The reference's configs/daformer/loveda2whdld_uda_warm_fdthings_rcs_croppl_a999_daformer_dv3p.py.
# Recipe as the reference ran it: alpha 0.999, rare class sampling (T 0.01, 3000 px, 0.5) on LoveDA,
# NO ImageNet feature distance (the reference sets its lambda to 0 here despite "fdthings" in the
# name), pseudo-label margins 0 (its 15/120-row "croppl" is a Cityscapes artefact), colour jitter
# clamped to [0, 1] (8-bit images / 255), AdamW 6e-5 (head x10, no decay on norms), 1500-iteration
# warm-up then poly, crop 256, batch 2 + 2, 40k iterations, seed 0.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/uda_loveda_to_whdld_256x256.py',
    '../_base_/uda/dacs_a999.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py',
    '../_base_/schedules/schedule_40k.py',
]
randomness = dict(seed=0)
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
# The run's model is the UDA segmentor: DACS (the uda base's options) around the network of the
# model base, with the 7 LoveDA classes and 256 x 256 crops.
_base_.model.decode_head.num_classes = 7
_base_.model.data_preprocessor.size = (256, 256)
model = dict(
    _base_.pop('uda'),
    _delete_=True,
    model=_base_.model,
    data_preprocessor=_base_.model.data_preprocessor,
    pseudo_margins=(0, 0, 0, 0),
    value_scale=1.0,
    clamp_jitter=True,
)
