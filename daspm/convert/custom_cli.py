"""The command line of ``tools/convert_datasets/custom.py``: any labelled image folder -> DASPM layout + configs."""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from ..utils.errors import exit_on_input_error
from .custom import DEFAULT_MODEL, DEFAULT_SPLITS, convert_custom, summary_lines
from .custom_config import MODELS

EPILOG = '''classes.json names the classes in train-id order and their mask values, colours or ids:
  {"classes": {"building": "#3C1098", "road": "#6EC1E4"}, "ignore": ["#9B9B9B"]}
  {"classes": {"building": 1, "road": [2, 3]}, "ignore": [0], "palette": {"road": "#FFFF00"}}
A mask value that is neither a class nor ignored stops the conversion with a list of the values,
their pixel counts and files. See docs/custom_data.md.'''


def build_parser(description: str) -> argparse.ArgumentParser:
    """Argument parser of the custom converter; ``description`` is the tool's docstring."""
    parser = argparse.ArgumentParser(description=description, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--images', required=True, help='folder of images (GeoTIFF, PNG, JPEG; sub-folders too)')
    parser.add_argument('--masks', required=True, help='folder of masks, laid out like --images')
    parser.add_argument('--classes', required=True, help='classes.json: class names -> mask values (see below)')
    parser.add_argument('-o', '--out', required=True, help='output folder (new, empty or a previous conversion)')
    parser.add_argument('--image-suffix', help='ending of image names, e.g. _sat.jpg (default: any of .tif '
                                               '.tiff .png .jpg .jpeg)')
    parser.add_argument('--mask-suffix', help='ending of mask names, e.g. _mask.png (default: any of .png .tif '
                                              '.tiff .bmp .gif)')
    parser.add_argument('--allow-unmatched', action='store_true',
                        help='skip images without a mask and masks without an image (default: an error)')
    parser.add_argument('--split-dir', help='folder with train.txt and val.txt and/or test.txt (image paths '
                                            'below --images, suffix optional); default: a deterministic split')
    parser.add_argument('--splits', default=DEFAULT_SPLITS,
                        help='train,val,test shares of the deterministic split (default %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the deterministic split (default 0)')
    parser.add_argument('--target-images', help='unlabelled target images: also convert them and write uda.py')
    parser.add_argument('--target-suffix', help='ending of target image names (default: any image suffix)')
    parser.add_argument('--gsd', type=float, help='pixel size in metres of images without a georeference, and '
                                                  'the output grid (default: median of the georeferenced images)')
    parser.add_argument('--target-gsd', type=float,
                        help='pixel size of target images without a georeference (default: as --gsd)')
    parser.add_argument('--model', choices=list(MODELS), default=DEFAULT_MODEL,
                        help='network and schedule of the configs: daformer_mitb5 = the published recipe with '
                             'ImageNet weights (GPU); daformer_mitb0 = small, from scratch (CPU) (default '
                             '%(default)s)')
    parser.add_argument('--bands', help='1-based bands the model reads, e.g. 1,2,3 (default: all; 1,2,3 with '
                                        'ImageNet weights)')
    parser.add_argument('--crop', type=int, help='training crop side (default: the model\'s, at most the smallest '
                                                 'image side)')
    parser.add_argument('--max-iters', type=int, help='training iterations (default: the model\'s)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes (default 1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='convert everything again (default: resume, skipping finished images)')
    return parser


@exit_on_input_error
def main(description: str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, convert, print a one-screen summary; return convert_custom's result (errors: exit 2)."""
    args = build_parser(description).parse_args(argv)
    result = convert_custom(
        args.images, args.masks, args.classes, args.out, image_suffix=args.image_suffix,
        mask_suffix=args.mask_suffix, target_images=args.target_images, target_suffix=args.target_suffix,
        split_dir=args.split_dir, splits=args.splits, seed=args.seed, allow_unmatched=args.allow_unmatched,
        gsd=args.gsd, target_gsd=args.target_gsd, model=args.model, bands=args.bands, crop=args.crop,
        max_iters=args.max_iters, nproc=args.nproc, overwrite=args.overwrite, progress=True)
    for line in summary_lines(result):
        print(line)
    return result
