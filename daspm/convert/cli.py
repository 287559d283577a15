"""The command line shared by ``tools/convert_datasets/*.py``."""
from __future__ import annotations

import argparse
from typing import Sequence

from ..utils.dataset_layout import SAMPLE_CLASS_STATS
from .converter import DATASETS, convert_dataset, default_output_dir
from .label_tables import DEFAULT_LABEL_TABLE, LABEL_TABLES, describe_label_table
from .report import config_lines


def _epilog() -> str:
    """Both label tables, the default first."""
    others = [t for t in LABEL_TABLES if t != DEFAULT_LABEL_TABLE]
    parts = [f'label table {DEFAULT_LABEL_TABLE} (default; raw code -> train id):\n'
             + describe_label_table(DEFAULT_LABEL_TABLE)]
    parts += [f'label table {t} (--label-table {t}):\n' + describe_label_table(t) for t in others]
    return '\n\n'.join(parts) + '\n\nsee docs/datasets.md for why there are two tables.'


def build_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    """Argument parser of one dataset's converter; ``description`` is the tool's docstring."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_epilog())
    parser.add_argument('raw_dir', help='raw dataset folder holding image/ + label/ (published '
                                        'layout) or images/ + labels/ (never modified)')
    parser.add_argument('-o', '--out', default=None,
                        help='output folder (default: <raw_dir>_converted beside raw_dir)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--symlink-images', action='store_true',
                        help='symlink images into img_dir/ instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image of a previous conversion in the output folder '
                             '(default: resume, skipping finished images)')
    parser.add_argument('--label-table', choices=list(LABEL_TABLES), default=DEFAULT_LABEL_TABLE,
                        help='how raw codes map to train ids (default %(default)s: 0 = '
                             'unlabelled/Others -> ignore, 1..5 -> 0..4; five-classes: '
                             '0..4 -> 0..4, 5 -> ignore); see below')
    parser.set_defaults(dataset=dataset)
    return parser


def main(dataset: str, description: str, argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv``, convert, print a one-screen summary; return convert_dataset's result."""
    args = build_parser(dataset, description).parse_args(argv)
    out = args.out if args.out is not None else default_output_dir(args.raw_dir)
    result = convert_dataset(args.raw_dir, out, dataset=dataset, nproc=args.nproc,
                             symlink_images=args.symlink_images, overwrite=args.overwrite,
                             progress=True, label_table=args.label_table)
    manifest = result['manifest']
    layout = manifest['raw_layout']
    print(f'{DATASETS[dataset].description}')
    print(f'read {args.raw_dir}: {layout["images"]}/ + {layout["labels"]}/')
    print(f'wrote {result["out_dir"]}: {manifest["num_images"]} images '
          f'({result["converted"]} converted, {result["skipped"]} already done)')
    if manifest['splits']:
        print('splits: ' + ', '.join(f'{k} {v} ({layout["splits"][k]})'
                                     for k, v in manifest['splits'].items()))
    else:
        print('splits: none (no train/val/test.txt in the input): the datasets use every image')
    print(f'label table: {manifest["label_table"]["name"]}')
    for line in config_lines(dataset, manifest['image_format']):
        print(line)
    total = sum(result['class_pixels'].values())
    print(f'labelled pixels per class ({SAMPLE_CLASS_STATS}):')
    for cid, name in enumerate(manifest['classes']):
        n = result['class_pixels'].get(cid, 0)
        share = 100.0 * n / total if total else 0.0
        print(f'  {cid} {name:<20} {n:>14,d}  {share:5.1f} %')
    return result
