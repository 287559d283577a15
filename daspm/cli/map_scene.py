"""``daspm-map`` (= ``python tools/map_scene.py``): Sentinel-2 scenes to land-use maps on the sub-pixel grid.

One scene, one map (INPUTs = the scene: a product, a raster, a folder of band files or band files):

    daspm-map INPUT [INPUT ...] CONFIG CHECKPOINT --out map.tif

Many scenes, one map each in a folder (each INPUT, and each line of --list, is a scene):

    daspm-map SCENE [SCENE ...] CONFIG CHECKPOINT --out-dir maps/
    daspm-map --list scenes.txt CONFIG CHECKPOINT --out-dir maps/
    torchrun --nproc-per-node 4 tools/map_scene.py --list scenes.txt CONFIG CHECKPOINT --out-dir maps/

A scene is a Sentinel-2 L1C/L2A product (.SAFE folder or its .zip: bands at native resolution,
the product's offsets applied, clouds masked), a multi-band GeoTIFF/VRT, a folder of band files
or (with --out) several band files. Bands, scaling and the output grid come from the config's test
pipeline (LoadGeoTiff, SubPixelResample). Maps are Cloud Optimized GeoTIFFs written window by
window (bounded memory) to temporary files renamed when complete; a JSON sidecar (map.json)
records input, config, checkpoint, shares and timings. With --out-dir a rerun skips scenes whose
map exists, and under torchrun the processes share the scenes (RANK / WORLD_SIZE).

Several dates of one tile, one map (--composite; docs/composites_and_stac.md), and STAC items
(--stac: NAME.stac.json per map, with --out-dir a collection.json of the folder):

    daspm-map DATE1 DATE2 [DATE ...] CONFIG CHECKPOINT --composite --out map.tif --stac
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from daspm.utils.errors import exit_on_input_error

_SIDE_OUTPUTS = ('confidence', 'probabilities', 'uncertainty', 'quicklook')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    from mmengine.config import DictAction

    from daspm.mapping.sentinel2 import DEFAULT_MASK_CLASSES, SCL_CLASSES

    parser = argparse.ArgumentParser(
        description='Map Sentinel-2 scenes with a DASPM model (sliding windows, blended, bounded memory)',
        epilog='one scene: INPUT [INPUT ...] CONFIG CHECKPOINT --out map.tif; many scenes: SCENE [SCENE ...] '
               'CONFIG CHECKPOINT --out-dir DIR, or --list scenes.txt CONFIG CHECKPOINT --out-dir DIR')
    parser.add_argument('inputs', nargs='*', metavar='INPUT',
                        help='with --out: the scene (a Sentinel-2 .SAFE folder or .zip, a GeoTIFF/VRT, a folder of '
                             'band files, or band files); with --out-dir: one scene per INPUT')
    parser.add_argument('config', help='config of the model (e.g. config.py of a run directory)')
    parser.add_argument('checkpoint', help='checkpoint (iter_N.pth)')
    out = parser.add_mutually_exclusive_group()
    out.add_argument('--out', help='class map (Cloud Optimized GeoTIFF) of one scene')
    out.add_argument('--out-dir', help='folder for one map per scene (NAME.tif, NAME.json, ...); finished maps '
                                       'are skipped on a rerun')
    parser.add_argument('--list', metavar='FILE', help='text file of scenes, one path per line (with --out-dir)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs (and remap finished '
                                                                 'scenes with --out-dir)')
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
    parser.add_argument('--workers', type=int, default=None,
                        help='batches in flight at once, each on one thread (default: on the CPU one per torch '
                             'thread, on a GPU 1)')
    parser.add_argument('--device', default=None, help='cuda, cuda:1 or cpu (default: cuda when available; under '
                                                       'torchrun cuda:LOCAL_RANK)')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], help='autocast dtype (fp16 only on a GPU)')
    side = 'with --out a PATH; with --out-dir no PATH (NAME_{0}.tif)'
    parser.add_argument('--confidence', nargs='?', const=True, metavar='PATH',
                        help='also write the max softmax probability; ' + side.format('confidence'))
    parser.add_argument('--confidence-dtype', choices=['uint8', 'float32'], default='uint8',
                        help='uint8 = probability x 255 (default), float32 = probability; 0 = nodata')
    parser.add_argument('--probabilities', nargs='?', const=True, metavar='PATH',
                        help='also write one band per class (probability x 254, 255 = nodata, band descriptions '
                             '= class names); ' + side.format('probabilities'))
    parser.add_argument('--uncertainty', nargs='?', const=True, metavar='PATH',
                        help='also write the normalised entropy of the probabilities (x 254, 255 = nodata); '
                             + side.format('uncertainty'))
    parser.add_argument('--quicklook', nargs='?', const=True, metavar='PATH',
                        help='also write a downsampled coloured PNG with a legend; with --out a PATH, with '
                             '--out-dir no PATH (NAME.png)')
    parser.add_argument('--overviews', action='store_true',
                        help='kept for compatibility: maps are COGs with internal overviews (mode) anyway')
    parser.add_argument('--nodata', type=float, help='input value meaning "no data", nan for NaN (default: the '
                                                     'files\' own; 0 for Sentinel-2 products); NaN and Inf input '
                                                     'pixels are nodata anyway (counted in the JSON record)')
    parser.add_argument('--band-resampling', choices=['nearest', 'bilinear', 'bicubic'], default='bilinear',
                        help='how 20 m / 60 m band files are brought to the 10 m grid (bilinear)')
    mask = parser.add_mutually_exclusive_group()
    mask.add_argument('--mask-classes', nargs='+', type=int, default=list(DEFAULT_MASK_CLASSES), metavar='CLASS',
                      help='Sentinel-2 scene classification (SCL) classes that become nodata in the map (default '
                           f'{" ".join(map(str, DEFAULT_MASK_CLASSES))}: '
                           + ', '.join(f'{c} {SCL_CLASSES[c]}' for c in DEFAULT_MASK_CLASSES)
                           + '); for L1C the cloud-mask layers of classes 8/9 (opaque clouds), 10 (cirrus), '
                             '11 (snow)')
    mask.add_argument('--no-mask', action='store_true', help="apply no quality mask of the product")
    parser.add_argument('--composite', action='store_true',
                        help='INPUTs are dates (products or band folders) of one tile: one map of the class '
                             'probabilities of the dates clear at each pixel, and NAME_count.tif (clear dates per '
                             'pixel); with --out')
    parser.add_argument('--composite-rule', choices=['mean', 'confidence'], default='mean',
                        help='how the clear dates combine: mean of their probabilities (default) or weighted by '
                             'their confidence')
    parser.add_argument('--stac', action='store_true',
                        help='also write a STAC item per map (NAME.stac.json); with --out-dir also collection.json')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def _check_modes(args: argparse.Namespace) -> None:
    """One scene with --out, many with --out-dir; side outputs with a path only for --out."""
    from daspm.mapping.sentinel2 import is_product
    from daspm.utils.errors import DaspmInputError

    if not args.out and not args.out_dir:
        raise DaspmInputError('give --out map.tif (one scene) or --out-dir DIR (one map per scene)')
    if args.list and not args.out_dir:
        raise DaspmInputError('--list maps many scenes: give --out-dir DIR instead of --out')
    if not args.inputs and not args.list:
        raise DaspmInputError('no input given: pass INPUT [INPUT ...] CONFIG CHECKPOINT, or --list scenes.txt')
    for name in _SIDE_OUTPUTS:
        value = getattr(args, name)
        if args.out and value is True:
            raise DaspmInputError(f'--{name} needs a file name with --out (e.g. --{name} {name}.tif)')
        if args.out_dir and value not in (None, True):
            raise DaspmInputError(f'--{name} takes no file name with --out-dir: each scene gets its own '
                                  f'(NAME_{name}.tif); drop {value}')
    if args.composite and not args.out:
        raise DaspmInputError('--composite makes one map of several dates: give --out map.tif (not --out-dir)')
    if args.composite and len(args.inputs) < 2:
        raise DaspmInputError('--composite combines several dates: give two or more products (or band folders) '
                              'of one tile')
    if args.stac:
        from daspm.mapping.stac import check_writable
        check_writable(Path(args.out).parent if args.out else Path(args.out_dir))
    if args.out and len(args.inputs) > 1 and not args.composite:
        products = [p for p in args.inputs if Path(p).exists() and (is_product(Path(p)) or Path(p).is_dir())]
        if products:
            raise DaspmInputError(f'several INPUTs with --out are the band files of one scene, but {products[0]} is '
                                  'a product or folder; to map several scenes give --out-dir DIR (one map each)')


def _device(requested: str | None, local_rank: int, world: int) -> str:
    import torch

    from daspm.mapping.mapper import default_device

    device = requested or default_device()
    if world > 1 and device == 'cuda' and torch.cuda.is_available():
        device = f'cuda:{local_rank % torch.cuda.device_count()}'   # one GPU per process
    return device


def _check_device(device: str, amp: str | None) -> None:
    import torch

    from daspm.utils.errors import DaspmInputError

    if device.startswith('cuda') and not torch.cuda.is_available():
        raise DaspmInputError(f'--device {device}: no GPU is visible; use --device cpu')
    if amp == 'fp16' and not device.startswith('cuda'):
        raise DaspmInputError('--amp fp16 needs a GPU; on the CPU use --amp bf16 or no --amp')


def _mapping_options(args: argparse.Namespace, device: str) -> dict:
    """Keyword arguments of map_scene_to_files shared by both modes."""
    from daspm.mapping.mapper import default_batch_size

    return dict(confidence_dtype=args.confidence_dtype, bbox=args.bbox, window=args.window, nodata=args.nodata,
                band_resampling=args.band_resampling, mask_classes=[] if args.no_mask else args.mask_classes,
                window_size=args.window_size, overlap=args.overlap, workers=args.workers,
                batch_size=args.batch_size or default_batch_size(device), amp=args.amp, progress=not args.no_progress,
                tags={'CONFIG': str(args.config), 'CHECKPOINT': str(args.checkpoint)},
                info={'config': str(args.config), 'checkpoint': str(args.checkpoint), 'device': device})


@exit_on_input_error
def main(argv: list[str] | None = None):
    """Map one scene (--out; returns the MappingResult) or many (--out-dir; returns the SceneReports)."""
    args = parse_args(argv)
    _check_modes(args)
    if args.out_dir:
        return _map_many(args)
    if args.composite:
        return _map_composite(args)
    return _map_one(args)


def _map_one(args: argparse.Namespace):
    """One scene: outputs checked, scene opened and planned once (shown before the model loads), then mapped."""
    from daspm.apis.config_loading import load_config
    from daspm.apis.inference import init_segmentor
    from daspm.mapping.inputs import open_scene
    from daspm.mapping.mapper import describe, map_plan_to_files, prepare_outputs, sidecar_path
    from daspm.mapping.plan import MapOptions, OutputPaths, plan_scene
    from daspm.mapping.spec import input_spec_from_config

    device = _device(args.device, 0, 1)
    _check_device(device, args.amp)
    paths = OutputPaths.of(args.out, args.confidence, args.probabilities, args.uncertainty, args.quicklook)
    prepare_outputs(paths.finals.values(), paths.quicklook, sidecar_path(paths.map), args.overwrite)
    cfg = load_config(args.config, args.cfg_options)
    spec = input_spec_from_config(cfg)
    opts = MapOptions(**_mapping_options(args, device), overwrite=args.overwrite)
    opts.check()
    # the input is checked before time is spent on the model
    with open_scene(args.inputs, spec, nodata=opts.nodata, band_resampling=opts.band_resampling,
                    mask_classes=opts.mask_classes) as source:
        plan = plan_scene(source, spec, bbox=opts.bbox, window=opts.window)
        print(plan.describe(), flush=True)
        for note in source.notes:
            print(f'  {note}', flush=True)
        model = init_segmentor(cfg, args.checkpoint, device=device)
        result = map_plan_to_files(plan, args.inputs, model, spec, paths, opts)
    print(describe(result))
    _write_stac(args, args.out, result.outputs)
    return result


def _map_composite(args: argparse.Namespace):
    """Several dates of one tile to one map: outputs checked, dates opened, checked and planned once, then mapped."""
    import contextlib

    from daspm.apis.config_loading import load_config
    from daspm.apis.inference import init_segmentor
    from daspm.mapping.composite import composite_paths, composite_plan_to_files, open_dates
    from daspm.mapping.mapper import describe, prepare_outputs, sidecar_path
    from daspm.mapping.plan import MapOptions, plan_scene
    from daspm.mapping.spec import input_spec_from_config

    device = _device(args.device, 0, 1)
    _check_device(device, args.amp)
    paths = composite_paths(args.out, args.confidence, args.probabilities, args.uncertainty, args.quicklook)
    prepare_outputs(paths.finals.values(), paths.quicklook, sidecar_path(paths.map), args.overwrite)
    cfg = load_config(args.config, args.cfg_options)
    spec = input_spec_from_config(cfg)
    options = _mapping_options(args, device)
    options.pop('workers')  # one window at a time; --batch-size is the dates of a window per forward pass
    opts = MapOptions(**options, overwrite=args.overwrite)
    with contextlib.ExitStack() as stack:
        # the dates are checked before time is spent on the model
        sources = open_dates(args.inputs, spec, stack, nodata=opts.nodata, band_resampling=opts.band_resampling,
                             mask_classes=opts.mask_classes)
        print(f'{len(sources)} dates of {sources[0].width}x{sources[0].height} px, bands {sources[0].band_names}',
              flush=True)
        plan = plan_scene(sources[0], spec, bbox=opts.bbox, window=opts.window)
        model = init_segmentor(cfg, args.checkpoint, device=device)
        result = composite_plan_to_files(sources, plan, args.inputs, model, spec, paths, opts, args.composite_rule)
    print('\n'.join(result.notes))
    print(describe(result))
    _write_stac(args, args.out, result.outputs)
    return result


def _write_stac(args: argparse.Namespace, map_path, outputs: dict, in_collection: bool = False) -> None:
    """With --stac: the map's STAC item (and, for --out-dir, the folder's collection), written last."""
    if args.stac:
        from daspm.mapping.stac import write_stac
        for path in write_stac(map_path, outputs, in_collection=in_collection):
            print(f'stac: {path}', flush=True)


def _map_many(args: argparse.Namespace):
    from daspm.apis.config_loading import load_config
    from daspm.apis.inference import init_segmentor
    from daspm.mapping.batch import (SceneReport, distributed_rank, plan_jobs, read_scene_list,
                                        report_from_sidecar, share, summary_table, write_summary)
    from daspm.mapping.mapper import map_scene_to_files, sidecar_path
    from daspm.mapping.predictor import as_predictor
    from daspm.mapping.stac import stac_path
    from daspm.mapping.spec import input_spec_from_config
    from daspm.utils.errors import DaspmInputError, user_message

    rank, world, local = distributed_rank()
    device = _device(args.device, local, world)
    _check_device(device, args.amp)
    scenes = [Path(p) for p in args.inputs] + (read_scene_list(args.list) if args.list else [])
    for scene in scenes:
        if not scene.exists():
            raise DaspmInputError(f'{scene}: file not found; check the path')
    jobs = plan_jobs(scenes, args.out_dir, [n for n in _SIDE_OUTPUTS if getattr(args, n)])
    mine = share(jobs, rank, world)
    cfg = load_config(args.config, args.cfg_options)
    spec = input_spec_from_config(cfg)
    options = _mapping_options(args, device)
    todo = [job for job in mine if args.overwrite or not job.map.exists()]
    who = f'[rank {rank}/{world}] ' if world > 1 else ''
    print(f'{who}{len(jobs)} scenes, {len(mine)} for this process on {device}: {len(todo)} to map, '
          f'{len(mine) - len(todo)} already mapped', flush=True)
    # one inference copy of the model for all scenes (map_scene_to_files would make one per scene)
    model = as_predictor(init_segmentor(cfg, args.checkpoint, device=device)) if todo else None
    reports, failures = [], {}
    for job in mine:
        if job not in todo:
            reports.append(report_from_sidecar(job, 'skipped'))
            # mapped by a run without --stac: its item comes from the sidecar
            if args.stac and not stac_path(job.map).exists() and sidecar_path(job.map).exists():
                _write_stac(args, job.map, {**job.outputs, 'sidecar': sidecar_path(job.map)}, in_collection=True)
            continue
        print(f'{who}{job.name} <- {job.input}', flush=True)
        try:
            # an unfinished scene's leftovers (side outputs renamed before a crash) are replaced
            result = map_scene_to_files(
                [job.input], model, spec, job.map, confidence=job.outputs.get('confidence'),
                probabilities=job.outputs.get('probabilities'), uncertainty=job.outputs.get('uncertainty'),
                quicklook=job.outputs.get('quicklook'), overwrite=True, **options)
        except DaspmInputError as err:
            failures[job.name] = user_message(err)
            print(f'{who}error: {failures[job.name]}', file=sys.stderr, flush=True)
            reports.append(SceneReport(job.name, 'failed', message=failures[job.name]))
            continue
        for note in result.notes:
            print(f'  {note}', flush=True)
        _write_stac(args, job.map, result.outputs, in_collection=True)
        reports.append(SceneReport(job.name, 'mapped', seconds=result.timings.get('total', result.seconds),
                                   valid_share=result.valid_share, masked_share=result.masked_share,
                                   outputs=dict(result.outputs)))
    print(f'{who}summary' + (f' of this process ({len(mine)} of {len(jobs)} scenes)' if world > 1 else ''))
    print(summary_table(reports))
    summary = write_summary(jobs, args.out_dir, failures)
    print(f'{who}all scenes so far: {summary}', flush=True)
    if failures:
        raise DaspmInputError(f'{len(failures)} of {len(mine)} scenes failed ({", ".join(failures)}); '
                              'fix them as said above and rerun: finished maps are skipped')
    return reports


def cli() -> None:
    """Console script ``daspm-map``."""
    main()
