"""Generate a whole synthetic Gaofen -> Sentinel-2 dataset: random streams, tiles, splits, manifest."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from daspm.classes import DASPM_CLASSES
from daspm.utils.dataset_layout import RAW_IMAGES, RAW_LABELS, RAW_SPLITS, SPLITS
from daspm.utils.errors import DaspmInputError

from . import georef, reference_layout, sensors, writer
from .reflectance import BANDS, layout_reflectance
from .scene import NUM_CLASSES, class_counts, make_layout
from .sensors import Atmosphere
from .shifts import TargetShift, apply_land_cover, get_shift, shift_tags
from .spectra import SpectralProfile, check_combination, get_profile, profile_tags

GENERATOR_NAME = 'daspm.synthetic'
GENERATOR_VERSION = '1.0.0'
DEFAULT_SPLITS: tuple[float, float, float] = (0.667, 0.167, 0.166)
DOMAINS: tuple[str, ...] = ('gaofen', 'sentinel')
DOMAIN_CODES: dict[str, int] = {'gaofen': 1, 'sentinel': 2}
PREFIXES: dict[str, str] = {'gaofen': 'gf', 'sentinel': 's2'}
# Purpose words keep the random streams apart: (seed, domain, purpose, index).
_TILE_STREAM, _SPLIT_STREAM = 1, 2


def tile_name(domain: str, index: int) -> str:
    """File stem of a tile, e.g. ``gf_0000`` / ``s2_0012``."""
    return f'{PREFIXES[domain]}_{index:04d}'


def tile_rngs(seed: int, domain: str, index: int) -> tuple[np.random.Generator, ...]:
    """Independent (scene, material, sensor) generators of one tile, from (seed, domain, index) only."""
    root = np.random.SeedSequence([seed, DOMAIN_CODES[domain], _TILE_STREAM, index])
    return tuple(np.random.default_rng(child) for child in root.spawn(3))


@dataclass
class Tile:
    """One rendered tile: labels (class ids 0..4, 2 m), image, and the haze used (Sentinel only)."""

    name: str
    labels: np.ndarray
    image: np.ndarray
    district: str
    atmosphere: Atmosphere | None = None


def make_tile(seed: int, domain: str, index: int, tile_size: int, shift: str | TargetShift = 'default',
              spectra: str | SpectralProfile = 'default') -> Tile:
    """Render tile ``index`` of ``domain`` in memory (no files); deterministic in its arguments.

    ``shift`` (a name of shifts.SHIFTS) changes the target rendering only: the source, the
    scenes and the random streams stay those of ``default``. ``spectra`` (a name of
    spectra.PROFILES) sets the material spectra of both domains and the target's atmosphere.
    """
    profile = get_profile(spectra)
    scene_rng, material_rng, sensor_rng = tile_rngs(seed, domain, index)
    layout = make_layout(scene_rng, tile_size)
    reflectance = layout_reflectance(material_rng, layout, profile.materials)
    if domain == 'gaofen':
        return Tile(tile_name(domain, index), layout.labels, sensors.render_gaofen(sensor_rng, reflectance, profile.source_composite),
                    layout.district)
    shift = get_shift(shift)
    check_combination(profile, shift)
    reflectance = apply_land_cover(shift, reflectance, layout.labels)
    atmosphere = sensors.draw_atmosphere(sensor_rng, *profile.atmosphere_ranges(shift))
    image = sensors.render_sentinel(sensor_rng, reflectance, atmosphere, shift, profile)
    return Tile(tile_name(domain, index), layout.labels, image, layout.district, atmosphere)


def parse_splits(text: str) -> tuple[float, float, float]:
    """Parse 'train,val,test' fractions such as '0.667,0.167,0.166'."""
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError:
        raise DaspmInputError(f'--splits {text!r}: expected three numbers like 0.667,0.167,0.166') from None
    return validate_splits(values)


def validate_splits(splits: Sequence[float]) -> tuple[float, float, float]:
    """Check train/val/test fractions (three, >= 0, summing to 1 within 0.01) and normalise them."""
    values = tuple(float(v) for v in splits)
    if len(values) != 3 or any(not math.isfinite(v) or v < 0 for v in values) or abs(sum(values) - 1) > 0.01:
        raise DaspmInputError(f'splits {values}: need three non-negative train,val,test fractions that sum '
                              'to 1, e.g. 0.667,0.167,0.166')
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Tiles per split: largest remainders, and at least one per non-zero split when possible."""
    raw = [f * n for f in fractions]
    counts = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[:n - sum(counts)]:
        counts[i] += 1
    for i, f in enumerate(fractions):
        if f > 0 and counts[i] == 0:
            donor = max(range(len(counts)), key=lambda j: counts[j])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] += 1
    return counts


