"""Convert WHDLD (a target of the LoveDA -> WHDLD experiments) to the DASPM layout in the LoveDA classes.

  python tools/convert_datasets/whdld.py data/whdld --nproc 8    # -> data/whdld_converted

Input (never modified), the WHDLD layout:
  <raw>/Images/<name>.jpg       8-bit RGB, 256 x 256, 2 m
  <raw>/ImagesPNG/<name>.png    1-band labels 1 building, 2 road, 3 pavement, 4 vegetation,
                                5 bare soil, 6 water
  <raw>/{train,val,test}.txt    optional (also <raw>/splits/, and the reference's val_da.txt /
                                test_da.txt); one name per line

Output (default <raw>_converted beside the input):
  img_dir/<name>.jpg  ann_dir/<name>.tif (uint8 train ids 0..6, 255 = ignore)
  train.txt val.txt test.txt  sample_class_stats.json  samples_with_class.json  daspm_dataset.json

Label -> LoveDA train id (the reference's mapping): 1 building -> 1 building, 2 road -> 2 road,
3 pavement -> 0 background, 4 vegetation -> 5 forest, 5 bare soil -> 4 barren, 6 water -> 3 water.
WHDLD has no agricultural class. Any other value is an error (--label-map CODE=ID adds one).
WHDLD publishes no split: without split files the images are split at random (seed 0) into train
70 % / val 10 % / test 20 % (--val-ratio, --test-ratio, --split-seed); missing splits of a partial
set are completed (see docs/datasets.md). A previous conversion in the output folder is resumed;
--overwrite redoes it.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('whdld', __doc__)
