"""Whole-scene sub-pixel mapping: georeferenced, windowed, blended, in bounded memory.

inputs (scene files / band products; sentinel2: .SAFE / .zip products) -> plan (area and output
grid, built once; options as one MapOptions) -> grid (windows) -> resample (window reads like the
test pipeline) -> predictor (model interface) -> mapper (batched forward passes, streaming blend)
-> writer (tiled GeoTIFF, confidence, quicklook); composite: several dates of one tile.
"""
from .grid import OutputGrid, WindowPlan, output_grid, plan_windows, resolve_aoi
from .inputs import (ArraySource, BandFilesSource, RasterSource, SceneSource, band_name_from_filename, open_product,
                     open_scene)
from .mapper import MappingResult, StreamingBlender, map_plan_to_files, map_scene, map_scene_to_files
from .plan import MapOptions, OutputPaths, ScenePlan, plan_scene
from .sentinel2 import DEFAULT_MASK_CLASSES, Sentinel2Product, read_product
from .predictor import SegmentorPredictor, WindowPredictor, as_predictor, inference_copy
from .resample import FineWindowReader
from .spec import InputSpec, input_spec, input_spec_from_config
from .writer import ArraySink, GeoTiffSink

__all__ = ['OutputGrid', 'WindowPlan', 'output_grid', 'plan_windows', 'resolve_aoi', 'ArraySource',
           'BandFilesSource', 'RasterSource', 'SceneSource', 'band_name_from_filename', 'open_scene',
           'MappingResult', 'StreamingBlender', 'map_scene', 'map_scene_to_files',
           'map_plan_to_files', 'MapOptions', 'OutputPaths', 'ScenePlan', 'plan_scene', 'SegmentorPredictor',
           'WindowPredictor', 'as_predictor', 'inference_copy', 'FineWindowReader', 'InputSpec', 'input_spec',
           'input_spec_from_config', 'ArraySink', 'GeoTiffSink', 'open_product', 'DEFAULT_MASK_CLASSES',
           'Sentinel2Product', 'read_product']
