"""What a conversion found (image data type, bands, label grid) and which shipped config fits it."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

CONFIG_8BIT_RGB = 'configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'
CONFIG_S2_10M = 'configs/daspm/gaofen2sentinel10m_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py'

#: (image dtype, band count or None for "3 or more", label factor) -> the shipped UDA config
#: for target data of that kind. The published DASPM data are 8-bit RGB on the label grid;
#: Sentinel-2 B2/B3/B4/B8 reflectance at 10 m has labels 5x finer.
MATCHING_CONFIGS: Mapping[tuple[str, int | None, int], str] = {
    ('uint8', 3, 1): CONFIG_8BIT_RGB,
    ('uint16', None, 5): CONFIG_S2_10M,
}

_ADAPT = ('no shipped config matches; copy the nearest configs/daspm/gaofen2sentinel*_uda_*.py '
          'and adapt LoadGeoTiff (bands, scale, nominal_gsd) to these images')


def describe_dtype(dtype: str) -> str:
    """'uint8' -> '8-bit', 'int16' -> '16-bit signed', 'float32' -> '32-bit float'."""
    dt = np.dtype(dtype)
    kind = {'u': '', 'i': ' signed', 'f': ' float'}.get(dt.kind)
    return f'{dt.itemsize * 8}-bit{kind}' if kind is not None else dt.name


def describe_image_format(fmt: Mapping[str, Any]) -> str:
    """One phrase such as '8-bit RGB on the label grid' or '16-bit, 4 bands (B2, B3, B4, B8), labels x5 finer'."""
    bands, names = fmt['bands'], fmt.get('band_names')
    if fmt['dtype'] == 'uint8' and bands == 3:
        kind = '8-bit RGB'
    else:
        kind = f'{describe_dtype(fmt["dtype"])}, {bands} band{"s" if bands != 1 else ""}'
        if names:
            kind += f' ({", ".join(names)})'
    factor = fmt.get('label_factor', 1)
    return f'{kind} on the label grid' if factor == 1 else f'{kind}, labels x{factor} finer'


def matching_config(fmt: Mapping[str, Any]) -> str | None:
    """The shipped config for target images of this format, or None."""
    key = (fmt['dtype'], fmt['bands'], fmt.get('label_factor', 1))
    if key in MATCHING_CONFIGS:
        return MATCHING_CONFIGS[key]
    if fmt['bands'] >= 3:
        return MATCHING_CONFIGS.get((key[0], None, key[2]))
    return None


def config_lines(dataset: str, fmt: Mapping[str, Any]) -> list[str]:
    """The report: ``found: ...`` then ``config: ...`` (plus a note for the source domain)."""
    lines = [f'found: {describe_image_format(fmt)}']
    if dataset == 'gaofen2m':
        # The source reads the same way in both shipped configs; only the target tells them apart.
        if fmt['dtype'] == 'uint8' and fmt['bands'] == 3:
            lines += [f'config: {CONFIG_8BIT_RGB}',
                      '  (the source fits both shipped configs; the target decides which: '
                      'see the sentinel10m report)']
        else:
            lines.append(f'config: {_ADAPT} (the shipped ones read the source as 8-bit RGB)')
        return lines
    config = matching_config(fmt)
    lines.append(f'config: {config}' if config else f'config: {_ADAPT}')
    return lines


__all__ = ['CONFIG_8BIT_RGB', 'CONFIG_S2_10M', 'MATCHING_CONFIGS', 'describe_dtype',
           'describe_image_format', 'matching_config', 'config_lines']
