"""Carry the image's nodata mask through the geometric transforms into the packed target sample.

LoadGeoTiff lists nodata pixels in ``img_nodata_mask`` (bool, image grid) and fills them with 0.
For labelled tiles the label is set to ignore there; an unlabelled target tile has no label, so
the mask itself must reach DACS, aligned with the cropped, flipped, resized image:

``LoadGeoTiff -> [SubPixelResample] -> TrackImageNodata -> RandomResize -> RandomCrop ->
RandomFlip -> PackSegInputsWithNodata``
"""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from ...utils.sample_fields import IMAGE_NODATA_FIELD

#: the uint8 copy in ``seg_fields`` (mmseg's transforms resize, crop, flip and pad those keys;
#: cv2 cannot resize a bool array); 1 = nodata, and a Pad step's 255 also counts as nodata
NODATA_MAP_KEY = 'img_nodata_map'


@TRANSFORMS.register_module()
class TrackImageNodata(BaseTransform):
    """Put the image's nodata mask among the fields that resize/crop/flip/pad move with the image.

    Place it after LoadGeoTiff and SubPixelResample (which resample the mask themselves) and
    before the geometric transforms. A tile without nodata gets no map (nothing changes for it).
    """

    def transform(self, results: dict) -> dict:
        """Add ``img_nodata_map`` (uint8) to ``results`` and ``seg_fields`` when the image has nodata."""
        mask = results.get('img_nodata_mask')
        if mask is not None and mask.any():
            results[NODATA_MAP_KEY] = mask.astype(np.uint8)
            fields = results.setdefault('seg_fields', [])
            if NODATA_MAP_KEY not in fields:
                fields.append(NODATA_MAP_KEY)
        return results


@TRANSFORMS.register_module()
class PackSegInputsWithNodata(PackSegInputs):
    """PackSegInputs, plus the tracked nodata mask as the sample's ``img_nodata_mask`` ([1,H,W] bool).

    Only a sample with nodata pixels after the crop carries the mask.
    """

    def transform(self, results: dict) -> dict:
        """Pack as mmseg does; a sample whose image has nodata also carries its mask."""
        packed = super().transform(results)
        nodata = results.get(NODATA_MAP_KEY)
        if nodata is not None:
            if nodata.shape != results['img'].shape[:2]:
                raise ValueError(
                    f'{results.get("img_path")}: nodata mask {nodata.shape} does not match the image '
                    f'{results["img"].shape[:2]}; put TrackImageNodata after SubPixelResample and '
                    'before the resize/crop/flip steps of the pipeline')
            if nodata.any():  # a crop beside the nodata takes DACS's unchanged route
                packed['data_samples'].set_data(
                    {IMAGE_NODATA_FIELD: PixelData(data=torch.from_numpy(nodata[None] != 0))})
        return packed
