"""Convert a raw Sentinel-2 dataset with labels on a 2 m grid (the target domain) to the DASPM layout.

  python tools/convert_datasets/sentinel10m.py data/sentinel --nproc 8   # -> data/sentinel_converted

Input (never modified), the published DASPM layout or the older spelling:
  <raw>/image/<name>.tif    or <raw>/images/<name>.tif   any dtype and band count, copied
                            unchanged: the published data are 8-bit RGB already on the 2 m label
                            grid; Sentinel-2 reflectance x10000 (uint16, B2,B3,B4,B8) at 10 m works too
  <raw>/label/<name>.tif    or <raw>/labels/<name>.tif   1-band uint8 raw codes
                            (or 3-band uint8 RGB in the DASPM palette, black = unlabelled)
  <raw>/{train,val,test}.txt or <raw>/splits/{train,val,test}.txt   optional, one name per line

The label must cover the image bounds (within half a label pixel), on the image grid or on a
grid whose pixel size is the image pixel size divided by an integer (10 m / 5 = 2 m); the
factor must be the same for every pair and is recorded as "subpixel_factor" and in
"image_format" in daspm_dataset.json.

Output (default <raw>_converted beside the input):
  img_dir/<name>.tif  ann_dir/<name>.tif (uint8 train ids on the label grid, 255 = ignore)
  train.txt val.txt test.txt  sample_class_stats.json  samples_with_class.json
  daspm_dataset.json

Raw codes (--label-table others-first, the default): 0 unlabelled / Others -> 255 (ignore),
1 green area -> 0, 2 urban area (buildings) -> 1, 3 roads -> 2, 4 impervious surface -> 3,
5 water -> 4; --label-table five-classes reads codes 0..4 as those classes and ignores 5.
Any other value is an error. The summary names what was found (e.g. "found: 8-bit RGB on the
label grid", "found: 16-bit, 4 bands (B2, B3, B4, B8), labels x5 finer") and the config that
fits. A previous conversion in the output folder is resumed; --overwrite redoes it.
See docs/datasets.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('sentinel10m', __doc__)
