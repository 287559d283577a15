"""File and folder names of the dataset layouts: raw (what users download), converted (what datasets read).

The synthetic generator writes the raw layout, the converters read it and write the converted
one, and the datasets and Rare Class Sampling read that: one set of names keeps them in step.
"""
from __future__ import annotations

# -- raw layout (converter input) ------------------------------------------------------------------
RAW_IMAGE_DIR = 'image'    # the published DASPM data: <raw>/image/, <raw>/label/, <raw>/<split>.txt
RAW_LABEL_DIR = 'label'
RAW_IMAGES = 'images'      # the older spelling: <raw>/images/, <raw>/labels/, <raw>/splits/<split>.txt
RAW_LABELS = 'labels'
RAW_SPLITS = 'splits'
#: accepted (image folder, label folder) spellings: the published DASPM data, then the older one
RAW_LAYOUTS: tuple[tuple[str, str], ...] = ((RAW_IMAGE_DIR, RAW_LABEL_DIR), (RAW_IMAGES, RAW_LABELS))

# -- converted layout (dataset input) --------------------------------------------------------------
IMG_DIR = 'img_dir'
ANN_DIR = 'ann_dir'
MANIFEST = 'daspm_dataset.json'
MANIFEST_IMAGE_SUFFIX = 'image_suffix'  # manifest key: suffix of img_dir/ files when they are not .tif
SAMPLE_CLASS_STATS = 'sample_class_stats.json'
SAMPLES_WITH_CLASS = 'samples_with_class.json'

# -- both: split files <split>.txt, one image name without suffix per line ---------------------------
SPLITS: tuple[str, ...] = ('train', 'val', 'test')
