"""The plan of one map, built once and handed down: outputs checked, area resolved, output grid laid."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from rasterio.windows import Window

from ..utils.errors import DaspmInputError
from .grid import OutputGrid, output_grid, resolve_aoi
from .inputs import SceneSource
from .sentinel2 import DEFAULT_MASK_CLASSES
from .spec import InputSpec

SIDE_OUTPUTS = ('confidence', 'probabilities', 'uncertainty')


@dataclass
class MapOptions:
    """How a scene is read, predicted and written (the options of ``daspm-map`` as one record)."""

    window_size: int = 512                 # window side in output pixels
    overlap: int = 128                     # minimum window overlap in output pixels
    batch_size: int = 4                    # windows per forward pass
    workers: int | None = None             # batches in flight at once (None: see map_scene)
    amp: str | None = None                 # autocast dtype: 'bf16', 'fp16' or None
    progress: bool = True
    confidence_dtype: Literal['uint8', 'float32'] = 'uint8'
    nodata: float | None = None            # input value meaning no data (None: the files' own)
    band_resampling: str = 'bilinear'      # how 20 m / 60 m bands reach the 10 m grid
    mask_classes: Sequence[int] | None = DEFAULT_MASK_CLASSES
    bbox: Sequence[float] | None = None    # area of interest in the input's CRS ...
    window: Sequence[int] | None = None    # ... or in input pixels
    overwrite: bool = False
    overviews: bool = True                 # kept for compatibility: COGs always have overviews
    sidecar: bool = True                   # also write <map>.json
    tags: dict[str, str] | None = None     # extra GeoTIFF tags of the map
    info: dict | None = None               # extra entries of the sidecar (config, checkpoint, ...)

    def check(self) -> None:
        """Refuse option values no run can use (one line, before any work)."""
        if self.confidence_dtype not in ('uint8', 'float32'):
            raise DaspmInputError(f'--confidence-dtype {self.confidence_dtype}: choose uint8 or float32')


@dataclass
class OutputPaths:
    """Where one map and its side outputs go: ``finals`` are the rasters (the map first), then the quicklook."""

    finals: dict[str, Path]
    quicklook: Path | None = None

    @classmethod
    def of(cls, out: str | Path, confidence: str | Path | None = None, probabilities: str | Path | None = None,
           uncertainty: str | Path | None = None, quicklook: str | Path | None = None) -> OutputPaths:
        """The paths given for a map (side outputs without a path are not written)."""
        finals = {'map': Path(out)}
        for name, path in zip(SIDE_OUTPUTS, (confidence, probabilities, uncertainty)):
            if path:
                finals[name] = Path(path)
        return cls(finals, Path(quicklook) if quicklook else None)

    @property
    def map(self) -> Path:
        """The class map."""
        return self.finals['map']


@dataclass
class ScenePlan:
    """One open scene and what is mapped of it: the area (input pixels) and the fine output grid."""

    source: SceneSource
    aoi: Window
    grid: OutputGrid

    def describe(self) -> str:
        """One line for the user before the model loads: input size and bands, map size and factor."""
        s, g = self.source, self.grid
        return (f'{s.label}: {s.width}x{s.height} px, bands {s.band_names} -> '
                f'{g.width}x{g.height} px map (x{g.factor:g})')


def plan_scene(source: SceneSource, spec: InputSpec, bbox: Sequence[float] | None = None,
               window: Sequence[int] | None = None) -> ScenePlan:
    """Resolve the area of interest of an open ``source`` and lay the output grid of ``spec`` over it."""
    aoi = resolve_aoi(source, bbox=bbox, window=window)
    grid = output_grid(source, aoi, spec.factor(source.gsd(spec.loader.nominal_gsd)))
    return ScenePlan(source, aoi, grid)
