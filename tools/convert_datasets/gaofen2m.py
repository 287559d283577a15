"""Convert a raw Gaofen-2 / Google Earth 2 m dataset (the source domain) to the DASPM layout.

  python tools/convert_datasets/gaofen2m.py data/gaofen --nproc 8    # -> data/gaofen_converted

Input (never modified), the published DASPM layout or the older spelling:
  <raw>/image/<name>.tif    or <raw>/images/<name>.tif   3-band uint8 RGB at 2 m
  <raw>/label/<name>.tif    or <raw>/labels/<name>.tif   1-band uint8 raw codes on the image grid
                            (or 3-band uint8 RGB in the DASPM palette, black = unlabelled)
  <raw>/{train,val,test}.txt or <raw>/splits/{train,val,test}.txt   optional, one name per line;
                            the published source has none: the datasets then use every image

Output (default <raw>_converted beside the input):
  img_dir/<name>.tif  ann_dir/<name>.tif (uint8 train ids, 255 = ignore)
  train.txt val.txt test.txt (those in the input)  sample_class_stats.json
  samples_with_class.json  daspm_dataset.json (records image_format, label_table, splits)

Raw codes (--label-table others-first, the default): 0 unlabelled / Others -> 255 (ignore),
1 green area -> 0, 2 urban area (buildings) -> 1, 3 roads -> 2, 4 impervious surface -> 3,
5 water -> 4; --label-table five-classes reads codes 0..4 as those classes and ignores 5.
Any other value is an error. The summary names what was found (e.g. "found: 8-bit RGB on the
label grid") and the config that fits. A previous conversion in the output folder is resumed;
--overwrite redoes it. See docs/datasets.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('gaofen2m', __doc__)
