"""Procedural synthetic Gaofen (2 m RGB, source) -> Sentinel-2 (10 m, target) dataset generator.

``scene`` draws label layouts, ``reflectance`` turns them into 4-band surface reflectance,
``sensors`` renders each sensor, ``georef`` places tiles, ``writer`` writes files,
``reference_layout`` writes the published DASPM layout (8-bit RGB on the label grid), and
``shifts`` names target-domain shifts, ``spectra`` the material/atmosphere profiles (``calibration``
and ``statistics`` measure them against a real patch), ``generate`` ties them together. See docs/synthetic_dataset.md.
"""
from .generate import (DEFAULT_SPLITS, GENERATOR_NAME, GENERATOR_VERSION, Tile, generate_dataset, make_tile,
                       parse_splits, tile_name, tile_rngs, validate_layout, validate_tile_size)
from .reference_layout import LAYOUTS, REFERENCE_LAYOUT, sentinel_rgb_on_label_grid
from .reflectance import BANDS, MATERIALS, layout_reflectance, surface_reflectance
from .scene import (GREEN, IMPERVIOUS, NUM_CLASSES, ROAD, URBAN, WATER, SceneLayout, class_counts, make_layout,
                    make_scene)
from .shifts import SHIFTS, TargetShift, get_shift
from .spectra import PROFILES, SpectralProfile, get_profile
from .sensors import PSF_SIGMA_M, PSF_SIGMA_PX, draw_atmosphere, render_gaofen, render_sentinel
from .writer import MANIFEST_NAME, RAW_CODES

__all__ = [
    'DEFAULT_SPLITS', 'GENERATOR_NAME', 'GENERATOR_VERSION', 'Tile', 'generate_dataset', 'make_tile',
    'parse_splits', 'tile_name', 'tile_rngs', 'validate_tile_size', 'validate_layout', 'LAYOUTS',
    'REFERENCE_LAYOUT', 'sentinel_rgb_on_label_grid', 'BANDS', 'MATERIALS', 'layout_reflectance',
    'surface_reflectance', 'GREEN', 'IMPERVIOUS', 'NUM_CLASSES', 'ROAD', 'URBAN', 'WATER', 'SceneLayout',
    'class_counts', 'make_layout', 'make_scene', 'PSF_SIGMA_M', 'PSF_SIGMA_PX', 'draw_atmosphere',
    'render_gaofen', 'render_sentinel', 'MANIFEST_NAME', 'RAW_CODES', 'SHIFTS', 'TargetShift', 'get_shift',
    'PROFILES', 'SpectralProfile', 'get_profile']
