"""Tiny Sentinel-2 L1C / L2A products in the layout mappers download (``.SAFE`` folder or ``.zip``).

    python -m daspm.synthetic.sentinel2_product OUT_DIR [--level L2A] [--baseline 04.00] [--size 60]
        [--cloud-block ROW0 COL0 ROW1 COL1] [--zip]

For tests and demos of scene mapping: the product metadata (``MTD_MSIL1C.xml`` /
``MTD_MSIL2A.xml`` with processing baseline, quantification value and, from baseline 04.00, the
per-band offsets), JPEG 2000 band files at their native resolution (lossless, through GDAL's
JP2OpenJPEG driver), the L2A scene classification (``SCL_20m``) or the L1C cloud mask
(``MSK_CLASSI_B00.jp2`` from 04.00, a GML mask before) with an optional cloud block. From
baseline 04.00 the DNs are reflectance x 10000 + 1000 (offset -1000), before reflectance x 10000.
The reflectance is a smooth synthetic field; nothing is downloaded.
"""
from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import rasterio
from affine import Affine

BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12')
NATIVE_RESOLUTION = {'B1': 60, 'B2': 10, 'B3': 10, 'B4': 10, 'B5': 20, 'B6': 20, 'B7': 20, 'B8': 10, 'B8A': 20,
                     'B9': 60, 'B10': 60, 'B11': 20, 'B12': 20}
