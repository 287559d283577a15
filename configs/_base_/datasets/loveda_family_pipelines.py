# The LoveDA -> UTCD / WHDLD family (the reference's second experiments), 7 LoveDA classes (the leaf
# configs set num_classes=7 on the decoder).
# Images are 8-bit RGB PNG/JPG, read like the reference's LoadImageFromFile with mean 0 / std 255
# (to_rgb): LoadGeoTiff takes bands 1-3 (RGB) and divides by 255, so the preprocessor only pads.
# Labels are the converters' ann_dir/*.tif train ids. Resizing follows the reference: LoveDA
# (1024 x 1024, 0.3 m) to 2048 x 512 and the targets to 1280 x 720, both with a random ratio in
# [0.5, 2.0] (keep ratio); at test time the target is resized to 1024 x 512 (keep ratio).
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'crs', 'geo_transform', 'gsd', 'band_names')
load_rgb8 = dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, num_bands=3)
source_scale = (2048, 512)
target_scale = (1280, 720)
test_scale = (1024, 512)
target_test_pipeline = [
    load_rgb8,
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadGeoTiffAnnotations'),  # after Resize: the prediction is scored at the label's size
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
