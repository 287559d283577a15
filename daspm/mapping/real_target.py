"""Real Sentinel-2 imagery -> an unlabelled target set in the converted layout the UDA configs read.

    make_real_target(inputs, out_dir, options)
      open_scene          (inputs.py: a product harmonised by its metadata, band files at 10/20 m
                           on the finest band's grid, or a multi-band raster, bands picked by name)
      -> tile_origins     (overlapping tiles of whole input pixels, sides counted on the 2 m grid)
      -> read_tile        (read_scaled: DN + offset -> reflectance x 10000 as uint16, 0 = no data)
      -> write            <out>/img_dir/<name>_rRRRR_cCCCC.tif, <out>/train.txt, daspm_dataset.json

The tiles keep the input's 10 m pixels, exactly as the synthetic Sentinel target stores its
tiles: the configs' LoadGeoTiff (B4/B3/B2 by band name, / 3000) and SubPixelResample (x5,
bicubic) put both on the 2 m grid at load time, with one scale. There is no ann_dir/: the
datasets read such a set as images only (the UDA target), never for validation or testing.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..datasets.transforms.subpixel import subpixel_factor
from ..utils.dataset_layout import IMG_DIR, MANIFEST
from ..utils.errors import DaspmInputError
from ..utils.raster import atomic_output, write_geotiff
from .inputs import SceneSource, open_scene
from .resample import read_scaled
from .sentinel2 import DEFAULT_MASK_CLASSES, TARGET_QUANTIFICATION, product_name
from .spec import InputSpec, input_spec

GENERATOR = 'daspm.mapping.real_target'
TARGET_BANDS: tuple[str, ...] = ('B2', 'B3', 'B4', 'B8')   # the synthetic target's bands, in its order
NODATA_DN = 0          # Sentinel-2's NODATA value; valid pixels are clipped to 1.. so that none becomes it
MAX_DN = 65534         # 65535 is Sentinel-2's SATURATED value
SPLIT_FILE = 'train.txt'
_BAND_SUFFIX = re.compile(r'[_-]B\d{1,2}A?(?:_\d{2}m)?$', re.IGNORECASE)


@dataclass(frozen=True)
class RealTargetOptions:
    """How the target set is cut and scaled (sides and steps in pixels of the ``out_gsd`` grid)."""

    tile_size: int = 320          # the synthetic target's tile side on the 2 m grid
    stride: int = 160             # half a tile: neighbouring tiles overlap by half
    out_gsd: float = 2.0
    bands: tuple[str | int, ...] = TARGET_BANDS
    offset: float = 0.0           # added to plain files' DNs (-1000: baseline >= 04.00 band files without metadata)
    nodata: float | None = None   # input value meaning no data (default: the files' own, 0 for products)
    band_resampling: str = 'bilinear'
    mask_classes: tuple[int, ...] = DEFAULT_MASK_CLASSES   # a product's clouds, shadows, snow -> no data
    name: str | None = None       # tile name prefix (default: from the input)

    def check(self) -> None:
        """Refuse sizes that cannot tile (one line naming the option)."""
        if self.tile_size <= 0 or self.stride <= 0:
            raise DaspmInputError(f'--tile-size {self.tile_size} / --stride {self.stride}: both must be positive')
        if self.stride > self.tile_size:
            raise DaspmInputError(f'--stride {self.stride} is larger than --tile-size {self.tile_size}: tiles would '
                                  'leave gaps; use a stride of at most the tile size')


def tile_origins(length: int, tile: int, stride: int) -> list[int]:
    """Offsets of tiles of ``tile`` pixels along an axis of ``length``, at most ``stride`` apart, the last flush
    with the end (a side shorter than a tile gives one tile, cut to the side)."""
    if length <= tile:
        return [0]
    count = -(-(length - tile) // stride) + 1
    return sorted({round(i * (length - tile) / (count - 1)) for i in range(count)})


def input_name(inputs: Sequence[str | Path]) -> str:
    """A name for the tiles: the product's name, or the file / folder name without suffix."""
    first = Path(inputs[0])
    if first.suffix.lower() == '.zip' or first.name.endswith('.SAFE'):
        return product_name(first)
    # one of several band files: T33TWM_20230801T100031_B02_10m -> T33TWM_20230801T100031
    if len(inputs) > 1:
        return _BAND_SUFFIX.sub('', first.stem) or first.stem
    return first.stem


def tile_pixels(source: SceneSource, opts: RealTargetOptions) -> tuple[int, int, float]:
    """(tile, stride) in input pixels and the input's factor to the output grid; both must be whole input pixels."""
    factor = subpixel_factor(source.gsd(), opts.out_gsd)
    if factor != int(factor):
        raise DaspmInputError(f'{source.label}: pixel size {source.gsd():g} m is no whole multiple of the '
                              f'{opts.out_gsd:g} m output grid; give 10 m or 20 m Sentinel-2 bands')
    k = int(factor)
    for option, value in (('--tile-size', opts.tile_size), ('--stride', opts.stride)):
        if value % k:
            raise DaspmInputError(f'{option} {value}: must be a multiple of {k}, since one {source.gsd():g} m input '
                                  f'pixel covers {k} x {k} pixels of the {opts.out_gsd:g} m grid')
    return opts.tile_size // k, opts.stride // k, factor


