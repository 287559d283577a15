"""Dataset converters: raw images + raw-coded labels -> mmseg layout with train ids and RCS statistics.

One driver (``pipeline.convert``) runs every format through its adapter (``formats/``); output
handling lives in ``outputs``, jobs are typed records (``jobs``); ``daspm-convert`` (``cli``) is
the command line. Light on imports (numpy, rasterio, tqdm only) so the tools run without mmseg/mmcv.
"""
from .class_stats import (build_class_stats, class_pixel_totals, compute_class_stats,
                          count_classes, read_class_counts, write_class_stats)
from .formats import FORMATS
from .formats.gaofen_sentinel import (check_label_grid, common_image_format, find_pairs, find_raw_dirs,
                                      read_image_format, read_splits, read_train_ids, split_file,
                                      write_train_ids)
from .jobs import ConvertOptions
from .label_tables import (COLOUR_TO_TRAIN_ID, DEFAULT_LABEL_TABLE, LABEL_TABLES,
                           RAW_CODE_TO_TRAIN_ID, codes_to_train_ids, colours_to_train_ids,
                           describe_label_table, get_label_table, label_to_train_ids)
from .outputs import default_output_dir
from .pipeline import convert, convert_dataset
from .report import MATCHING_CONFIGS, config_lines, describe_image_format, matching_config

__all__ = [
    'FORMATS', 'ConvertOptions', 'convert', 'convert_dataset', 'default_output_dir',
    'find_pairs', 'find_raw_dirs', 'split_file', 'read_splits', 'check_label_grid',
    'read_image_format', 'common_image_format', 'read_train_ids', 'write_train_ids',
    'compute_class_stats', 'build_class_stats', 'write_class_stats', 'count_classes',
    'read_class_counts', 'class_pixel_totals',
    'DEFAULT_LABEL_TABLE', 'LABEL_TABLES', 'RAW_CODE_TO_TRAIN_ID', 'COLOUR_TO_TRAIN_ID',
    'get_label_table', 'codes_to_train_ids', 'colours_to_train_ids', 'label_to_train_ids',
    'describe_label_table', 'MATCHING_CONFIGS', 'matching_config', 'describe_image_format',
    'config_lines',
]
