"""Convert the reference's Global23k labels (raw 10-class codes in label_da/) to the DASPM layout, beside the input.

  python tools/convert_datasets/global23k.py PATH --nproc 8    # -> PATH_converted

Input (never modified), what the reference's global23k.py reads:
  <raw>/label_da/<name>.png   1 band, 0 = no data, 1..10 = ten land-cover codes
  <raw>/image_da/<name>.png   the images of the same names, 8-bit RGB on the label grid
                              (.png, .jpg or .tif; image/ or images/ are accepted too)
  <raw>/{train,val,test}.txt or <raw>/splits/...   optional; without them every image is used

Output (default <raw>_converted beside the input; the reference wrote into a folder of its own):
  img_dir/<name>.<suffix of the input>  ann_dir/<name>.tif (uint8 train ids 0..4, 255 = ignore)
  sample_class_stats.json  samples_with_class.json  daspm_dataset.json (records image_suffix)

The five DASPM classes: 0 green area, 1 urban area, 2 roads, 3 impervious surface, 4 water.
ASSUMPTION: the ten codes are documented nowhere (the reference moved them to 11..20, ids no
model has); the default table reads them in FROM-GLC10's class order (see below) and
--label-map CODE=ID changes any entry. A previous conversion in the output folder is resumed;
--overwrite redoes it. See docs/datasets.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('global23k', __doc__)
