"""Files of a synthetic dataset: output-directory guard, GeoTIFF tiles, split lists, manifest, README."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from affine import Affine

from daspm.classes import DASPM_CLASSES, DASPM_PALETTE
from daspm.utils.dataset_layout import RAW_SPLITS, SPLITS
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, write_geotiff

MANIFEST_NAME = 'synthetic_dataset.json'
README_NAME = 'README.md'
DOMAIN_DIRS: tuple[str, ...] = ('gaofen', 'sentinel')
LABEL_NODATA = 0
# RAW label codes on disk: 0 = unlabelled, then the DASPM classes from 1 (train id = raw - 1).
RAW_CODES: dict[int, str] = {0: 'unlabelled', **{i + 1: name for i, name in enumerate(DASPM_CLASSES)}}
LABEL_COLORMAP: dict[int, Sequence[int]] = {0: (0, 0, 0), **{i + 1: c for i, c in enumerate(DASPM_PALETTE)}}


def to_raw_codes(labels: np.ndarray) -> np.ndarray:
    """RAW label codes (uint8, 1..5) from class ids 0..4."""
    return (labels.astype(np.uint8) + 1).astype(np.uint8)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DaspmInputError(f'{path}: unreadable manifest ({err}); this directory is left untouched — '
                              'remove it yourself or choose another output directory') from None
    if not isinstance(manifest, dict):
        manifest = {}
    return manifest


def prepare_output_dir(out_dir: Path, *, overwrite: bool, generator: str) -> None:
    """Check that ``out_dir`` may receive a dataset; with ``overwrite`` remove only our own folders.

    Only a directory whose manifest says this generator wrote it is ever cleared, and then
    only the folders that the generator writes.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise DaspmInputError(f'{out_dir}: exists and is not a directory; choose another output directory')
    manifest_path = out_dir / MANIFEST_NAME
    ours = [out_dir / name for name in (*DOMAIN_DIRS, README_NAME)]
    if not manifest_path.exists():
        present = [p.name + ('/' if p.is_dir() else '') for p in ours if p.exists() or p.is_symlink()]
        if present:
            raise DaspmInputError(
                f'{out_dir}: already holds {", ".join(present)} but no {MANIFEST_NAME}, so they were not '
                'written by this generator and are left untouched (even with --overwrite); '
                'choose a new or empty output directory')
        return
    manifest = _read_manifest(manifest_path)
    if manifest.get('generator') != generator:
        raise DaspmInputError(
            f'{manifest_path}: not written by {generator} (generator={manifest.get("generator")!r}); '
            'this directory is left untouched — choose another output directory')
    if not overwrite:
        state = 'an incomplete (interrupted)' if manifest.get('status') != 'complete' else 'a'
        raise DaspmInputError(
            f'{out_dir}: already holds {state} synthetic dataset ({MANIFEST_NAME}); pass --overwrite '
            '(overwrite=True) to replace it, or choose another output directory')
    for path in ours[:len(DOMAIN_DIRS)]:
        if path.is_symlink():
            raise DaspmInputError(f'{path}: is a symbolic link; not following it to delete data — remove it yourself')
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            raise DaspmInputError(f'{path}: is a file, not the folder this generator writes; remove it yourself')


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write JSON atomically (an interrupted run never leaves a truncated file)."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + '\n')
    return path


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return path


def write_image(path: Path, image: np.ndarray, *, crs: Any, transform: Affine, bands: Sequence[str],
                tags: Mapping[str, str]) -> Path:
    """Write an image tile (bands, H, W) with band descriptions and no nodata value."""
    return write_geotiff(path, image, crs=crs, transform=transform, nodata=None,
                         band_descriptions=list(bands), tags=dict(tags))


def write_label(path: Path, labels: np.ndarray, *, crs: Any, transform: Affine) -> Path:
    """Write a label tile of class ids 0..4 as RAW codes 1..5 (nodata 0) with the class colours."""
    tags = {'LABEL_ENCODING': 'raw', 'CLASSES': ','.join(f'{k}={v}' for k, v in RAW_CODES.items())}
    return write_geotiff(path, to_raw_codes(labels), crs=crs, transform=transform, nodata=LABEL_NODATA,
                         colormap=LABEL_COLORMAP, tags=tags)


