"""The LoveDA -> UTCD / WHDLD family of the reference: converted folders in the seven LoveDA classes.

The converters (``tools/convert_datasets/{loveda,whdld,utcd}.py``) keep the images in their own
format (PNG, JPG) and write train-id labels as ``ann_dir/<name>.tif``; the image suffix is read
from the conversion manifest, so a config need not name it.
"""
from __future__ import annotations

import json
from pathlib import Path

from mmseg.registry import DATASETS

from ..classes import LOVEDA_CLASSES, LOVEDA_PALETTE
from ..utils.dataset_layout import MANIFEST, MANIFEST_IMAGE_SUFFIX
from ..utils.errors import DaspmInputError
from .geotiff_dataset import GeoTiffSegDataset


class LoveDAFamilyDataset(GeoTiffSegDataset):
    """A converted LoveDA / WHDLD / UTCD folder: images in their own format, labels 0..6 (255 = ignore).

    Args:
        img_suffix: suffix of the files in ``img_dir/``; None reads it from the manifest.
        **kwargs: GeoTiffSegDataset / BaseSegDataset arguments (data_root, ann_file, pipeline, ...).
    """

    METAINFO = dict(classes=LOVEDA_CLASSES, palette=LOVEDA_PALETTE)
    #: what the dataset is called in messages, and the README section that tells where to get it
    RAW_NAME = 'the raw data'

    def __init__(self, img_suffix: str | None = None, seg_map_suffix: str = '.tif', **kwargs) -> None:
        if img_suffix is None:
            img_suffix = self._manifest_image_suffix(kwargs.get('data_root'))
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def _manifest_image_suffix(self, data_root: str | None) -> str:
        """The image suffix the conversion recorded; other classes than LoveDA's raise."""
        if data_root is None or not (Path(data_root) / MANIFEST).is_file():
            return '.png'  # _check_layout explains a missing or unconverted root
        path = Path(data_root) / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError) as err:
            raise DaspmInputError(f'{type(self).__name__}: {path} is unreadable ({err}); convert the data again '
                                  f'with {self.CONVERTER} --overwrite') from None
        classes = manifest.get('classes') if isinstance(manifest, dict) else None
        if classes is not None and tuple(classes) != tuple(LOVEDA_CLASSES):
            raise DaspmInputError(
                f'{type(self).__name__}: {data_root} holds a {manifest.get("dataset")} conversion with the classes '
                f'{classes}, not the LoveDA classes {list(LOVEDA_CLASSES)}; point data_root at the output of '
                f'{self.CONVERTER}')
        return str(manifest.get(MANIFEST_IMAGE_SUFFIX) or '.tif')

    def _check_layout(self, data_root: str | None, data_prefix: dict, ann_file: str, img_suffix: str = '.tif') -> str:
        """A missing root names this dataset's converter; everything else as for any converted folder."""
        if data_root is not None and not Path(data_root).is_dir():
            raise DaspmInputError(
                f'{type(self).__name__}: data root {data_root} does not exist; convert {self.RAW_NAME} with '
                f'`python {self.CONVERTER} <raw folder> -o {data_root}` (docs/datasets.md), or set data_root in '
                'the config')
        return super()._check_layout(data_root, data_prefix, ann_file, img_suffix)


@DATASETS.register_module()
class LoveDAConvertedDataset(LoveDAFamilyDataset):
    """LoveDA (Urban + Rural, 0.3 m RGB) as converted by tools/convert_datasets/loveda.py: the source.

    Named apart from mmseg's ``LoveDADataset``, which reads mmseg's own LoveDA layout (PNG labels
    with reduce_zero_label).
    """

    CONVERTER = 'tools/convert_datasets/loveda.py'
    RAW_NAME = 'LoveDA ({Train,Val}/{Urban,Rural}/{images_png,masks_png})'


@DATASETS.register_module()
class UTCDataset(LoveDAFamilyDataset):
    """UTCD in the LoveDA classes, as converted by tools/convert_datasets/utcd.py: a target (reference name)."""

    CONVERTER = 'tools/convert_datasets/utcd.py'
    RAW_NAME = 'UTCD (image_spm/ + label_spm/)'


@DATASETS.register_module()
class WHDLDataset(LoveDAFamilyDataset):
    """WHDLD (2 m RGB, 256 x 256) mapped onto the LoveDA classes by tools/convert_datasets/whdld.py: a target."""

    CONVERTER = 'tools/convert_datasets/whdld.py'
    RAW_NAME = 'WHDLD (Images/ + ImagesPNG/)'
