"""Names of the fields daspm adds to mmseg data samples: the data pipeline writes them, the models read them."""
from __future__ import annotations

#: [1,H,W] bool ``PixelData`` of a target sample: True where the image has no data (NaN/Inf or the
#: file's nodata, filled with 0 by LoadGeoTiff). Derived from the image only, never from a label.
IMAGE_NODATA_FIELD: str = 'img_nodata_mask'
