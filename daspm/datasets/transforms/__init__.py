"""Data pipeline transforms for GeoTIFFs and sub-pixel resampling."""
from .geotiff_loading import GEO_META_KEYS, LoadGeoTiff, LoadGeoTiffAnnotations
from .image_nodata import PackSegInputsWithNodata, TrackImageNodata
from .sensor_simulation import SimulateCoarseSensor
from .subpixel import SubPixelResample, subpixel_factor

__all__ = ['GEO_META_KEYS', 'LoadGeoTiff', 'LoadGeoTiffAnnotations', 'PackSegInputsWithNodata',
           'SimulateCoarseSensor', 'SubPixelResample', 'TrackImageNodata',
           'subpixel_factor']
