"""A custom dataset converted by ``tools/convert_datasets/custom.py``: its classes come from the config."""
from __future__ import annotations

from pathlib import Path

from mmseg.registry import DATASETS

from ..utils.errors import DaspmInputError
from .geotiff_dataset import GeoTiffSegDataset

_CONVERT = ('python tools/convert_datasets/custom.py --images DIR --masks DIR --classes classes.json '
            '-o OUT')


@DATASETS.register_module()
class CustomGeoTiffDataset(GeoTiffSegDataset):
    """``img_dir/`` + ``ann_dir/`` + split files of any class table, named by ``metainfo`` in the config.

    The converter writes ``metainfo=dict(classes=..., palette=...)`` into the configs it
    generates; a target folder without labels sets ``data_prefix=dict(img_path='img_dir')``.
    """

    CONVERTER = 'tools/convert_datasets/custom.py'

    def __init__(self, metainfo: dict | None = None, **kwargs) -> None:
        if not metainfo or not metainfo.get('classes'):
            raise DaspmInputError(
                'CustomGeoTiffDataset: the config gives no classes; set metainfo=dict(classes=..., '
                f'palette=...) as the configs written by `{_CONVERT}` do')
        root = kwargs.get('data_root')
        if root is not None and not Path(root).is_dir():
            raise DaspmInputError(
                f'CustomGeoTiffDataset: data root {root} does not exist; convert the data with `{_CONVERT}` '
                'and train with the OUT/source_only.py or OUT/uda.py it writes')
        super().__init__(metainfo=metainfo, **kwargs)
