# AdamW of the DAFormer/DASPM recipe: lr 6e-5, decoder lr x10, no weight decay on norm layers.
optim_wrapper = dict(
    type='OptimWrapper',
    # same per-parameter lr/decay as mmengine's default constructor, in one group per setting
    constructor='MergedParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01),
    # mmseg 1.x names the MiT stage norms `layers.<i>.2` (no 'norm' in the name): norm_decay_mult
    # covers the norm layers that no custom key matches.
    paramwise_cfg=dict(norm_decay_mult=0.0, custom_keys=dict(
        head=dict(lr_mult=10.0), norm=dict(decay_mult=0.0), pos_block=dict(decay_mult=0.0))))