def read_tile(source: SceneSource, window: Window, offset_spec: InputSpec) -> np.ndarray:
    """(bands, h, w) uint16 reflectance x 10000 of ``window``: a product's offsets or ``offset_spec``'s applied,
    no data (and a quality mask's clouds) as 0, valid pixels clipped to 1..65534."""
    img, nodata, _ = read_scaled(source, window, offset_spec)
    excluded = source.read_exclusion(window)
    if excluded is not None:
        nodata = nodata | excluded
    valid = img[:, ~nodata]
    if source.dtype.startswith('float') and valid.size and float(valid.max()) <= 2.0:
        raise DaspmInputError(f'{source.label}: values are at most {float(valid.max()):g}, reflectance in 0..1; '
                              'the target set takes DN = reflectance x 10000: multiply the bands by 10000 first')
    tile = np.clip(np.rint(img), 1, MAX_DN).astype(np.uint16)
    tile[:, nodata] = NODATA_DN
    return tile


def _window_transform(transform: Affine, window: Window) -> Affine:
    return transform @ Affine.translation(window.col_off, window.row_off)


def prepare_out_dir(out_dir: Path, inputs_record: dict[str, Any], overwrite: bool) -> dict | None:
    """The manifest of an identical finished set in ``out_dir`` (nothing to do), else None once the folder may be
    written: a set of this generator is replaced only with ``overwrite``, any other content never."""
    manifest_path = out_dir / MANIFEST
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise DaspmInputError(f'{out_dir}: exists and is not a folder; choose another output folder')
    if not manifest_path.is_file():
        if any(out_dir.iterdir()):
            raise DaspmInputError(f'{out_dir}: not empty and not a target set of this tool (no {MANIFEST}); '
                                  'choose a new or empty output folder')
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding='utf-8'))
    except ValueError:
        manifest = {}
    if manifest.get('generator') != GENERATOR:
        raise DaspmInputError(f'{manifest_path}: not written by tools/make_real_target.py; the folder is left '
                              'untouched: choose another output folder')
    complete = manifest.get('status') == 'complete'
    if complete and manifest.get('request') == inputs_record and not overwrite:
        return manifest
    if complete and not overwrite:   # an interrupted set is simply made again
        raise DaspmInputError(f'{out_dir}: holds a target set made from other inputs or options; pass --overwrite '
                              'to replace it, or choose another output folder')
    shutil.rmtree(out_dir / IMG_DIR, ignore_errors=True)
    for name in (SPLIT_FILE, MANIFEST):
        (out_dir / name).unlink(missing_ok=True)
    return None


def make_real_target(inputs: Sequence[str | Path], out_dir: str | Path, opts: RealTargetOptions = RealTargetOptions(),
                     overwrite: bool = False) -> dict[str, Any]:
    """Cut the scene of ``inputs`` into overlapping target tiles in ``out_dir``; return the manifest written."""
    opts.check()
    out_dir = Path(out_dir)
    request = dict(inputs=[str(p) for p in inputs], options={k: list(v) if isinstance(v, tuple) else v
                                                             for k, v in asdict(opts).items()})
    done = prepare_out_dir(out_dir, request, overwrite)
    if done is not None:
        return dict(done, reused=True)
    spec = input_spec(bands=list(opts.bands), scale=1.0, offset=opts.offset)
    name = opts.name or input_name(inputs)
    with open_scene(inputs, spec, nodata=opts.nodata, band_resampling=opts.band_resampling,
                    mask_classes=opts.mask_classes) as source:
        tile, stride, factor = tile_pixels(source, opts)
        _write_manifest(out_dir, dict(_target_record(request, source, [], factor), status='incomplete'))
        tiles = []
        for row in tile_origins(source.height, tile, stride):
            for col in tile_origins(source.width, tile, stride):
                window = Window(col, row, min(tile, source.width - col), min(tile, source.height - row))
                data = read_tile(source, window, spec)
                tile_name = f'{name}_r{row:04d}_c{col:04d}'
                write_geotiff(out_dir / IMG_DIR / f'{tile_name}.tif', data, crs=source.crs,
                              transform=_window_transform(source.transform, window), nodata=NODATA_DN,
                              band_descriptions=source.band_names,
                              tags={'SOURCE': source.label, 'SCALE': f'reflectance x {TARGET_QUANTIFICATION:g}'})
                valid = float((data != NODATA_DN).any(axis=0).mean())
                tiles.append(dict(name=tile_name, window=[col, row, int(window.width), int(window.height)],
                                  valid_share=round(valid, 4)))
        manifest = _target_record(request, source, tiles, factor)
    (out_dir / SPLIT_FILE).write_text(''.join(t['name'] + '\n' for t in tiles), encoding='utf-8')
    _write_manifest(out_dir, manifest)
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    with atomic_output(out_dir / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2), encoding='utf-8')


def _target_record(request: dict, source: SceneSource, tiles: list[dict], factor: float) -> dict[str, Any]:
    """What the set holds and how it was made (``request`` decides whether a rerun may reuse it)."""
    return dict(
        generator=GENERATOR, status='complete', labelled=False, request=request, notes=list(source.notes),
        radiometry=_radiometry(source.harmonised, request['options']['offset']),
        image_format=dict(dtype='uint16', bands=len(source.band_names), band_names=list(source.band_names),
                          gsd_m=round(source.gsd(), 4), nodata=NODATA_DN, scale=TARGET_QUANTIFICATION),
        scene=dict(width=source.width, height=source.height, crs=str(source.crs)),
        subpixel_factor=factor, num_images=len(tiles), splits={'train': len(tiles)}, tiles=tiles)


def _radiometry(harmonised: bool, offset: float) -> str:
    """How the stored values were made, for the manifest and the summary."""
    if harmonised:
        how = "the product's offsets and quantification applied"
    else:
        how = f'DN {offset:+g}' if offset else 'DN as read'
    return f'{how} -> reflectance x {TARGET_QUANTIFICATION:g}'
