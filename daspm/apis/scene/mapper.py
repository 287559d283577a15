"""Map a whole scene window by window: batched forward passes, seamless blending, bounded memory."""
from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import rasterio
import torch
from rasterio.windows import Window
from tqdm import tqdm

from ...classes import IGNORE_INDEX
from ...utils.errors import DaspmInputError
from ...utils.raster import atomic_output
from .grid import OutputGrid, WindowPlan, output_grid, plan_windows, resolve_aoi
from .inputs import SceneSource, open_scene
from .predictor import as_predictor, class_table, predictor_device
from .resample import FineWindowReader, value_range
from .spec import InputSpec
from .writer import ArraySink, GeoTiffSink, Quicklook, write_category_names

_AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
# GDAL's block cache (default 5% of RAM) would keep output tiles and input blocks of the whole
# scene: cap it. Decoding JPEG 2000 blocks is slow, so those keep a row of blocks of every band.
GDAL_CACHE_MB = 64
GDAL_CACHE_MB_JP2 = 512


def gdal_cache_mb(source: SceneSource) -> int | None:
    """GDAL block cache size for mapping ``source`` (None: the user set GDAL_CACHEMAX)."""
    if 'GDAL_CACHEMAX' in os.environ:
        return None
    jp2 = any(p.suffix.lower() in ('.jp2', '.j2k') for p in getattr(source, 'files', []))
    return GDAL_CACHE_MB_JP2 if jp2 else GDAL_CACHE_MB


class StreamingBlender:
    """Accumulates weighted softmax probabilities of windows arriving in row-major order.

    State: one window of accumulators for the current window row, and a full-width strip of
    ``plan.carry_rows()`` rows (the overlap with the next window row). Columns are finished as
    soon as the last window touching them is in; rows of a window row that the next one does
    not reach go to the sink at the end of the row. So memory is ~ (K+1) x overlap x width floats,
    not (K+1) x height x width.
    """

    def __init__(self, plan: WindowPlan, num_classes: int, sink, want_confidence: bool) -> None:
        self.plan, self.k, self.sink = plan, num_classes, sink
        self.want_confidence = want_confidence
        self.carry = np.zeros((num_classes + 1, plan.carry_rows(), plan.width), np.float32)
        self.acc = np.zeros((num_classes + 1, plan.win_h, plan.win_w), np.float32)
        final_rows = max([b - a for a, b in zip(plan.ys, plan.ys[1:])] + [plan.win_h])
        self.band_cls = np.empty((final_rows, plan.width), np.uint8)
        self.band_conf = np.empty((final_rows, plan.width), np.float32) if want_confidence else None

    def _rows(self, iy: int) -> tuple[int, int, int]:
        """(carry-in rows, finished rows, carry-out rows) of window row ``iy``."""
        ys, h = self.plan.ys, self.plan.win_h
        ov_in = ys[iy - 1] + h - ys[iy] if iy > 0 else 0
        final = ys[iy + 1] - ys[iy] if iy + 1 < len(ys) else h
        return ov_in, final, h - final

    def add(self, iy: int, ix: int, contribution: np.ndarray | None) -> None:
        """Add window (iy, ix): (K+1, win_h, win_w) = weighted probabilities + weight; None if skipped."""
        plan, acc = self.plan, self.acc
        ov_in, final, ov_out = self._rows(iy)
        x = plan.xs[ix]
        if ix == 0:
            acc[:] = 0.0
            acc[:, :ov_in] = self.carry[:, :ov_in, :plan.win_w]
        else:
            shift = x - plan.xs[ix - 1]
            # columns before x are finished; move the rest to the front and load the new ones
            acc[:, :, :plan.win_w - shift] = acc[:, :, shift:].copy()
            acc[:, :, plan.win_w - shift:] = 0.0
            start = plan.xs[ix - 1] + plan.win_w
            acc[:, :ov_in, plan.win_w - shift:] = self.carry[:, :ov_in, start:start + shift]
        if contribution is not None:
            acc += contribution
        x_next = plan.xs[ix + 1] if ix + 1 < len(plan.xs) else plan.width
        done = acc[:, :, :x_next - x]
        self._finish(done[:, :final], x)
        self.carry[:, :ov_out, x:x_next] = done[:, final:]
        if ix + 1 == len(plan.xs):
            conf = self.band_conf[:final] if self.band_conf is not None else None
            self.sink.write_rows(plan.ys[iy], self.band_cls[:final], conf)

    def _finish(self, block: np.ndarray, x: int) -> None:
        """Class ids (255 where no window saw valid data) and confidence of finished pixels."""
        probs, weight = block[:self.k], block[self.k]
        cols = slice(x, x + block.shape[2])
        valid = weight > 0
        cls = probs.argmax(axis=0).astype(np.uint8)
        cls[~valid] = IGNORE_INDEX
        rows = block.shape[1]
        self.band_cls[:rows, cols] = cls
        if self.band_conf is not None:
            conf = probs.max(axis=0) / np.where(valid, weight, 1.0)
            self.band_conf[:rows, cols] = np.where(valid, conf, 0.0)


