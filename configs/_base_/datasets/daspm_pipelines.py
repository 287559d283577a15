# Pipelines of the two DASPM domains on the 2 m output grid.
# Source (Gaofen / Google Earth): 3-band uint8 RGB at 2 m, / 255 (as the reference: mean 0, std 255).
# Target, two formats:
# - the published DASPM data: 3-band uint8 RGB already on the 2 m label grid, / 255 (load_sentinel_rgb8);
# - Sentinel-2 products: B4, B3, B2 (true colour) selected by band name, reflectance / 3000 (the
#   usual true-colour stretch: reflectance 0.3 -> 1.0), resampled 10 m -> 2 m (x5, bicubic)
#   (load_sentinel).
output_gsd = 2.0
crop_size = (320, 320)
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'crs', 'geo_transform', 'gsd', 'band_names',
             'subpixel_factor')
load_gaofen = dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, nominal_gsd=2.0, num_bands=3)
load_sentinel = dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0)
load_sentinel_rgb8 = dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, nominal_gsd=2.0, num_bands=3)
gaofen_train_pipeline = [
    load_gaofen,
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='SubPixelResample', out_gsd=output_gsd),
    dict(type='RandomResize', scale=(320, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
gaofen_test_pipeline = [
    load_gaofen,
    dict(type='SubPixelResample', out_gsd=output_gsd),
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
sentinel_test_pipeline = [
    load_sentinel,
    dict(type='SubPixelResample', out_gsd=output_gsd, interpolation='bicubic'),
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
sentinel_rgb8_test_pipeline = [
    load_sentinel_rgb8,
    dict(type='SubPixelResample', out_gsd=output_gsd, interpolation='bicubic'),  # no-op on the 2 m grid
    dict(type='LoadGeoTiffAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
