"""Datasets and transforms registered into mmseg's registries."""
from .gaofen_sentinel import GaofenDataset, SentinelDataset
from .geotiff_dataset import GeoTiffSegDataset
from .transforms import LoadGeoTiff, LoadGeoTiffAnnotations, SubPixelResample
from .uda_dataset import UDADataset

__all__ = ['GaofenDataset', 'SentinelDataset', 'GeoTiffSegDataset', 'LoadGeoTiff',
           'LoadGeoTiffAnnotations', 'SubPixelResample', 'UDADataset']
