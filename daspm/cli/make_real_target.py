"""``python tools/make_real_target.py``: real Sentinel-2 imagery -> an unlabelled UDA target set.

    python tools/make_real_target.py demo/real_target/s2_b2_b3_b4_b8_10m.tif -o data/real_target
    python tools/make_real_target.py S2B_MSIL2A_....zip -o data/real_target          (a product: offsets applied)
    python tools/make_real_target.py T33TWM_..._B02_10m.jp2 ... --offset -1000 -o data/real_target

INPUT is a multi-band GeoTIFF/VRT (bands B2, B3, B4, B8 found by their descriptions), a Sentinel-2
L1C/L2A product (.SAFE folder or .zip: the metadata's offsets and quantification applied, clouds
left out), a folder of band files or band files (10 m and 20 m; 20 m bands resampled to 10 m).
Writes <out>/img_dir/<name>_rRRRR_cCCCC.tif (uint16 reflectance x 10000, 10 m, 0 = no data),
<out>/train.txt and <out>/daspm_dataset.json; a rerun with the same inputs and options does nothing.
"""
from __future__ import annotations

import argparse

from daspm.utils.errors import exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    from daspm.mapping.real_target import RealTargetOptions
    from daspm.mapping.sentinel2 import DEFAULT_MASK_CLASSES

    defaults = RealTargetOptions()
    parser = argparse.ArgumentParser(description='Cut real Sentinel-2 imagery into an unlabelled UDA target set')
    parser.add_argument('inputs', nargs='+', metavar='INPUT',
                        help='a GeoTIFF/VRT, a Sentinel-2 product (.SAFE or .zip), a folder of band files or band files')
    parser.add_argument('-o', '--out-dir', required=True, help='output folder (e.g. data/real_target)')
    parser.add_argument('--tile-size', type=int, default=defaults.tile_size,
                        help=f'tile side in pixels of the 2 m grid, a multiple of 5 ({defaults.tile_size})')
    parser.add_argument('--stride', type=int, default=defaults.stride,
                        help=f'step between tiles in pixels of the 2 m grid ({defaults.stride}: half overlap)')
    parser.add_argument('--bands', nargs='+', default=list(defaults.bands),
                        help='bands in order, by name or 1-based index (default B2 B3 B4 B8, as the synthetic target)')
    parser.add_argument('--offset', type=float, default=0.0,
                        help='added to the DNs of plain files (-1000 for L1C/L2A band files of processing baseline '
                             '04.00 or later); products apply their own offsets')
    parser.add_argument('--nodata', type=float, help="input value meaning no data (default: the files' own)")
    parser.add_argument('--band-resampling', choices=['nearest', 'bilinear', 'bicubic'], default='bilinear',
                        help='how 20 m band files are brought to 10 m (bilinear)')
    parser.add_argument('--no-mask', action='store_true',
                        help='keep the pixels a product\'s quality mask leaves out (default: scene classification '
                             f'classes {" ".join(map(str, DEFAULT_MASK_CLASSES))} become no data)')
    parser.add_argument('--name', help='tile name prefix (default: the input\'s name)')
    parser.add_argument('--overwrite', action='store_true', help='replace a target set made from other inputs')
    return parser.parse_args(argv)


def _band(value: str) -> str | int:
    return int(value) if value.isdigit() else value


@exit_on_input_error
def main(argv: list[str] | None = None) -> dict:
    """Make the target set and print what it holds and the option that trains on it; returns the manifest."""
    from daspm.mapping.real_target import RealTargetOptions, make_real_target

    args = parse_args(argv)
    opts = RealTargetOptions(tile_size=args.tile_size, stride=args.stride, bands=tuple(_band(b) for b in args.bands),
                             offset=args.offset, nodata=args.nodata, band_resampling=args.band_resampling,
                             mask_classes=() if args.no_mask else RealTargetOptions.mask_classes, name=args.name)
    manifest = make_real_target(args.inputs, args.out_dir, opts, overwrite=args.overwrite)
    if manifest.get('reused'):
        print(f'{args.out_dir}: already holds this target set ({manifest["num_images"]} tiles); '
              '--overwrite makes it again')
    else:
        fmt = manifest['image_format']
        print(f'read {", ".join(map(str, args.inputs))}: {manifest["scene"]["width"]} x '
              f'{manifest["scene"]["height"]} px of {fmt["gsd_m"]:g} m, bands {" ".join(fmt["band_names"])}')
        for note in manifest['notes']:
            print(f'  {note}')
        print(f'wrote {args.out_dir}: {manifest["num_images"]} tiles of {args.tile_size} px on the 2 m grid '
              f'(x{manifest["subpixel_factor"]:g}), stride {args.stride}; {manifest["radiometry"]}')
    print(f'train on it as the UDA target: --cfg-options train_dataloader.dataset.target.data_root={args.out_dir}')
    return manifest


def cli() -> None:
    """Console entry point."""
    main()
