"""Write a GDAL VRT mosaic of tiles on one grid (no GDAL command-line tools needed).

    python -m daspm.mapping.vrt mosaic.vrt data/synthetic/sentinel/images/*.tif

Gaps between tiles read as nodata (``--nodata``, 0 by default: "no data" in Sentinel-2 products).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

from ..utils.errors import DaspmInputError, exit_on_input_error
from ..utils.raster import open_raster

_GDAL_TYPES = {'uint8': 'Byte', 'uint16': 'UInt16', 'int16': 'Int16', 'uint32': 'UInt32', 'int32': 'Int32',
               'float32': 'Float32', 'float64': 'Float64'}


def write_mosaic_vrt(tiles: Sequence[str | Path], path: str | Path, nodata: float = 0) -> Path:
    """VRT covering the union of ``tiles`` (same CRS, pixel size, bands, dtype, aligned grids)."""
    if not tiles:
        raise DaspmInputError('no tiles given for the mosaic')
    path = Path(path)
    infos = []
    for tile in tiles:
        with open_raster(tile) as src:
            if src.crs is None:
                raise DaspmInputError(f'{tile} has no CRS; a mosaic needs georeferenced tiles')
            infos.append(dict(path=Path(tile), crs=src.crs, t=src.transform, w=src.width, h=src.height,
                              count=src.count, dtype=src.dtypes[0], desc=src.descriptions))
    first = infos[0]
    res_x, res_y = first['t'].a, first['t'].e
    for info in infos[1:]:
        if (info['crs'] != first['crs'] or abs(info['t'].a - res_x) > 1e-9 * abs(res_x)
                or abs(info['t'].e - res_y) > 1e-9 * abs(res_y) or info['count'] != first['count']
                or info['dtype'] != first['dtype'] or info['t'].b or info['t'].d):
            raise DaspmInputError(f'{info["path"]} does not match {first["path"]} (CRS, pixel size, band count, '
                                  'data type, north-up); a mosaic needs tiles of one product')
    left = min(i['t'].c for i in infos)
    top = max(i['t'].f for i in infos)
    right = max(i['t'].c + i['w'] * res_x for i in infos)
    bottom = min(i['t'].f + i['h'] * res_y for i in infos)
    width, height = round((right - left) / res_x), round((bottom - top) / res_y)
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f'  <SRS>{escape(first["crs"].to_wkt())}</SRS>',
             f'  <GeoTransform>{left!r}, {res_x!r}, 0, {top!r}, 0, {res_y!r}</GeoTransform>']
    gdal_type = _GDAL_TYPES.get(first['dtype'], 'Float32')
    for band in range(1, first['count'] + 1):
        lines.append(f'  <VRTRasterBand dataType="{gdal_type}" band="{band}">')
        lines.append(f'    <NoDataValue>{nodata:.17g}</NoDataValue>')
        if first['desc'][band - 1]:
            lines.append(f'    <Description>{escape(first["desc"][band - 1])}</Description>')
        for info in infos:
            xoff = round((info['t'].c - left) / res_x)
            yoff = round((info['t'].f - top) / res_y)
            rel = os.path.relpath(info['path'].resolve(), path.parent.resolve())
            lines += ['    <SimpleSource>',
                      f'      <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>',
                      f'      <SourceBand>{band}</SourceBand>',
                      f'      <SrcRect xOff="0" yOff="0" xSize="{info["w"]}" ySize="{info["h"]}"/>',
                      f'      <DstRect xOff="{xoff}" yOff="{yoff}" xSize="{info["w"]}" ySize="{info["h"]}"/>',
                      '    </SimpleSource>']
        lines.append('  </VRTRasterBand>')
    lines += ['</VRTDataset>', '']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines), encoding='utf-8')
    return path


@exit_on_input_error
def main(argv: list[str] | None = None) -> Path:
    """Command line: write a mosaic VRT of tiles."""
    parser = argparse.ArgumentParser(description='Mosaic GeoTIFF tiles into one GDAL VRT')
    parser.add_argument('out', help='the .vrt to write')
    parser.add_argument('tiles', nargs='+', help='tiles (same CRS, pixel size and bands)')
    parser.add_argument('--nodata', type=float, default=0.0, help='value of the gaps (default 0)')
    args = parser.parse_args(argv)
    out = write_mosaic_vrt(args.tiles, args.out, nodata=args.nodata)
    print(out)
    return out


if __name__ == '__main__':
    main()
