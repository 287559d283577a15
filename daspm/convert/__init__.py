"""Dataset converters: raw images + raw-coded labels -> mmseg layout with train ids and RCS statistics.

Light on imports (numpy, rasterio, tqdm only) so the conversion tools run without mmseg/mmcv.
"""
from .class_stats import (build_class_stats, class_pixel_totals, compute_class_stats,
                          count_classes, read_class_counts, write_class_stats)
from .converter import (DATASETS, MANIFEST, DatasetSpec, check_label_grid, convert_dataset,
                        default_output_dir, find_pairs, read_splits, read_train_ids,
                        write_train_ids)
from .label_tables import (COLOUR_TO_TRAIN_ID, RAW_CODE_TO_TRAIN_ID, codes_to_train_ids,
                           colours_to_train_ids, describe_label_table, label_to_train_ids)

__all__ = [
    'DATASETS', 'MANIFEST', 'DatasetSpec', 'convert_dataset', 'default_output_dir', 'find_pairs',
    'read_splits', 'check_label_grid', 'read_train_ids', 'write_train_ids',
    'compute_class_stats', 'build_class_stats', 'write_class_stats', 'count_classes',
    'read_class_counts', 'class_pixel_totals',
    'RAW_CODE_TO_TRAIN_ID', 'COLOUR_TO_TRAIN_ID', 'codes_to_train_ids', 'colours_to_train_ids',
    'label_to_train_ids', 'describe_label_table',
]
