"""Convert any folder of labelled images ("bring your own data") to the DASPM layout and write its configs.

  python tools/convert_datasets/custom.py --images DIR --masks DIR --classes classes.json -o OUT
  python run_experiments.py --config OUT/source_only.py

Input (never modified):
  --images DIR    GeoTIFF, PNG or JPEG, any size, 3 or more bands, georeferenced or not; sub-folders too
  --masks DIR     integer ids or RGB colours, paired with the image of the same path and name
                  (images/a/x.jpg <-> masks/a/x.png; other endings: --image-suffix _sat.jpg
                  --mask-suffix _mask.png)
  --classes FILE  {"classes": {"building": "#3C1098", "road": "#6EC1E4"}, "ignore": ["#9B9B9B"]}
                  or the same with integer ids; train ids follow the order of "classes"
  --target-images DIR   optional unlabelled images of the domain to adapt to (writes OUT/uda.py)

Output:
  img_dir/<name>.tif  ann_dir/<name>.tif (uint8 train ids, 255 = ignore, the image's georeference)
  train.txt val.txt test.txt (from --split-dir, else a deterministic --splits 0.8,0.1,0.1)
  sample_class_stats.json  samples_with_class.json  daspm_dataset.json
  source_only.py (and with target images: target/ and uda.py), configs that train on this folder

A mask value that is neither a class nor ignored, an image without a mask or a mask without an
image stops the conversion with one message listing them. A previous conversion in OUT is
resumed; --overwrite redoes it. See docs/custom_data.md.
"""
from convert_tool import run  # a sibling module: a script's folder is on its import path

if __name__ == '__main__':
    run('custom', __doc__)
