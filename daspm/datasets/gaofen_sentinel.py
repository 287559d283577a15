"""The DASPM domains: Gaofen / Google Earth at 2 m (source) and Sentinel-2 at 10 m (target)."""
from __future__ import annotations

from mmseg.registry import DATASETS

from ..classes import DASPM_CLASSES, DASPM_PALETTE
from .geotiff_dataset import GeoTiffSegDataset


@DATASETS.register_module()
class GaofenDataset(GeoTiffSegDataset):
    """Source domain: 2 m RGB GeoTIFFs with five urban land-use classes."""

    METAINFO = dict(classes=DASPM_CLASSES, palette=DASPM_PALETTE)
    CONVERTER = 'tools/convert_datasets/gaofen2m.py'


@DATASETS.register_module()
class SentinelDataset(GeoTiffSegDataset):
    """Target domain: 10 m Sentinel-2 GeoTIFFs, labels (evaluation only) on the 2 m grid."""

    METAINFO = dict(classes=DASPM_CLASSES, palette=DASPM_PALETTE)
    CONVERTER = 'tools/convert_datasets/sentinel10m.py'