def write_splits(domain_dir: Path, splits: Mapping[str, Sequence[str]]) -> None:
    """One ``<split>.txt`` per split, one tile name (no suffix) per line."""
    for split in SPLITS:
        write_text(domain_dir / RAW_SPLITS / f'{split}.txt', ''.join(f'{n}\n' for n in splits.get(split, [])))


def readme_text(manifest: Mapping[str, Any]) -> str:
    """The README that describes a generated dataset."""
    p = manifest['parameters']
    dom = manifest['domains']
    codes = '\n'.join(f'| {k} | {v} |' for k, v in RAW_CODES.items())

    def shares(domain: str) -> str:
        return ', '.join(f'{name} {100 * s:.1f}%' for name, s in dom[domain]['class_shares'].items())

    spectra = ''
    if p.get('spectra', 'default') != 'default':
        record = dom['sentinel']['sensor_model']['spectra']
        spectra = (f"\n- Spectra `{p['spectra']}`: {record['summary']}; material spectra of both domains and the "
                   "target's sensor chain calibrated against real Sentinel-2 (see the manifest).")
    if p.get('layout') == 'reference':
        files = """- Published DASPM layout: `<domain>/image/*.tif` and `<domain>/label/*.tif`, every image on
  the 2 m grid of its label; split files only for the target.
- `gaofen/` (source domain): 2 m RGB tiles (uint8, bands red, green, blue) like Gaofen-2 /
  Google Earth imagery, with 2 m labels; no split files (the source trains on every tile).
- `sentinel/` (target domain): 8-bit RGB tiles on the 2 m label grid, made from 10 m
  Sentinel-2-like reflectance (B4, B3, B2 resampled bicubic x5, reflectance x 10000 / 3000 * 255,
  clipped to 0..255), with 2 m labels. Target labels are meant for evaluation; unsupervised
  adaptation must not train on them.
- `sentinel/{train,val,test}.txt`: tile names, one per line.
- Convert with `python tools/convert_datasets/gaofen2m.py <out>/gaofen` and
  `python tools/convert_datasets/sentinel10m.py <out>/sentinel`."""
    else:
        files = """- `gaofen/` (source domain): 2 m RGB tiles (uint8, bands red, green, blue) like Gaofen-2 /
  Google Earth imagery, with 2 m labels.
- `sentinel/` (target domain): 10 m tiles (uint16, bands B2, B3, B4, B8, surface-reflectance-like
  x 10000) like Sentinel-2, rendered from 2 m scenes of the same kind, with 2 m labels covering
  exactly the bounds of the 10 m image (5 x 5 label pixels per image pixel). Target labels
  are meant for evaluation; unsupervised adaptation must not train on them.
- `*/splits/{train,val,test}.txt`: tile names, one per line."""

    return f"""# Synthetic Gaofen -> Sentinel-2 dataset (DASPM)

Generated by `{manifest['generator']}` {manifest['version']} (`tools/make_synthetic_dataset.py`,
seed {p['seed']}, tile size {p['tile_size']}, {p['num_source']} source + {p['num_target']} target tiles).
Every pixel is procedural: scenes, spectra and sensor effects come from random numbers, not from
any satellite product, map or third-party dataset. There is no licence issue: use, modify and
share it freely (intended as a CC0 1.0 public-domain dedication). It stands in for the real
DASPM data in tests and smoke runs; accuracy on it says nothing about real imagery.

{files}
- CRS {manifest['crs']} (projected, north-up); every tile lies at its own place.{spectra}

Labels hold RAW codes (nodata 0); the training id is code - 1:

| code | class |
|---|---|
{codes}

Class shares: gaofen: {shares('gaofen')}; sentinel: {shares('sentinel')}.
All parameters are in `{MANIFEST_NAME}`; how the data are made: `docs/synthetic_dataset.md`.
"""
