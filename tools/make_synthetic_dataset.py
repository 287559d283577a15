#!/usr/bin/env python
"""Generate the procedural synthetic Gaofen (2 m) -> Sentinel-2 (10 m) dataset in the RAW layout.

Examples (from the repository root):
    python tools/make_synthetic_dataset.py data/synthetic --seed 0
    python tools/make_synthetic_dataset.py data/synthetic_optics2 --shift optics-2   # a blurrier target
    python tools/make_synthetic_dataset.py data/synthetic_s2 --spectra sentinel2     # calibrated to real L1C
    # the published DASPM layout (image/, label/, 8-bit RGB on the 2 m grid), then its converters:
    python tools/make_synthetic_dataset.py data/synthetic_ref --layout reference
    python tools/convert_datasets/gaofen2m.py data/synthetic_ref/gaofen
    python tools/convert_datasets/sentinel10m.py data/synthetic_ref/sentinel
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from daspm.synthetic import DEFAULT_SPLITS, LAYOUTS, PROFILES, SHIFTS, generate_dataset, parse_splits
    from daspm.utils.errors import exit_on_input_error
except ModuleNotFoundError as err:  # a checkout used before `make setup`
    if err.name != 'daspm':
        raise
    sys.exit('error: daspm is not installed: run `make setup` (or `pip install -e .`)')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description='Write a procedural synthetic Gaofen (source, 2 m RGB) / Sentinel-2 (target, 10 m '
                    'B2,B3,B4,B8) dataset with 2 m RAW labels, splits and a manifest.')
    parser.add_argument('out_dir', type=Path, help='output directory, e.g. data/synthetic')
    parser.add_argument('--seed', type=int, default=0, help='random seed (same seed = identical data)')
    parser.add_argument('--tile-size', type=int, default=320,
                        help='tile side in 2 m pixels; a multiple of 5 (default 320 = 640 m)')
    parser.add_argument('--num-source', type=int, default=24, help='number of Gaofen (source) tiles')
    parser.add_argument('--num-target', type=int, default=24, help='number of Sentinel (target) tiles')
    parser.add_argument('--splits', default=','.join(str(f) for f in DEFAULT_SPLITS),
                        help='train,val,test fractions (default %(default)s)')
    parser.add_argument('--layout', choices=LAYOUTS, default=LAYOUTS[0],
                        help='daspm (default): <domain>/images/, labels/, splits/, Sentinel as 10 m '
                             'uint16 B2,B3,B4,B8; reference: the published DASPM layout, '
                             '<domain>/image/ + label/, both domains 8-bit RGB on the 2 m label grid, '
                             'split files only in sentinel/')
    parser.add_argument('--shift', default='default', metavar='NAME',
                        help='target-domain shift (the source stays the same): default (today\'s rendering) '
                             f'or one of {", ".join(n for n in SHIFTS if n != "default")}; '
                             '<family>:weak|strong also works (see docs/synthetic_dataset.md)')
    parser.add_argument('--spectra', default='default', metavar='PROFILE',
                        help='material spectra and target atmosphere: default (the original rendering), '
                             'sentinel2 (calibrated to real Sentinel-2 L1C, top of atmosphere) or '
                             'sentinel2-l2a (the same as surface reflectance); combines with --shift '
                             f'(choices: {", ".join(PROFILES)}; see docs/synthetic_dataset.md)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a dataset this tool generated earlier in OUT_DIR (only its '
                             'gaofen/ and sentinel/ folders are removed)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


@exit_on_input_error
def main(argv: list[str] | None = None) -> None:
    """Generate the dataset and print where it went and its class shares."""
    args = parse_args(argv)
    start = time.perf_counter()
    manifest = generate_dataset(args.out_dir, seed=args.seed, tile_size=args.tile_size,
                                num_source=args.num_source, num_target=args.num_target,
                                splits=parse_splits(args.splits), overwrite=args.overwrite,
                                progress=not args.quiet, layout=args.layout, shift=args.shift,
                                spectra=args.spectra)
    elapsed = time.perf_counter() - start
    params = manifest['parameters']
    print(f'wrote {args.out_dir} ({args.layout} layout, target shift {params["shift"]}, spectra {params["spectra"]}) '
          f'in {elapsed:.1f} s')
    for domain, spec in manifest['domains'].items():
        shares = ', '.join(f'{name} {100 * s:.1f}%' for name, s in spec['class_shares'].items())
        splits = spec['splits'] or 'none (uses every tile)'
        print(f'  {domain}: {spec["num_tiles"]} tiles, splits {splits}; {shares}')
    print('convert with:')
    for domain, tool in (('gaofen', 'gaofen2m'), ('sentinel', 'sentinel10m')):
        print(f'  python tools/convert_datasets/{tool}.py {args.out_dir / domain}')


if __name__ == '__main__':
    main()