def assign_splits(seed: int, domain: str, names: Sequence[str], fractions: Sequence[float]) -> dict[str, list[str]]:
    """Shuffle the names with a domain-specific stream and cut them into train/val/test."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, DOMAIN_CODES[domain], _SPLIT_STREAM, 0]))
    order = [names[i] for i in rng.permutation(len(names))]
    out, start = {}, 0
    for split, count in zip(SPLITS, split_counts(len(names), fractions)):
        out[split] = sorted(order[start:start + count])
        start += count
    return out


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DaspmInputError(f'{name}={value!r}: must be an integer >= {minimum}')
    return int(value)


def validate_tile_size(tile_size: Any) -> int:
    """A tile size in 2 m pixels: an integer >= 20 and a multiple of 5 (one 10 m pixel = 5 x 5)."""
    size = _check_int('tile_size', tile_size, 20)
    if size % sensors.FACTOR:
        lower = size - size % sensors.FACTOR
        raise DaspmInputError(
            f'tile_size={size}: must be a multiple of {sensors.FACTOR}, because one 10 m Sentinel pixel covers '
            f'{sensors.FACTOR} x {sensors.FACTOR} pixels of 2 m; use {lower} or {lower + sensors.FACTOR}')
    return size


def _rounded(array: np.ndarray) -> list:
    """Nested list of float32 constants without float32 -> float64 noise (0.9 not 0.8999999761)."""
    return np.round(np.asarray(array, np.float64), 6).tolist()


def _domain_spec(domain: str, tile_size: int, layout: str = reference_layout.DASPM_LAYOUT,
                 shift: TargetShift | None = None, profile: SpectralProfile | None = None) -> dict[str, Any]:
    """What the files of a domain hold (for the manifest, so converters need not guess)."""
    spec = _render_spec(domain, tile_size, shift or TargetShift(), profile or get_profile('default'))
    if layout == reference_layout.REFERENCE_LAYOUT:
        spec['image'] = reference_layout.image_spec(domain, tile_size, sensors.FINE_GSD_M)
        spec['label_to_image_factor'] = 1
        spec['files'] = dict(images=f'{domain}/{reference_layout.IMAGE_DIR}/',
                             labels=f'{domain}/{reference_layout.LABEL_DIR}/',
                             splits=(f'{domain}/{{train,val,test}}.txt'
                                     if domain in reference_layout.DOMAINS_WITH_SPLITS else None))
    else:
        spec['files'] = dict(images=f'{domain}/{RAW_IMAGES}/', labels=f'{domain}/{RAW_LABELS}/',
                             splits=f'{domain}/{RAW_SPLITS}/{{train,val,test}}.txt')
    return spec


def _render_spec(domain: str, tile_size: int, shift: TargetShift, profile: SpectralProfile) -> dict[str, Any]:
    """What the renderer makes of a domain (the default layout writes it unchanged)."""
    coarse = tile_size // sensors.FACTOR
    label = dict(dtype='uint8', bands=1, shape=[tile_size, tile_size], gsd_m=sensors.FINE_GSD_M,
                 nodata=writer.LABEL_NODATA, encoding='raw')
    if domain == 'gaofen':
        bands, crosstalk = sensors.GAOFEN_COMPOSITES[profile.source_composite]
        image = dict(dtype='uint8', bands=list(bands), shape=[tile_size, tile_size],
                     gsd_m=sensors.FINE_GSD_M, nodata=None)
        model = dict(crosstalk=_rounded(crosstalk), gain=_rounded(sensors.GAOFEN_GAIN),
                     offset=_rounded(sensors.GAOFEN_OFFSET), white=sensors.GAOFEN_WHITE,
                     gamma=sensors.GAOFEN_GAMMA, noise_dn=sensors.GAOFEN_NOISE_DN, spectra=profile.name)
        return dict(role='source', sensor='Gaofen-2-like RGB camera', image=image, label=label, sensor_model=model)
    image = dict(dtype='uint16', bands=list(sensors.SENTINEL_BANDS), shape=[coarse, coarse],
                 gsd_m=sensors.COARSE_GSD_M, nodata=None, scale=sensors.REFLECTANCE_SCALE, valid_range=[1, 10000])
    sigma_m = shift.psf_sigma_m()
    response = shift.response(profile.response_matrix(sensors.SENTINEL_RESPONSE))
    model = dict(response=_rounded(response), gain=_rounded(profile.gain_vector(sensors.SENTINEL_GAIN)),
                 psf='gaussian', psf_sigma_m=round(sigma_m, 4),
                 psf_sigma_fine_px=round(sigma_m / sensors.FINE_GSD_M, 4), mtf_at_nyquist=shift.mtf_at_nyquist,
                 downsampling=f'{sensors.FACTOR}x{sensors.FACTOR} area mean', snr=_rounded(sensors.SENTINEL_SNR),
                 noise_reference_reflectance=sensors.NOISE_REF_REFLECTANCE, shift=shift.as_dict(),
                 spectra=profile.as_dict(), haze_ranges=dict(zip(('aot550', 'path_blue'),
                                                                 map(list, profile.atmosphere_ranges(shift)))))
    return dict(role='target', sensor='Sentinel-2-like MSI (10 m bands)', image=image, label=label,
                sensor_model=model, label_to_image_factor=sensors.FACTOR)


def _tile_tags(tile: Tile, domain: str, layout: str, shift: TargetShift, profile: SpectralProfile) -> dict[str, str]:
    """GeoTIFF tags of a tile's image: sensor, district, haze; shift and spectra unless default."""
    if domain == 'gaofen':
        tags = {'SENSOR': 'synthetic Gaofen-2-like RGB', 'GSD_M': '2', 'DISTRICT': tile.district}
    elif layout == reference_layout.REFERENCE_LAYOUT:
        tags = {**reference_layout.sentinel_tags(tile.atmosphere.as_dict()), 'DISTRICT': tile.district}
    else:
        tags = {'SENSOR': 'synthetic Sentinel-2-like MSI', 'GSD_M': '10',
                'REFLECTANCE_SCALE': str(sensors.REFLECTANCE_SCALE),
                **{f'HAZE_{k.upper()}': str(v) for k, v in tile.atmosphere.as_dict().items()},
                'DISTRICT': tile.district}
    if domain == 'sentinel':
        tags.update(shift_tags(shift))  # none for default: its files stay byte for byte
    tags.update(profile_tags(profile, domain))  # likewise
    return tags


