"""Base dataset for converted GeoTIFF segmentation data (img_dir/ + ann_dir/ + split files)."""
from __future__ import annotations

import json
import os.path as osp
from pathlib import Path

from mmengine.logging import MMLogger
from mmseg.datasets import BaseSegDataset

from ..utils.dataset_layout import ANN_DIR, IMG_DIR, MANIFEST, RAW_LAYOUTS
from ..utils.errors import DaspmInputError

# pipeline steps that read ``seg_map_path``
_LABEL_LOADERS = ('LoadGeoTiffAnnotations', 'LoadAnnotations')


class GeoTiffSegDataset(BaseSegDataset):
    """A converted dataset: ``<root>/img_dir/*.tif``, ``<root>/ann_dir/*.tif`` and optional split files.

    ``ann_file`` names a split file (e.g. 'train.txt') relative to ``data_root``; when it is
    empty every image is used, which is only right for a single-split dataset. A conversion
    without any split files (the published Gaofen source has none) uses every image for
    whatever split file the config names, and logs so. A set without ``ann_dir/`` (an unlabelled
    target, tools/make_real_target.py) lists images only: a UDA target, refused where labels load.
    """

    #: converter that produces this dataset's layout (named in error messages)
    CONVERTER: str = 'tools/convert_datasets/'

    def __init__(self, img_suffix: str = '.tif', seg_map_suffix: str = '.tif',
                 data_prefix: dict | None = None, **kwargs) -> None:
        data_prefix = data_prefix or self.default_prefix(kwargs.get('data_root'))
        kwargs['ann_file'] = self._check_layout(kwargs.get('data_root'), data_prefix,
                                                kwargs.get('ann_file', ''), img_suffix)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, **kwargs)

    @staticmethod
    def default_prefix(data_root: str | None) -> dict[str, str]:
        """img_dir/ and ann_dir/; img_dir/ alone for a converted set that has no ann_dir/ (unlabelled)."""
        root = Path(data_root) if data_root is not None else None
        if root is not None and (root / MANIFEST).is_file() and not (root / ANN_DIR).exists():
            return dict(img_path=IMG_DIR)
        return dict(img_path=IMG_DIR, seg_map_path=ANN_DIR)

    def _check_layout(self, data_root: str | None, data_prefix: dict, ann_file: str,
                      img_suffix: str = '.tif') -> str:
        """Explain, in one message, why a data root cannot be read; return the ann_file to use."""
        if data_root is None:
            return ann_file
        root = Path(data_root)
        name = type(self).__name__
        if not root.is_dir():
            raise DaspmInputError(
                f'{name}: data root {root} does not exist; generate the synthetic data with '
                f'`python tools/make_synthetic_dataset.py data/synthetic` and convert it with '
                f'{self.CONVERTER}, or set data_root in the config')
        if not (root / MANIFEST).is_file():
            for images, labels in RAW_LAYOUTS:
                if (root / images).is_dir() and (root / labels).is_dir():
                    raise DaspmInputError(
                        f'{name}: {root} holds raw data ({images}/, {labels}/) that has not been '
                        f'converted; run `python {self.CONVERTER} {root}` and point data_root at '
                        f'its output ({root}_converted)')
            raise DaspmInputError(
                f'{name}: {root} is not a converted DASPM dataset (no {MANIFEST}); '
                f'run {self.CONVERTER} on the raw data and point data_root at its output')
        img_dir = root / data_prefix.get('img_path', '')
        if not img_dir.is_dir():
            raise DaspmInputError(f'{name}: image directory {img_dir} is missing; re-run {self.CONVERTER}')
        if ann_file and not osp.isabs(ann_file) and not (root / ann_file).is_file():
            written = self._converted_splits(root)
            if written == {}:
                # The raw data had no split files at all (the published Gaofen source): the whole
                # folder is the split, as in the reference, which trains on every source image.
                num = sum(1 for p in img_dir.iterdir()
                          if p.name.endswith(img_suffix) and not p.name.startswith('.'))
                MMLogger.get_current_instance().warning(
                    f'{name}: {root} has no split files (the raw data had none): using all '
                    f'{num} images for {ann_file}')
                return ''
            found = (f' (the conversion wrote {", ".join(f"{s}.txt" for s in written)})'
                     if written else '')
            raise DaspmInputError(
                f'{name}: split file {root / ann_file} not found{found}; add it (one image name '
                'per line), name an existing split file in the config, or set ann_file=\'\' to '
                'use every image')
        return ann_file

    @staticmethod
    def _converted_splits(root: Path) -> dict | None:
        """The ``splits`` entry of the conversion manifest, or None when it records none."""
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return None
        splits = manifest.get('splits') if isinstance(manifest, dict) else None
        return splits if isinstance(splits, dict) else None

    def load_data_list(self) -> list[dict]:
        """List the samples; an empty list is an error, and the first image is checked against the pipeline."""
        data_list = super().load_data_list()
        if not data_list:
            raise DaspmInputError(
                f'{type(self).__name__}: no {self.img_suffix} images found in '
                f'{self.data_prefix.get("img_path")} (split file: {self.ann_file or "none"}); '
                'check data_root, ann_file and img_suffix in the config')
        num_classes = len(self._metainfo['classes'])
        for info in data_list:
            info['num_classes'] = num_classes
        self._check_first_sample(data_list[0])
        return data_list

    def _check_first_sample(self, info: dict) -> None:
        """Fail before training if files are missing or lack the configured bands."""
        for key in ('img_path', 'seg_map_path'):
            path = info.get(key)
            if path is not None and not osp.isfile(path):
                raise DaspmInputError(
                    f'{type(self).__name__}: {path} listed in {self.ann_file or "the image directory"} '
                    f'does not exist; re-run {self.CONVERTER} or fix the split file')
        steps = getattr(self.pipeline, 'transforms', [])
        if 'seg_map_path' not in info and any(type(s).__name__ in _LABEL_LOADERS for s in steps):
            raise DaspmInputError(
                f'{type(self).__name__}: {self.data_root} holds no labels (no {ANN_DIR}/: an unlabelled target '
                'set, e.g. from tools/make_real_target.py), but this pipeline loads them; use it as the UDA '
                'target (train_dataloader.dataset.target.data_root), not for validation, testing or an oracle')
        for step in steps:
            if hasattr(step, 'check_file'):
                step.check_file(info['img_path'])
