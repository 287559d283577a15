"""Convert the LoveDA dataset (the source of the LoveDA -> UTCD / WHDLD experiments) to the DASPM layout.

  python tools/convert_datasets/loveda.py data/loveda --nproc 8    # -> data/loveda_converted

Input (never modified), the official LoveDA layout (Train.zip and Val.zip unzipped into <raw>):
  <raw>/{Train,Val}/{Urban,Rural}/images_png/<id>.png   8-bit RGB, 1024 x 1024, 0.3 m
  <raw>/{Train,Val}/{Urban,Rural}/masks_png/<id>.png    0 = no data, 1..7 = the classes
  (<raw>/Test/ has no masks and is skipped)

Output (default <raw>_converted beside the input):
  img_dir/<id>.png (copy or symlink)  ann_dir/<id>.tif (uint8 train ids 0..6, 255 = ignore)
  train.txt val.txt train_urban.txt train_rural.txt val_urban.txt val_rural.txt urban.txt rural.txt
  sample_class_stats.json  samples_with_class.json  daspm_dataset.json

Mask value -> train id: 0 no data -> 255 (ignore), 1 background -> 0, 2 building -> 1, 3 road -> 2,
4 water -> 3, 5 barren -> 4, 6 forest -> 5, 7 agricultural -> 6. Any other value is an error.
The configs configs/daspm/loveda2{utcd,whdld}_* train on urban.txt (LoveDA Urban, Train + Val), as
the reference's source. A previous conversion in the output folder is resumed; --overwrite redoes
it. See docs/datasets.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('loveda', __doc__)
