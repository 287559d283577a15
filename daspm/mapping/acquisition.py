"""When a scene was sensed: from the product name or the band file names (ESA's naming)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from .inputs import SceneSource

# 20220101T101431 (product and band file names) or 20220101 (band files renamed by hand), not inside longer digits
_STAMP = re.compile(r'(?<!\d)(\d{8})(?:T(\d{6}))?(?!\d)')


def stamp_time(text: str) -> datetime | None:
    """The first YYYYMMDD[THHMMSS] stamp in ``text`` as a UTC datetime; None if there is none."""
    for day, clock in _STAMP.findall(text):
        try:
            return datetime.strptime(day + (clock or '000000'), '%Y%m%d%H%M%S').replace(tzinfo=timezone.utc)
        except ValueError:
            continue  # eight digits that are no date
    return None


def sensing_time(source: SceneSource) -> datetime | None:
    """Sensing start of a scene: S2A_MSIL2A_<start>_... for products, else the first band file's stamp.

    ESA names the sensing start first in product names, and tile band files carry the same stamp
    (T32TQM_20220101T101431_B04_10m.jp2), so no metadata file has to be parsed for it.
    """
    product = getattr(source, 'product', None)
    names = [product.name] if product is not None else []
    names += [Path(str(f)).name for f in source.files] + [Path(source.label).name]
    for name in names:
        found = stamp_time(name)
        if found is not None:
            return found
    return None
