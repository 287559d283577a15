# DACS self-training (basic recipe): EMA teacher alpha 0.99, confidence 0.968, ClassMix,
# colour jitter (s=0.2, p=0.8) and blur (p=0.5). Pseudo-label margins (top, bottom, left, right)
# default to 0: the reference's 15/120-row crop was a Cityscapes artefact.
# `uda` holds the options of the UDA segmentor. ../models/uda_<network>.py turn them into the model,
# around that network, and take the entry out (no `uda` may be left); runs list those bases.
uda = dict(
    type='DACS',
    alpha=0.99,
    pseudo_threshold=0.968,
    pseudo_margins=(0, 0, 0, 0),
    pseudo_weight='share',  # 'share' of confident pixels on every pixel (DACS); 'pixel': 1 if confident else 0
    mix='class',
    blur=True,
    color_jitter_strength=0.2,
    color_jitter_probability=0.8,
    color_jitter_hue=None,  # largest hue shift in turns; None = color_jitter_strength (reference)
    value_scale=None,  # denormalised value of white; None: 255 if mean/std are in 8-bit units, else 1
    clamp_jitter=True,  # clamp each jitter part to [0, white] (kornia 0.5.8); False if test time does not clip
    ignore_padding=True,  # padded target pixels: pseudo-weight 0, not in the confident share (reference: counted)
    imnet_feature_dist_lambda=0.0,
    imnet_feature_dist_classes=None,
    imnet_feature_dist_scale_min_ratio=0.75,
    eval_with='student',
    # torch.compile for the forward passes (student, teacher, ImageNet model): None = off, True =
    # torch's defaults (inductor), or a dict of torch.compile options plus scope='blocks' (default: the
    # backbone block by block) or 'whole'; checkpoints are the same either way
    compile=None,
)
custom_hooks = [dict(type='DebugImageHook', interval=1000)]
# Distributed runs (launchers only; a single process is never wrapped): average the student's
# gradients once per optimizer step. mmengine's default DDP wrapper does not fit DACS (several
# backward passes per step, the frozen teacher and ImageNet model) and would train source-only.
model_wrapper_cfg = dict(type='UDADistributedDataParallel')
