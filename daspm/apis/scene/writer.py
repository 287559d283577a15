"""Where finished map rows go: a streaming tiled GeoTIFF (+ confidence, quicklook), or memory."""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.enums import Resampling

from ...classes import IGNORE_INDEX
from ...utils.class_map import CLASS_BAND_DESCRIPTION, class_map_tags
from ...utils.colors import colorize, colormap_table, save_map_with_legend
from .grid import OutputGrid

TILE = 256
CONFIDENCE_NODATA = 0  # the maximum softmax probability is never 0 (it is >= 1/K)


def confidence_to_dtype(confidence: np.ndarray, classes: np.ndarray, dtype: str) -> np.ndarray:
    """Max probability as float32, or uint8 0..255; nodata pixels (class 255) get CONFIDENCE_NODATA."""
    if dtype == 'float32':
        out = confidence.astype(np.float32, copy=True)
    else:
        out = np.rint(np.clip(confidence, 0.0, 1.0) * 255.0).astype(np.uint8)
        out[(out == 0) & (classes != IGNORE_INDEX)] = 1  # keep 0 for nodata only
    out[classes == IGNORE_INDEX] = CONFIDENCE_NODATA
    return out


class ArraySink:
    """Keeps the whole class map (and confidence) in memory: for tests, benchmarks and small scenes."""

    def __init__(self, grid: OutputGrid, with_confidence: bool = True) -> None:
        self.class_map = np.full((grid.height, grid.width), IGNORE_INDEX, np.uint8)
        self.confidence = np.zeros((grid.height, grid.width), np.float32) if with_confidence else None

    @property
    def wants_confidence(self) -> bool:
        """Whether the mapper should compute the confidence."""
        return self.confidence is not None

    def write_rows(self, y0: int, classes: np.ndarray, confidence: np.ndarray | None) -> None:
        """Store finished rows y0..y0+len(classes)."""
        self.class_map[y0:y0 + len(classes)] = classes
        if self.confidence is not None and confidence is not None:
            self.confidence[y0:y0 + len(classes)] = confidence

    def close(self) -> None:
        """Nothing to release."""


class Quicklook:
    """A decimated copy of the class map collected while rows stream by (no second pass over the file)."""

    def __init__(self, grid: OutputGrid, max_size: int = 2048) -> None:
        self.step = max(1, math.ceil(max(grid.height, grid.width) / max_size))
        self.rows: list[np.ndarray] = []

    def add_rows(self, y0: int, classes: np.ndarray) -> None:
        """Keep every ``step``-th row and column."""
        first = (-y0) % self.step
        self.rows.extend(classes[first::self.step, ::self.step].copy())

    def save(self, path: Path, classes: Sequence[str], palette: Sequence[Sequence[int]], title: str) -> Path:
        """Coloured PNG with a legend (written beside ``path`` first, then renamed)."""
        small = np.stack(self.rows) if self.rows else np.zeros((1, 1), np.uint8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.stem}.', suffix='.png', dir=path.parent)
        os.close(fd)
        try:
            save_map_with_legend(tmp, colorize(small, palette), classes, palette, title=title)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path


def class_map_profile(grid: OutputGrid, dtype: str = 'uint8', nodata: float | None = IGNORE_INDEX) -> dict:
    """Creation options of a map on ``grid``: tiled 256 x 256, DEFLATE, BigTIFF when needed."""
    return dict(driver='GTiff', height=grid.height, width=grid.width, count=1, dtype=dtype, crs=grid.crs,
                transform=grid.transform, nodata=nodata, tiled=True, blockxsize=TILE, blockysize=TILE,
                compress='deflate', bigtiff='IF_SAFER')


def _overview_factors(grid: OutputGrid) -> list[int]:
    factors, f = [], 2
    while max(grid.height, grid.width) / f >= TILE:
        factors.append(f)
        f *= 2
    return factors


