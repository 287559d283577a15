"""Where finished map rows go: a streaming tiled GeoTIFF (+ confidence, probabilities, uncertainty,
quicklook), or memory. map_scene_to_files turns the finished GeoTIFFs into Cloud Optimized GeoTIFFs."""
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

from ..classes import IGNORE_INDEX
from ..utils.class_map import CLASS_BAND_DESCRIPTION, class_map_tags
from ..utils.colors import colorize, colormap_table, save_map_with_legend
from .grid import OutputGrid

TILE = 256
CONFIDENCE_NODATA = 0  # the maximum softmax probability is never 0 (it is >= 1/K)
# Class probabilities and uncertainty as uint8: value / 254 (GDAL band scale), 255 = no data.
# (0 is a real probability, so unlike the confidence it cannot mean "no data".)
PROBABILITY_SCALE = 254.0
PROBABILITY_NODATA = 255
UNCERTAINTY_DESCRIPTION = 'normalised entropy of the class probabilities (0 certain .. 1 uniform)'


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

    def __init__(self, grid: OutputGrid, with_confidence: bool = True, num_classes: int | None = None,
                 with_uncertainty: bool = False) -> None:
        self.class_map = np.full((grid.height, grid.width), IGNORE_INDEX, np.uint8)
        self.confidence = np.zeros((grid.height, grid.width), np.float32) if with_confidence else None
        # uint8 probabilities (K, H, W) when num_classes is given, and the uint8 uncertainty
        self.probabilities = (np.full((num_classes, grid.height, grid.width), PROBABILITY_NODATA, np.uint8)
                              if num_classes else None)
        self.uncertainty = (np.full((grid.height, grid.width), PROBABILITY_NODATA, np.uint8)
                            if with_uncertainty else None)

    @property
    def wants_confidence(self) -> bool:
        """Whether the mapper should compute the confidence."""
        return self.confidence is not None

    @property
    def wants_probabilities(self) -> bool:
        """Whether the mapper should pass the class probabilities."""
        return self.probabilities is not None

    @property
    def wants_uncertainty(self) -> bool:
        """Whether the mapper should pass the uncertainty."""
        return self.uncertainty is not None

    def write_rows(self, y0: int, classes: np.ndarray, confidence: np.ndarray | None,
                   extras: dict[str, np.ndarray] | None = None) -> None:
        """Store finished rows y0..y0+len(classes)."""
        rows = slice(y0, y0 + len(classes))
        self.class_map[rows] = classes
        if self.confidence is not None and confidence is not None:
            self.confidence[rows] = confidence
        for name, value in (extras or {}).items():
            getattr(self, name)[..., rows, :] = value

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


