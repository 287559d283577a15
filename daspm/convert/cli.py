"""The command line shared by ``tools/convert_datasets/*.py``."""
from __future__ import annotations

import argparse
from typing import Sequence

from .class_stats import SAMPLE_CLASS_STATS
from .converter import DATASETS, convert_dataset, default_output_dir
from .label_tables import describe_label_table


def build_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    """Argument parser of one dataset's converter; ``description`` is the tool's docstring."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='label table (raw code -> train id):\n' + describe_label_table())
    parser.add_argument('raw_dir', help='raw dataset folder holding images/ and labels/ '
                                        '(never modified)')
    parser.add_argument('-o', '--out', default=None,
                        help='output folder (default: <raw_dir>_converted beside raw_dir)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--symlink-images', action='store_true',
                        help='symlink images into img_dir/ instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image of a previous conversion in the output folder '
                             '(default: resume, skipping finished images)')
    parser.set_defaults(dataset=dataset)
    return parser


def main(dataset: str, description: str, argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv``, convert, print a one-screen summary; return convert_dataset's result."""
    args = build_parser(dataset, description).parse_args(argv)
    out = args.out if args.out is not None else default_output_dir(args.raw_dir)
    result = convert_dataset(args.raw_dir, out, dataset=dataset, nproc=args.nproc,
                             symlink_images=args.symlink_images, overwrite=args.overwrite,
                             progress=True)
    manifest = result['manifest']
    print(f'{DATASETS[dataset].description}')
    print(f'wrote {result["out_dir"]}: {manifest["num_images"]} images '
          f'({result["converted"]} converted, {result["skipped"]} already done)')
    if manifest['splits']:
        print('splits: ' + ', '.join(f'{k} {v}' for k, v in manifest['splits'].items()))
    else:
        print('splits: none (no splits/*.txt in the input)')
    if 'subpixel_factor' in manifest:
        print(f'labels are {manifest["subpixel_factor"]}x finer than the images')
    total = sum(result['class_pixels'].values())
    print(f'labelled pixels per class ({SAMPLE_CLASS_STATS}):')
    for cid, name in enumerate(manifest['classes']):
        n = result['class_pixels'].get(cid, 0)
        share = 100.0 * n / total if total else 0.0
        print(f'  {cid} {name:<20} {n:>14,d}  {share:5.1f} %')
    return result