def validate_layout(layout: Any) -> str:
    """A layout name: 'daspm' (images/, labels/, splits/) or 'reference' (the published DASPM data)."""
    if layout not in reference_layout.LAYOUTS:
        raise DaspmInputError(f'layout={layout!r}: choose one of {", ".join(reference_layout.LAYOUTS)} '
                              '(see docs/synthetic_dataset.md)')
    return str(layout)


def generate_dataset(out_dir: str | os.PathLike, *, seed: int = 0, tile_size: int = 320, num_source: int = 24,
                     num_target: int = 24, splits: Sequence[float] = DEFAULT_SPLITS, overwrite: bool = False,
                     progress: bool = True, layout: str = reference_layout.DASPM_LAYOUT,
                     shift: str = 'default', spectra: str = 'default') -> dict[str, Any]:
    """Write a synthetic Gaofen (source) / Sentinel-2 (target) dataset in the RAW layout; return its manifest.

    ``layout='reference'`` writes the published DASPM layout instead (see ``reference_layout``);
    ``shift`` names a target-domain shift of ``shifts.SHIFTS`` (the source stays the same);
    ``spectra`` a profile of ``spectra.PROFILES`` (material spectra and target atmosphere).
    """
    out = Path(out_dir)
    layout = validate_layout(layout)
    target_shift, profile = get_shift(shift), get_profile(spectra)
    check_combination(profile, target_shift)
    seed = _check_int('seed', seed, 0)
    tile_size = validate_tile_size(tile_size)
    counts = {'gaofen': _check_int('num_source', num_source, 1), 'sentinel': _check_int('num_target', num_target, 1)}
    fractions = validate_splits(splits)
    writer.prepare_output_dir(out, overwrite=overwrite, generator=GENERATOR_NAME)

    manifest: dict[str, Any] = dict(
        generator=GENERATOR_NAME, version=GENERATOR_VERSION, status='incomplete',
        parameters=dict(seed=seed, tile_size=tile_size, num_source=counts['gaofen'], num_target=counts['sentinel'],
                        splits=[round(f, 6) for f in fractions], layout=layout, shift=target_shift.name,
                        spectra=profile.name),
        crs=f'EPSG:{georef.CRS_EPSG}', raw_codes={str(k): v for k, v in writer.RAW_CODES.items()},
        reflectance_bands=list(BANDS), written=[*writer.DOMAIN_DIRS, writer.README_NAME, writer.MANIFEST_NAME],
        domains={d: _domain_spec(d, tile_size, layout, target_shift, profile) for d in DOMAINS})
    # Written first, so that an interrupted run is recognised (and may be overwritten) later.
    out.mkdir(parents=True, exist_ok=True)
    writer.write_json(out / writer.MANIFEST_NAME, manifest)

    crs = georef.crs()
    bar = tqdm(total=sum(counts.values()), unit='tile', desc='synthetic tiles', disable=not progress)
    for domain in DOMAINS:
        pixels = np.zeros(NUM_CLASSES, np.int64)
        names = []
        for index in range(counts[domain]):
            tile = make_tile(seed, domain, index, tile_size, target_shift, profile)
            label_transform = georef.tile_transform(domain, index, tile_size, sensors.FINE_GSD_M)
            if domain == 'gaofen':
                image_transform, bands = label_transform, sensors.GAOFEN_COMPOSITES[profile.source_composite][0]
            else:
                image_transform = georef.tile_transform(domain, index, tile_size, sensors.COARSE_GSD_M)
                bands = sensors.SENTINEL_BANDS
            tags = _tile_tags(tile, domain, layout, target_shift, profile)
            if layout == reference_layout.REFERENCE_LAYOUT:
                reference_layout.write_tile(out / domain, domain, tile.name, tile.image, tile.labels, crs=crs,
                                            label_transform=label_transform, tags=tags)
            else:
                writer.write_image(out / domain / RAW_IMAGES / f'{tile.name}.tif', tile.image, crs=crs,
                                   transform=image_transform, bands=bands, tags=tags)
                writer.write_label(out / domain / RAW_LABELS / f'{tile.name}.tif', tile.labels, crs=crs,
                                   transform=label_transform)
            pixels += class_counts(tile.labels)
            names.append(tile.name)
            bar.update(1)
        split_lists = assign_splits(seed, domain, names, fractions)
        spec = manifest['domains'][domain]
        spec['num_tiles'] = len(names)
        if layout == reference_layout.REFERENCE_LAYOUT:
            spec['splits'] = reference_layout.write_splits(out / domain, domain, split_lists)
        else:
            writer.write_splits(out / domain, split_lists)
            spec['splits'] = {k: len(v) for k, v in split_lists.items()}
        spec['class_pixels'] = {str(c + 1): int(n) for c, n in enumerate(pixels)}
        spec['class_shares'] = {DASPM_CLASSES[c]: round(float(n) / float(pixels.sum()), 4)
                                for c, n in enumerate(pixels)}
    bar.close()

    manifest['status'] = 'complete'
    writer.write_text(out / writer.README_NAME, writer.readme_text(manifest))
    writer.write_json(out / writer.MANIFEST_NAME, manifest)
    return manifest
