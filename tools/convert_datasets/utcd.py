"""Convert UTCD (a target of the LoveDA -> UTCD experiments) to the DASPM layout in the LoveDA classes.

  python tools/convert_datasets/utcd.py data/utcd --nproc 8    # -> data/utcd_converted

Input (never modified), one of these spellings:
  <raw>/image_spm/<name>.png + <raw>/label_spm/<name>.png   the reference's folders
  <raw>/image/ + <raw>/label/,  <raw>/images/ + <raw>/labels/
  images 8-bit RGB .png/.jpg/.tif; labels 1-band .png/.tif on the image grid
  <raw>/{train,val,test}.txt (or <raw>/splits/) optional, one name per line

Output (default <raw>_converted beside the input):
  img_dir/<name>.<image suffix>  ann_dir/<name>.tif (uint8 train ids 0..6, 255 = ignore)
  train.txt val.txt test.txt  sample_class_stats.json  samples_with_class.json  daspm_dataset.json

Label tables: train-ids (default) reads labels already in LoveDA train ids (0 background ...
6 agricultural, 255 ignore), which is what the reference's UTCD dataset trained on (label_spm/);
loveda-codes reads LoveDA's mask coding (0 = no data, 1..7 = the classes). Raw 10-class UTCD
codes, which the reference's global23k.py moved to 11..20 (no LoveDA train ids), need their
LoveDA class from you: --label-map CODE=ID,... Any value without a class is an error.
With only val.txt (the reference evaluates on it) test.txt = val.txt and train.txt = the rest;
without split files the images are split at random (train 70 / val 10 / test 20 %, seed 0).
A previous conversion in the output folder is resumed; --overwrite redoes it. See docs/datasets.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('utcd', __doc__)