class GeoTiffSink:
    """Streams finished rows into a tiled GeoTIFF class map (and confidence) in whole rows of tiles.

    Rows are buffered only until a full row of 256-pixel tiles is complete, so each compressed
    tile is written once and memory does not grow with the scene.
    """

    def __init__(self, grid: OutputGrid, map_path: Path, classes: Sequence[str], palette: Sequence[Sequence[int]],
                 confidence_path: Path | None = None, confidence_dtype: str = 'uint8',
                 quicklook: Quicklook | None = None, tags: dict[str, str] | None = None,
                 overviews: bool = False) -> None:
        self.grid = grid
        self.confidence_dtype = confidence_dtype
        self.quicklook = quicklook
        self.overviews = overviews
        self._map = rasterio.open(map_path, 'w', **class_map_profile(grid))
        self._conf = None
        try:
            self._map.set_band_description(1, CLASS_BAND_DESCRIPTION)
            self._map.write_colormap(1, colormap_table(palette))
            self._map.update_tags(**{**class_map_tags(classes), **(tags or {})})
            if confidence_path is not None:
                self._conf = rasterio.open(confidence_path, 'w',
                                           **class_map_profile(grid, confidence_dtype, CONFIDENCE_NODATA))
                scale = 'max softmax probability' + (' x 255' if confidence_dtype == 'uint8' else '')
                self._conf.set_band_description(1, scale)
                self._conf.update_tags(**(tags or {}))
        except Exception:
            self._close_files()
            raise
        self._pending_cls: list[np.ndarray] = []
        self._pending_conf: list[np.ndarray] = []
        self._pending_rows = 0
        self._next_row = 0

    @property
    def wants_confidence(self) -> bool:
        """Whether the mapper should compute the confidence."""
        return self._conf is not None

    def write_rows(self, y0: int, classes: np.ndarray, confidence: np.ndarray | None) -> None:
        """Buffer finished rows (in order) and write every complete row of tiles."""
        assert y0 == self._next_row + self._pending_rows, 'rows must arrive in order'
        if self.quicklook is not None:
            self.quicklook.add_rows(y0, classes)
        self._pending_cls.append(classes.copy())  # the caller reuses its row buffer
        if self._conf is not None:
            self._pending_conf.append(confidence_to_dtype(confidence, classes, self.confidence_dtype))
        self._pending_rows += len(classes)
        complete = (self._pending_rows // TILE) * TILE
        if complete:
            self._flush(complete)

    def _flush(self, rows: int) -> None:
        cls = np.concatenate(self._pending_cls) if len(self._pending_cls) > 1 else self._pending_cls[0]
        window = rasterio.windows.Window(0, self._next_row, self.grid.width, rows)
        self._map.write(cls[:rows], 1, window=window)
        self._pending_cls = [cls[rows:]] if rows < len(cls) else []
        if self._conf is not None:
            conf = np.concatenate(self._pending_conf) if len(self._pending_conf) > 1 else self._pending_conf[0]
            self._conf.write(conf[:rows], 1, window=window)
            self._pending_conf = [conf[rows:]] if rows < len(conf) else []
        self._next_row += rows
        self._pending_rows -= rows

    def close(self) -> None:
        """Write the last rows, build overviews if asked, and close the files."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        if self._next_row != self.grid.height:
            raise RuntimeError(f'only {self._next_row} of {self.grid.height} map rows were written')
        if self.overviews and _overview_factors(self.grid):
            self._map.build_overviews(_overview_factors(self.grid), Resampling.mode)
            self._map.update_tags(ns='rio_overview', resampling='mode')
            if self._conf is not None:
                self._conf.build_overviews(_overview_factors(self.grid), Resampling.average)
        self._close_files()

    def _close_files(self) -> None:
        for dst in (self._map, self._conf):
            if dst is not None and not dst.closed:
                dst.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the temporary files)."""
        self._close_files()


def write_category_names(map_path: Path, classes: Sequence[str], palette: Sequence[Sequence[int]]) -> Path:
    """GDAL category names and a thematic raster attribute table in ``<map>.aux.xml`` (QGIS/GDAL legends)."""
    fields = [('Value', 0, 5), ('Class', 2, 2), ('Red', 0, 6), ('Green', 0, 7), ('Blue', 0, 8)]
    lines = ['<PAMDataset>', '  <PAMRasterBand band="1">', '    <CategoryNames>']
    lines += [f'      <Category>{escape(name)}</Category>' for name in classes]
    lines += ['    </CategoryNames>', '    <GDALRasterAttributeTable tableType="thematic">']
    lines += [f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{kind}</Type><Usage>{usage}</Usage></FieldDefn>'
              for i, (name, kind, usage) in enumerate(fields)]
    for i, (name, rgb) in enumerate(zip(classes, palette)):
        cells = [str(i), escape(name), *(str(int(c)) for c in rgb[:3])]
        lines.append(f'      <Row index="{i}">' + ''.join(f'<F>{c}</F>' for c in cells) + '</Row>')
    lines += ['    </GDALRasterAttributeTable>', '  </PAMRasterBand>', '</PAMDataset>', '']
    aux = Path(f'{map_path}.aux.xml')
    fd, tmp = tempfile.mkstemp(prefix=f'.{aux.name}.', dir=aux.parent)
    with os.fdopen(fd, 'w', encoding='utf-8') as fh:
        fh.write('\n'.join(lines))
    os.replace(tmp, aux)
    return aux