@dataclass
class MappingResult:
    """What a mapping run produced and how it went."""

    grid: OutputGrid
    windows: int
    skipped_windows: int
    batches: int
    seconds: float
    outputs: dict[str, Path] = field(default_factory=dict)
    sink: object = None            # where the rows went (an ArraySink holds the arrays)

    @property
    def megapixels_per_second(self) -> float:
        """Output megapixels per second of wall time."""
        return self.grid.height * self.grid.width / 1e6 / max(self.seconds, 1e-9)


def _autocast(device: torch.device, amp: str | None):
    if amp is None:
        return contextlib.nullcontext()
    if amp not in _AMP_DTYPES:
        raise DaspmInputError(f'--amp {amp}: choose bf16 or fp16')
    if device.type == 'cpu' and amp == 'fp16':
        raise DaspmInputError('--amp fp16 needs a GPU; on the CPU use --amp bf16 or no --amp')
    return torch.autocast(device_type=device.type, dtype=_AMP_DTYPES[amp])


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def map_scene(source: SceneSource, predictor, spec: InputSpec, sink=None, *, aoi: Window | None = None,
              window_size: int = 512, overlap: int = 128, batch_size: int = 4, amp: str | None = None,
              progress: bool = True, grid: OutputGrid | None = None) -> MappingResult:
    """Predict the class map of ``source`` (or its ``aoi``) on the fine grid of ``spec`` into ``sink``.

    ``predictor`` is an mmseg segmentor or any WindowPredictor. Windows of ``window_size`` output
    pixels overlapping by >= ``overlap`` run ``batch_size`` at a time; their softmax
    probabilities are blended with ramp weights; windows with no valid input pixel are skipped.
    ``sink`` defaults to an in-memory ArraySink (``result.outputs`` is then empty; read the sink).
    """
    predictor = as_predictor(predictor)
    device = predictor_device(predictor)
    _autocast(device, amp)  # refuse a bad --amp before any work
    if batch_size < 1:
        raise DaspmInputError(f'--batch-size {batch_size}: must be at least 1')
    aoi = aoi if aoi is not None else Window(0, 0, source.width, source.height)
    grid = grid or output_grid(source, aoi, spec.factor(source.gsd(spec.loader.nominal_gsd)))
    plan = plan_windows(grid.height, grid.width, window_size, overlap)
    sink = sink if sink is not None else ArraySink(grid)
    start = time.perf_counter()
    needs_range = grid.factor != 1.0 and spec.interpolation != 'nearest'
    reader = FineWindowReader(source, spec, grid,
                              value_range(source, spec, grid.aoi, progress) if needs_range else None)
    weights = torch.from_numpy(plan.weights()).to(device)
    blender = StreamingBlender(plan, predictor.num_classes, sink, sink.wants_confidence)
    order = [(iy, ix) for iy in range(len(plan.ys)) for ix in range(len(plan.xs))]

    def load(batch: list[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [reader.read(plan.ys[iy], plan.xs[ix], plan.win_h, plan.win_w) for iy, ix in batch]

    skipped = batches = 0
    bar = tqdm(total=len(order), desc='mapping', unit='win', disable=not progress, dynamic_ncols=True)
    # reading + resampling the next batch overlaps the forward pass of this one
    with bar, ThreadPoolExecutor(max_workers=1) as pool, torch.inference_mode():
        chunks = list(_batches(order, batch_size))
        future = pool.submit(load, chunks[0])
        for n, chunk in enumerate(chunks):
            windows = future.result()
            if n + 1 < len(chunks):
                future = pool.submit(load, chunks[n + 1])
            live = [i for i, (_, nodata) in enumerate(windows) if not nodata.all()]
            contributions: list[np.ndarray | None] = [None] * len(chunk)
            if live:
                images = torch.from_numpy(np.stack([windows[i][0] for i in live])).to(device)
                valid = torch.from_numpy(np.stack([~windows[i][1] for i in live])).to(device)
                with _autocast(device, amp):
                    logits = predictor(images)
                probs = torch.softmax(logits.float(), dim=1)
                w = (weights * valid)[:, None]
                stacked = torch.cat([probs * w, w], dim=1).cpu().numpy()
                for j, i in enumerate(live):
                    contributions[i] = stacked[j]
                batches += 1
            skipped += len(chunk) - len(live)
            for (iy, ix), contribution in zip(chunk, contributions):
                blender.add(iy, ix, contribution)
            bar.update(len(chunk))
            bar.set_postfix(skipped=skipped, refresh=False)
    return MappingResult(grid=grid, windows=len(order), skipped_windows=skipped, batches=batches,
                         seconds=time.perf_counter() - start, sink=sink)


def check_outputs(paths: Sequence[Path | None], overwrite: bool) -> None:
    """Refuse to replace existing outputs unless ``overwrite``; refuse one path used twice."""
    given = [Path(p) for p in paths if p is not None]
    if len({p.resolve() for p in given}) != len(given):
        raise DaspmInputError(f'the same path is given for two outputs: {[str(p) for p in given]}')
    for path in given:
        if path.exists() and not overwrite:
            raise DaspmInputError(f'{path} exists; pass --overwrite to replace it, or choose another --out')
        if path.is_dir():
            raise DaspmInputError(f'{path} is a directory; give a file name such as map.tif')


def map_scene_to_files(inputs: Sequence[str | Path], predictor, spec: InputSpec, out: str | Path, *,
                       confidence: str | Path | None = None, confidence_dtype: str = 'uint8',
                       quicklook: str | Path | None = None, overwrite: bool = False,
                       bbox: Sequence[float] | None = None, window: Sequence[int] | None = None,
                       nodata: float | None = None, band_resampling: str = 'bilinear',
                       window_size: int = 512, overlap: int = 128, batch_size: int = 4, amp: str | None = None,
                       overviews: bool = False, progress: bool = True, tags: dict[str, str] | None = None,
                       ) -> MappingResult:
    """Map a scene file/product to a GeoTIFF class map (written atomically) and optional side outputs."""
    out = Path(out)
    conf_path = Path(confidence) if confidence else None
    look_path = Path(quicklook) if quicklook else None
    check_outputs([out, conf_path, look_path], overwrite)
    if confidence_dtype not in ('uint8', 'float32'):
        raise DaspmInputError(f'--confidence-dtype {confidence_dtype}: choose uint8 or float32')
    predictor = as_predictor(predictor)
    classes, palette = class_table(predictor)
    with open_scene(inputs, spec, nodata=nodata, band_resampling=band_resampling) as source, \
            rasterio.Env(**({'GDAL_CACHEMAX': gdal_cache_mb(source)} if gdal_cache_mb(source) else {})):
        aoi = resolve_aoi(source, bbox=bbox, window=window)
        grid = output_grid(source, aoi, spec.factor(source.gsd(spec.loader.nominal_gsd)))
        look = Quicklook(grid) if look_path else None
        all_tags = {'SUBPIXEL_FACTOR': f'{grid.factor:g}', 'SOURCE': source.label,
                    'BANDS': ','.join(source.band_names), 'AOI_INPUT_WINDOW':
                    f'{int(aoi.col_off)} {int(aoi.row_off)} {int(aoi.width)} {int(aoi.height)}',
                    'WINDOW_SIZE': str(window_size), 'OVERLAP': str(overlap), **(tags or {})}
        with contextlib.ExitStack() as stack:
            tmp_map = stack.enter_context(atomic_output(out))
            tmp_conf = stack.enter_context(atomic_output(conf_path)) if conf_path else None
            sink = GeoTiffSink(grid, tmp_map, classes, palette, confidence_path=tmp_conf,
                               confidence_dtype=confidence_dtype, quicklook=look, tags=all_tags,
                               overviews=overviews)
            try:
                result = map_scene(source, predictor, spec, sink, aoi=aoi, window_size=window_size,
                                   overlap=overlap, batch_size=batch_size, amp=amp, progress=progress, grid=grid)
                sink.close()
            except BaseException:
                sink.abort()
                _remove_side_files(tmp_map, tmp_conf)
                raise
            _remove_side_files(tmp_map, tmp_conf)
    result.outputs['map'] = out
    result.outputs['categories'] = write_category_names(out, classes, palette)
    if conf_path:
        result.outputs['confidence'] = conf_path
    if look is not None:
        title = f'{out.name}  ({grid.width}x{grid.height} px, x{grid.factor:g} sub-pixel grid)'
        result.outputs['quicklook'] = look.save(look_path, classes, palette, title)
    return result


def _remove_side_files(*paths: Path | None) -> None:
    """GDAL may leave ``<tmp>.aux.xml`` / ``<tmp>.ovr`` beside temporary outputs: remove them."""
    for path in paths:
        if path is None:
            continue
        for suffix in ('.aux.xml', '.ovr', '.msk'):
            side = Path(f'{path}{suffix}')
            if side.exists():
                side.unlink()


def default_batch_size(device: str | torch.device) -> int:
    """Windows per forward pass: 4 on a GPU; 1 on the CPU, where a batch of 4 windows of 512 px was
    slower than 4 single windows (memory-bound dilated convolutions; benchmarks/scene_throughput.py)."""
    return 4 if torch.device(device).type == 'cuda' else 1


def default_device() -> str:
    """'cuda' when a GPU is visible, else 'cpu'."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def describe(result: MappingResult) -> str:
    """One-paragraph summary of a run for the CLI."""
    g = result.grid
    left = g.transform.c
    top = g.transform.f
    lines = [f'map: {g.width}x{g.height} px on the x{g.factor:g} grid (pixel {abs(g.transform.a):g} x '
             f'{abs(g.transform.e):g}, origin {left:.2f} {top:.2f}, {g.crs})',
             f'windows: {result.windows} ({result.skipped_windows} without valid data skipped) in '
             f'{result.batches} batches; {result.seconds:.1f} s = {result.megapixels_per_second:.2f} output Mpx/s']
    lines += [f'{name}: {path}' for name, path in result.outputs.items()]
    return '\n'.join(lines)