def overview_factors(grid: OutputGrid) -> list[int]:
    """Overview levels (2, 4, ...) while the overview is still at least a tile wide."""
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
                 overviews: bool = False, probabilities_path: Path | None = None,
                 uncertainty_path: Path | None = None) -> None:
        self.grid = grid
        self.confidence_dtype = confidence_dtype
        self.quicklook = quicklook
        self.overviews = overviews
        self._map = rasterio.open(map_path, 'w', **class_map_profile(grid))
        self._conf = self._probs = self._unc = None
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
            if probabilities_path is not None:
                profile = {**class_map_profile(grid, 'uint8', PROBABILITY_NODATA), 'count': len(classes)}
                self._probs = rasterio.open(probabilities_path, 'w', **profile)
                for band, name in enumerate(classes, start=1):
                    self._probs.set_band_description(band, name)
                self._probs.scales = [1.0 / PROBABILITY_SCALE] * len(classes)
                self._probs.update_tags(**{**(tags or {}), 'VALUES': 'class probability x 254 (255 = no data)'})
            if uncertainty_path is not None:
                self._unc = rasterio.open(uncertainty_path, 'w',
                                          **class_map_profile(grid, 'uint8', PROBABILITY_NODATA))
                self._unc.set_band_description(1, UNCERTAINTY_DESCRIPTION)
                self._unc.scales = [1.0 / PROBABILITY_SCALE]
                self._unc.update_tags(**{**(tags or {}), 'VALUES': 'normalised entropy x 254 (255 = no data)'})
        except Exception:
            self._close_files()
            raise
        self._pending_cls: list[np.ndarray] = []
        self._pending_conf: list[np.ndarray] = []
        self._pending_extras: dict[str, list[np.ndarray]] = {'probabilities': [], 'uncertainty': []}
        self._pending_rows = 0
        self._next_row = 0

    @property
    def wants_confidence(self) -> bool:
        """Whether the mapper should compute the confidence."""
        return self._conf is not None

    @property
    def wants_probabilities(self) -> bool:
        """Whether the mapper should pass the class probabilities."""
        return self._probs is not None

    @property
    def wants_uncertainty(self) -> bool:
        """Whether the mapper should pass the uncertainty."""
        return self._unc is not None

    def write_rows(self, y0: int, classes: np.ndarray, confidence: np.ndarray | None,
                   extras: dict[str, np.ndarray] | None = None) -> None:
        """Buffer finished rows (in order) and write every complete row of tiles."""
        assert y0 == self._next_row + self._pending_rows, 'rows must arrive in order'
        if self.quicklook is not None:
            self.quicklook.add_rows(y0, classes)
        self._pending_cls.append(classes.copy())  # the caller reuses its row buffer
        if self._conf is not None:
            self._pending_conf.append(confidence_to_dtype(confidence, classes, self.confidence_dtype))
        for name, dst in (('probabilities', self._probs), ('uncertainty', self._unc)):
            if dst is not None:
                self._pending_extras[name].append(extras[name].copy())
        self._pending_rows += len(classes)
        complete = (self._pending_rows // TILE) * TILE
        if complete:
            self._flush(complete)

    def _flush(self, rows: int) -> None:
        window = rasterio.windows.Window(0, self._next_row, self.grid.width, rows)
        self._pending_cls = _write_rows(self._map, self._pending_cls, rows, window)
        if self._conf is not None:
            self._pending_conf = _write_rows(self._conf, self._pending_conf, rows, window)
        for name, dst in (('probabilities', self._probs), ('uncertainty', self._unc)):
            if dst is not None:
                self._pending_extras[name] = _write_rows(dst, self._pending_extras[name], rows, window)
        self._next_row += rows
        self._pending_rows -= rows

    def update_tags(self, tags: dict[str, str]) -> None:
        """Add tags known only at the end (masked share, ...) to the class map."""
        self._map.update_tags(**tags)

    def close(self) -> None:
        """Write the last rows, build overviews if asked, and close the files."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        if self._next_row != self.grid.height:
            raise RuntimeError(f'only {self._next_row} of {self.grid.height} map rows were written')
        if self.overviews and overview_factors(self.grid):
            self._map.build_overviews(overview_factors(self.grid), Resampling.mode)
            self._map.update_tags(ns='rio_overview', resampling='mode')
            if self._conf is not None:
                self._conf.build_overviews(overview_factors(self.grid), Resampling.average)
        self._close_files()

    def _close_files(self) -> None:
        for dst in (self._map, self._conf, self._probs, self._unc):
            if dst is not None and not dst.closed:
                dst.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the temporary files)."""
        self._close_files()


def _write_rows(dst, pending: list[np.ndarray], rows: int, window) -> list[np.ndarray]:
    """Write the first ``rows`` buffered rows ((H, W) or (bands, H, W) pieces) to ``dst``; return the rest."""
    data = np.concatenate(pending, axis=-2) if len(pending) > 1 else pending[0]
    if data.ndim == 2:
        dst.write(data[:rows], 1, window=window)
    else:
        dst.write(data[:, :rows], window=window)
    return [data[..., rows:, :]] if rows < data.shape[-2] else []


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