L2A_RESOLUTIONS = {10: ('B2', 'B3', 'B4', 'B8'), 20: ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8A', 'B11', 'B12'),
                   60: ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8A', 'B9', 'B11', 'B12')}
TILE, SENSING = 'T32TQM', '20220101T101431'
CRS = 'EPSG:32632'
ORIGIN = (600000.0, 5000040.0)
OFFSET_FROM_BASELINE = '04.00'
CLOUD_REFLECTANCE = 0.6


def file_band(name: str) -> str:
    """'B4' -> 'B04' as in Sentinel-2 file names ('B8A' stays)."""
    return name if name == 'B8A' else f'B{int(name[1:]):02d}'


def synthetic_reflectance(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Smooth reflectance (0.02..0.5) of every band on the 10 m grid (size x size)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, band in enumerate(BANDS):
        coarse = rng.random((size // 6 + 2, size // 6 + 2)).astype(np.float32)
        field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        out[band] = np.clip(0.05 + 0.04 * i / len(BANDS) + 0.35 * field, 0.02, 0.5)
    return out


def _block_mean(array: np.ndarray, k: int) -> np.ndarray:
    h, w = array.shape
    return array.reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _write_jp2(path: Path, data: np.ndarray, res: int, origin: tuple[float, float] = ORIGIN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bands = data[None] if data.ndim == 2 else data
    profile = dict(driver='JP2OpenJPEG', width=bands.shape[2], height=bands.shape[1], count=bands.shape[0],
                   dtype=bands.dtype, crs=CRS, transform=Affine(res, 0, origin[0], 0, -res, origin[1]),
                   QUALITY=100, REVERSIBLE='YES')  # lossless: tests compare exact values
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(bands)


def _dn(reflectance: np.ndarray, baseline: str, nodata: np.ndarray | None) -> np.ndarray:
    offset = 1000 if baseline >= OFFSET_FROM_BASELINE else 0
    dn = np.rint(reflectance * 10000).astype(np.int64) + offset
    dn = np.clip(dn, 1, 65534).astype(np.uint16)
    if nodata is not None:
        dn[nodata] = 0
    return dn


def product_name(level: str, baseline: str, sensing: str = SENSING, tile: str = TILE) -> str:
    """Product name in the ESA convention, e.g. S2A_MSIL2A_20220101T101431_N0400_R022_T32TQM_20220101T130000."""
    return f'S2A_MSI{level}_{sensing}_N{baseline.replace(".", "")}_R022_{tile}_{sensing[:8]}T130000'


def write_product(out_dir: str | Path, level: str = 'L2A', baseline: str = '04.00', size: int = 60, seed: int = 0,
                  reflectance: dict[str, np.ndarray] | None = None,
                  cloud_block: Sequence[int] | None = None, nodata_block: Sequence[int] | None = None,
                  bands: Sequence[str] = BANDS, zip_it: bool = False, sensing: str = SENSING, tile: str = TILE,
                  origin: tuple[float, float] = ORIGIN) -> Path:
    """Write a Sentinel-2 product of ``size`` x ``size`` 10 m pixels (a multiple of 6); return its path.

    ``cloud_block`` (row0, col0, row1, col1 in 10 m pixels; multiples of 6 keep it exact in the 20 m
    SCL and the 60 m L1C mask): bright pixels flagged as cloud (SCL 9 / MSK_CLASSI opaque clouds).
    ``nodata_block``: DN 0 (no data) in every band. ``bands``: which band files to write.
    ``zip_it``: also zip the .SAFE folder (``NAME.zip`` holding ``NAME.SAFE/``) and return the zip.
    ``sensing`` (YYYYMMDDTHHMMSS), ``tile`` and ``origin`` (upper-left corner, UTM 32N metres): other
    dates (time series, composites) and other tiles.
    """
    if level not in ('L1C', 'L2A') or size % 6:
        raise ValueError('level must be L1C or L2A and size a multiple of 6 (10, 20 and 60 m grids)')
    refl = {b: np.asarray(v, np.float32).copy() for b, v in (reflectance or synthetic_reflectance(size, seed)).items()}
    cloud = np.zeros((size, size), bool)
    if cloud_block is not None:
        r0, c0, r1, c1 = cloud_block
        cloud[r0:r1, c0:c1] = True
        for band in refl.values():
            band[cloud] = CLOUD_REFLECTANCE
    nodata = None
    if nodata_block is not None:
        nodata = np.zeros((size, size), bool)
        r0, c0, r1, c1 = nodata_block
        nodata[r0:r1, c0:c1] = True
    name = product_name(level, baseline, sensing, tile)
    root = Path(out_dir) / f'{name}.SAFE'
    if root.exists():
        shutil.rmtree(root)
    granule = f'{level}_{tile}_A034000_{sensing}'
    img = root / 'GRANULE' / granule / 'IMG_DATA'
    image_files = []
    if level == 'L2A':
        for res, names in L2A_RESOLUTIONS.items():
            for band in names:
                if band not in bands:
                    continue
                k = res // 10
                rel = f'GRANULE/{granule}/IMG_DATA/R{res}m/{tile}_{sensing}_{file_band(band)}_{res}m'
                mask = None if nodata is None else _block_mean(nodata.astype(np.float32), k) > 0.5
                _write_jp2(root / f'{rel}.jp2', _dn(_block_mean(refl[band], k), baseline, mask), res, origin)
                image_files.append(rel)
        for res in (20, 60):
            scl = np.where(_block_mean(refl['B8'], res // 10) > 0.25, 4, 5).astype(np.uint8)  # vegetation / soil
            scl[_block_mean(cloud.astype(np.float32), res // 10) > 0.5] = 9
            if nodata is not None:
                scl[_block_mean(nodata.astype(np.float32), res // 10) > 0.5] = 0
            rel = f'GRANULE/{granule}/IMG_DATA/R{res}m/{tile}_{sensing}_SCL_{res}m'
            _write_jp2(root / f'{rel}.jp2', scl, res, origin)
            image_files.append(rel)
    else:
        for band in bands:
            res = NATIVE_RESOLUTION[band]
            k = res // 10
            rel = f'GRANULE/{granule}/IMG_DATA/{tile}_{sensing}_{file_band(band)}'
            mask = None if nodata is None else _block_mean(nodata.astype(np.float32), k) > 0.5
            _write_jp2(root / f'{rel}.jp2', _dn(_block_mean(refl[band], k), baseline, mask), res, origin)
            image_files.append(rel)
        qi = root / 'GRANULE' / granule / 'QI_DATA'
        if baseline >= OFFSET_FROM_BASELINE:
            classi = np.zeros((3, size // 6, size // 6), np.uint8)
            classi[0] = _block_mean(cloud.astype(np.float32), 6) > 0.5   # band 1: opaque clouds
            _write_jp2(qi / 'MSK_CLASSI_B00.jp2', classi, 60, origin)
        else:
            qi.mkdir(parents=True, exist_ok=True)
            (qi / 'MSK_CLOUDS_B00.gml').write_text(
                '<?xml version="1.0" encoding="UTF-8"?>\n<eop:Mask xmlns:eop="http://www.opengis.net/eop/2.0" '
                'xmlns:gml="http://www.opengis.net/gml/3.2"><eop:maskMembers/></eop:Mask>\n', encoding='utf-8')
    (root / f'MTD_MSI{level}.xml').write_text(_metadata(level, baseline, image_files, name), encoding='utf-8')
    if not zip_it:
        return root
    archive = Path(out_dir) / f'{name}.zip'
    with zipfile.ZipFile(archive, 'w', compression=zipfile.ZIP_STORED) as zf:  # as ESA's zips: JP2 stored
        for path in sorted(root.rglob('*')):
            zf.write(path, path.relative_to(root.parent).as_posix())
    return archive


def _metadata(level: str, baseline: str, image_files: Sequence[str], name: str) -> str:
    """MTD_MSIL1C.xml / MTD_MSIL2A.xml with the elements a reader of the radiometry needs."""
    with_offsets = baseline >= OFFSET_FROM_BASELINE
    if level == 'L2A':
        root = 'Level-2A_User_Product'
        quant = ('<QUANTIFICATION_VALUES_LIST>\n'
                 '        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>\n'
                 '        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>\n'
                 '      </QUANTIFICATION_VALUES_LIST>')
        offsets = ('<BOA_ADD_OFFSET_VALUES_LIST>' + ''.join(
            f'\n        <BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(len(BANDS)))
            + '\n      </BOA_ADD_OFFSET_VALUES_LIST>')
    else:
        root, quant = 'Level-1C_User_Product', '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
        offsets = ('<Radiometric_Offset_List>' + ''.join(
            f'\n        <RADIO_ADD_OFFSET band_id="{i}">-1000</RADIO_ADD_OFFSET>' for i in range(len(BANDS)))
            + '\n      </Radiometric_Offset_List>')
    files = ''.join(f'\n            <IMAGE_FILE>{f}</IMAGE_FILE>' for f in image_files)
    spectral = ''.join(f'\n        <Spectral_Information bandId="{i}" physicalBand="{b}">'
                       f'<RESOLUTION>{NATIVE_RESOLUTION[b]}</RESOLUTION></Spectral_Information>'
                       for i, b in enumerate(BANDS))
    ns = f'https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_{level.replace("L", "Level-")}.xsd'
    return f'''<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:{root} xmlns:n1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_URI>{name}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-{level[1:]}</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI{level[1:]}</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Product_Organisation>
        <Granule_List>
          <Granule imageFormat="JPEG2000">{files}
          </Granule>
        </Granule_List>
      </Product_Organisation>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
      </Special_Values>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX>
      </Special_Values>
      {quant}
      {offsets if with_offsets else ''}
      <Spectral_Information_List>{spectral}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:{root}>
'''


def main(argv: list[str] | None = None) -> Path:
    """Command line: write one product."""
    parser = argparse.ArgumentParser(description='Write a tiny synthetic Sentinel-2 L1C/L2A product (.SAFE or .zip)')
    parser.add_argument('out_dir')
    parser.add_argument('--level', choices=['L1C', 'L2A'], default='L2A')
    parser.add_argument('--baseline', default='04.00', help='processing baseline (offsets from 04.00)')
    parser.add_argument('--size', type=int, default=60, help='side in 10 m pixels (a multiple of 6)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cloud-block', type=int, nargs=4, metavar=('ROW0', 'COL0', 'ROW1', 'COL1'))
    parser.add_argument('--zip', action='store_true', help='also zip it and print the zip')
    args = parser.parse_args(argv)
    path = write_product(args.out_dir, args.level, args.baseline, args.size, args.seed,
                         cloud_block=args.cloud_block, zip_it=args.zip)
    print(path)
    return path


if __name__ == '__main__':
    main()
