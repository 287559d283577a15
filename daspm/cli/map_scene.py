"""``daspm-map`` (= ``python tools/map_scene.py``): a whole Sentinel-2 scene to a land-use GeoTIFF.

The map is georeferenced and lies on the sub-pixel grid.

    daspm-map INPUT [INPUT ...] CONFIG CHECKPOINT --out map.tif

INPUT is a multi-band GeoTIFF/VRT, a directory holding one file per band (e.g. a Sentinel-2
product: *_B04_10m.jp2, *_B11_20m.jp2), or several band files. Bands, scaling and the output
grid come from the config's test pipeline (LoadGeoTiff, SubPixelResample). The map is written
window by window (bounded memory) to a temporary file that is renamed when complete.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from daspm.utils.errors import exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Map a whole scene with a DASPM model (sliding windows, blended, bounded memory)')
    parser.add_argument('inputs', nargs='+', metavar='INPUT',
                        help='multi-band GeoTIFF/VRT, a directory of band files, or band files')
    parser.add_argument('config', help='config of the model (e.g. config.py of a run directory)')
    parser.add_argument('checkpoint', help='checkpoint (iter_N.pth)')
    parser.add_argument('--out', required=True, help='class map GeoTIFF to write')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    aoi = parser.add_mutually_exclusive_group()
    aoi.add_argument('--bbox', nargs=4, type=float, metavar=('MINX', 'MINY', 'MAXX', 'MAXY'),
                     help='area of interest in the CRS of the input (snapped outwards to input pixels)')
    aoi.add_argument('--window', nargs=4, type=int, metavar=('COL_OFF', 'ROW_OFF', 'WIDTH', 'HEIGHT'),
                     help='area of interest in input pixels')
    parser.add_argument('--window-size', type=int, default=512, help='window side in output pixels (512)')
    parser.add_argument('--overlap', type=int, default=128, help='minimum window overlap in output pixels (128)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='windows per forward pass (default: 4 on a GPU, 1 on the CPU, where batching '
                             'measured slower: benchmarks/scene_throughput.py)')
    parser.add_argument('--device', default=None, help='cuda, cuda:1 or cpu (default: cuda when available)')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], help='autocast dtype (fp16 only on a GPU)')
    parser.add_argument('--confidence', help='also write the max softmax probability as a GeoTIFF')
    parser.add_argument('--confidence-dtype', choices=['uint8', 'float32'], default='uint8',
                        help='uint8 = probability x 255 (default), float32 = probability; 0 = nodata')
    parser.add_argument('--quicklook', help='also write a downsampled coloured PNG with a legend')
    parser.add_argument('--overviews', action='store_true', help='build internal overviews (mode) for GIS viewing')
    parser.add_argument('--nodata', type=float, help='input value meaning "no data" (default: the files\' own)')
    parser.add_argument('--band-resampling', choices=['nearest', 'bilinear', 'bicubic'], default='bilinear',
                        help='how 20 m / 60 m band files are brought to the 10 m grid (bilinear)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


@exit_on_input_error
def main(argv: list[str] | None = None):
    """Check inputs and outputs, load the model, map the scene; returns the MappingResult."""
    import torch

    from daspm.apis.config_loading import load_config
    from daspm.apis.inference import init_segmentor
    from daspm.apis.scene.grid import output_grid, resolve_aoi
    from daspm.apis.scene.inputs import open_scene
    from daspm.apis.scene.mapper import (check_outputs, default_batch_size, default_device, describe,
                                         map_scene_to_files)
    from daspm.apis.scene.spec import input_spec_from_config
    from daspm.utils.errors import DaspmInputError

    args = parse_args(argv)
    device = args.device or default_device()
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise DaspmInputError(f'--device {device}: no GPU is visible; use --device cpu')
    if args.amp == 'fp16' and not device.startswith('cuda'):
        raise DaspmInputError('--amp fp16 needs a GPU; on the CPU use --amp bf16 or no --amp')
    check_outputs([Path(args.out), args.confidence and Path(args.confidence),
                   args.quicklook and Path(args.quicklook)], args.overwrite)
    cfg = load_config(args.config, args.cfg_options)
    spec = input_spec_from_config(cfg)
    # check the input before spending time on the model
    with open_scene(args.inputs, spec, nodata=args.nodata, band_resampling=args.band_resampling) as source:
        aoi = resolve_aoi(source, bbox=args.bbox, window=args.window)
        grid = output_grid(source, aoi, spec.factor(source.gsd(spec.loader.nominal_gsd)))
        print(f'{source.label}: {source.width}x{source.height} px, bands {source.band_names} -> '
              f'{grid.width}x{grid.height} px map (x{grid.factor:g})', flush=True)
    model = init_segmentor(cfg, args.checkpoint, device=device)
    result = map_scene_to_files(
        args.inputs, model, spec, args.out, confidence=args.confidence, confidence_dtype=args.confidence_dtype,
        quicklook=args.quicklook, overwrite=args.overwrite, bbox=args.bbox, window=args.window,
        nodata=args.nodata, band_resampling=args.band_resampling, window_size=args.window_size,
        overlap=args.overlap, batch_size=args.batch_size or default_batch_size(device), amp=args.amp,
        overviews=args.overviews,
        progress=not args.no_progress,
        tags={'CONFIG': str(args.config), 'CHECKPOINT': str(args.checkpoint)})
    print(describe(result))
    return result


def cli() -> None:
    """Console script ``daspm-map``."""
    main()
