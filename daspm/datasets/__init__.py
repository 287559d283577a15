"""Datasets and transforms registered into mmseg's registries."""
from .custom_dataset import CustomGeoTiffDataset
from .gaofen_sentinel import GaofenDataset, SentinelDataset
from .geotiff_dataset import GeoTiffSegDataset
from .loveda_family import LoveDAConvertedDataset, UTCDataset, WHDLDataset  # noqa: F401  (registration)
from .transforms import LoadGeoTiff, LoadGeoTiffAnnotations, SubPixelResample
from .uda_dataset import UDADataset

__all__ = ['CustomGeoTiffDataset', 'GaofenDataset', 'SentinelDataset', 'GeoTiffSegDataset', 'LoadGeoTiff',
           'LoadGeoTiffAnnotations', 'SubPixelResample', 'UDADataset']
