# What every network here shares: an mmseg EncoderDecoder whose images arrive already scaled to
# ~[0, 1] by LoadGeoTiff, so the preprocessor only pads; BN (SyncBN needs a distributed run).
# A network base inherits it and adds its backbone, heads and test mode.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], bgr_to_rgb=False,
    pad_val=0, seg_pad_val=255)
model = dict(type='EncoderDecoder', data_preprocessor=data_preprocessor, pretrained=None)
