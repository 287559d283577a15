"""The command line of ``tools/convert_datasets/{loveda,whdld,utcd}.py``."""
from __future__ import annotations

import argparse
from typing import Sequence

from daspm.classes import LOVEDA_CLASSES
from daspm.utils.dataset_layout import SAMPLE_CLASS_STATS

from .converter import default_output_dir
from .loveda_family import FAMILY, convert_family, describe_tables, parse_label_map


def build_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    """Argument parser of one dataset's converter; ``description`` is the tool's docstring."""
    spec = FAMILY[dataset]
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=describe_tables(dataset) + '\n\nsee docs/datasets.md')
    parser.add_argument('raw_dir', help=f'raw {dataset} folder (never modified); {spec.layout_help}')
    parser.add_argument('-o', '--out', default=None,
                        help='output folder (default: <raw_dir>_converted beside raw_dir)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--symlink-images', action='store_true',
                        help='symlink images into img_dir/ instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image of a previous conversion in the output folder '
                             '(default: resume, skipping finished images)')
    if len(spec.tables) > 1:
        parser.add_argument('--label-table', choices=list(spec.tables), default=spec.default_table,
                            help='how label values map to the LoveDA train ids (default %(default)s); see below')
    parser.add_argument('--label-map', default=None, metavar='CODE=ID,...',
                        help='extra or changed entries of the label table, e.g. 8=5,10=255 '
                             f'(ID 0..{len(LOVEDA_CLASSES) - 1} or 255 = ignore)')
    if spec.complete_splits:
        parser.add_argument('--val-ratio', type=float, default=0.1,
                            help='share of images in val.txt when the input has no split files (default 0.1)')
        parser.add_argument('--test-ratio', type=float, default=0.2,
                            help='share of images in test.txt when the input has no split files (default 0.2)')
        parser.add_argument('--split-seed', type=int, default=0, help='seed of that random split (default 0)')
    return parser


def main(dataset: str, description: str, argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv``, convert, print a one-screen summary; return convert_family's result."""
    args = build_parser(dataset, description).parse_args(argv)
    spec = FAMILY[dataset]
    out = args.out if args.out is not None else default_output_dir(args.raw_dir)
    split_options = dict(val_ratio=args.val_ratio, test_ratio=args.test_ratio, split_seed=args.split_seed) \
        if spec.complete_splits else {}
    result = convert_family(args.raw_dir, out, dataset=dataset, nproc=args.nproc, symlink_images=args.symlink_images,
                            overwrite=args.overwrite, progress=True,
                            table_name=getattr(args, 'label_table', None), label_map=parse_label_map(args.label_map),
                            **split_options)
    manifest = result['manifest']
    print(spec.description)
    print(f'read {args.raw_dir}: {manifest["raw_layout"]["images"]}/ + {manifest["raw_layout"]["labels"]}/')
    print(f'wrote {result["out_dir"]}: {manifest["num_images"]} images ({result["converted"]} converted, '
          f'{result["skipped"]} already done), images {manifest["image_suffix"]}, labels ann_dir/*.tif')
    print('splits: ' + (', '.join(f'{k} {v}' for k, v in manifest['splits'].items()) or 'none'))
    for note in manifest['notes']:
        print(f'note: {note}')
    print(f'label table: {manifest["label_table"]["name"]}')
    print('configs: ' + ', '.join(spec.configs) + ' (and their source-only / target-oracle twins)')
    total = sum(result['class_pixels'].values())
    print(f'labelled pixels per class ({SAMPLE_CLASS_STATS}):')
    for cid, name in enumerate(manifest['classes']):
        n = result['class_pixels'].get(cid, 0)
        print(f'  {cid} {name:<14} {n:>14,d}  {100.0 * n / total if total else 0.0:5.1f} %')
    return result
