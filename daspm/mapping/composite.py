"""Several dates of one tile, one map: each date predicted where it is clear, the probabilities combined.

    open_dates (one source per date; grid and bands checked before anything is written)
      -> map_composite (window by window: read every date's window, forward passes over the
         dates clear in it, their weighted probabilities summed -> the mapper's StreamingBlender;
         the number of clear dates -> ClearCounter)
      -> composite_to_files (COGs: map, count, side outputs; the sidecar lists every date)

Rule ``mean`` (default): at a pixel the class probabilities of the dates clear there, each blended
over windows as the single-date mapper blends them, are averaged with equal weight; the map is
their argmax. Summing ``ramp x clear x p`` of all dates into one blender gives exactly that, since
a pixel is clear or not on a date in every window alike; where one date alone is clear, the
other dates add exact zeros, so the composite equals that date's single-date map. Rule
``confidence``: each date's probabilities weighted by their maximum (the window's confidence),
so a confident clear view outweighs a hazy one. Pixels clear on no date are nodata (255).

Memory: the dates share one output grid, one window plan and one blender; the dates of a window go
through the model one at a time (``batch_size``) and are summed as they come, so each extra date
adds its window of input (two: one read ahead), never a strip, a whole date or a larger forward pass.
Inputs must lie on one grid (one tile): different grids are refused, not resampled.
"""
from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import rasterio
import torch
from rasterio.windows import Window
from tqdm import tqdm

from ..utils.errors import DaspmInputError
from ..utils.raster import atomic_output, convert_to_cog
from .acquisition import sensing_time
from .grid import OutputGrid, WindowPlan, output_grid, plan_windows
from .inputs import SceneSource, naming_read_failures, open_scene
from .mapper import (MappingResult, StreamingBlender, _autocast, _stack_on, gdal_cache_mb, prepare_outputs,
                     sidecar_path, write_sidecar)
from .predictor import as_predictor, class_table, predictor_device
from .resample import FineWindowReader, value_range
from .plan import MapOptions, OutputPaths, ScenePlan, plan_scene
from .spec import InputSpec
from .writer import TILE, ArraySink, GeoTiffSink, Quicklook, overview_factors, write_category_names

Rule = Literal['mean', 'confidence']
RULES = ('mean', 'confidence')
COUNT_DESCRIPTION = 'number of dates clear (data, not masked) at the pixel'


def count_path(map_path: str | Path) -> Path:
    """The clear-date count beside a composite: map.tif -> map_count.tif."""
    map_path = Path(map_path)
    return map_path.with_name(f'{map_path.stem}_count{map_path.suffix}')


def open_dates(inputs: Sequence[str | Path], spec: InputSpec, stack: contextlib.ExitStack,
               **open_options) -> list[SceneSource]:
    """Open each input (a product or a band folder: one date) for the lifetime of ``stack``.

    The dates must share the grid (CRS, transform, size) and the selected bands of the first one.
    """
    sources = [stack.enter_context(open_scene([path], spec, **open_options)) for path in inputs]
    first = sources[0]
    for path, source in zip(inputs[1:], sources[1:]):
        if (source.crs, source.transform, source.width, source.height) != \
                (first.crs, first.transform, first.width, first.height):
            raise DaspmInputError(
                f'{path} is not on the grid of {inputs[0]} ({source.width}x{source.height} px at '
                f'{tuple(source.transform)[:6]} in {source.crs} vs {first.width}x{first.height} px at '
                f'{tuple(first.transform)[:6]} in {first.crs}): a composite takes dates of one tile; map other '
                'tiles separately (dates are not resampled onto one grid)')
        if list(source.band_names) != list(first.band_names):
            raise DaspmInputError(f'{path} gives bands {list(source.band_names)}, {inputs[0]} gives '
                                  f'{list(first.band_names)}: every date needs the bands of the config')
        if source.harmonised != first.harmonised:
            kinds = {True: "a Sentinel-2 product (its offsets applied)", False: "band files (no product offsets)"}
            raise DaspmInputError(f'{path} is {kinds[source.harmonised]}, {inputs[0]} is {kinds[first.harmonised]}: '
                                  'give every date in the same form, all products or all band folders')
    return sources


@dataclass
class CompositeResult(MappingResult):
    """A MappingResult with what the dates brought: the count sink, clear pixels and records per date."""

    count_sink: object = None
    clear_pixels: list[int] = field(default_factory=list)   # per date, on the output grid
    dates: list[dict] = field(default_factory=list)         # per date: input, product, sensing time, clear share


_LEAVE_OUT = 'download it again, or leave this date out of the composite'


class ClearCounter:
    """Per-pixel number of clear dates, written row by row in the blender's order (no carried state)."""

    def __init__(self, plan: WindowPlan, sink, dates: int) -> None:
        self.plan, self.sink = plan, sink
        self.rows = np.zeros((plan.win_h, plan.width), np.uint8)
        self.clear_pixels = np.zeros(dates, np.int64)  # per date, on the output grid

    def add(self, iy: int, ix: int, clear: np.ndarray) -> None:
        """Count window (iy, ix) from its (dates, win_h, win_w) clear masks; its finished part only."""
        plan = self.plan
        final = plan.ys[iy + 1] - plan.ys[iy] if iy + 1 < len(plan.ys) else plan.win_h
        x = plan.xs[ix]
        x_next = plan.xs[ix + 1] if ix + 1 < len(plan.xs) else plan.width
        part = clear[:, :final, :x_next - x]
        self.rows[:final, x:x_next] = part.sum(axis=0)
        self.clear_pixels += part.sum(axis=(1, 2))
        if ix + 1 == len(plan.xs):
            self.sink.write_rows(plan.ys[iy], self.rows[:final], None)


def _contribution(windows: list, predictor, weights: torch.Tensor, rule: Rule, device: torch.device,
                  amp: str | None, batch_size: int = 1) -> tuple[torch.Tensor | None, np.ndarray]:
    """(K+2, h, w): the dates' weighted probabilities summed, their weight, and the pixels masked on every date.

    Also returns the (dates, h, w) clear masks. None when the window has neither clear nor masked pixels.
    The clear dates go through the model ``batch_size`` at a time and are summed as they come, so
    an extra date costs one window of input, not a larger forward pass.
    """
    clear = np.stack([~w.nodata if w.excluded is None else ~(w.nodata | w.excluded) for w in windows])
    has_data = ~np.logical_and.reduce([w.nodata for w in windows])
    masked = torch.from_numpy(has_data & ~clear.any(axis=0)).to(device, torch.float32)
    live = [d for d in range(len(windows)) if clear[d].any()]
    if not live:
        if not masked.any():
            return None, clear
        out = torch.zeros((predictor.num_classes + 2, *masked.shape), dtype=torch.float32, device=device)
        out[-1] = masked
        return out, clear
    summed = None
    with torch.inference_mode():
        for start in range(0, len(live), batch_size):
            dates = live[start:start + batch_size]
            images = _stack_on(device, [windows[d].img for d in dates])
            with _autocast(device, amp):
                logits = predictor(images)
            probs = torch.softmax(logits.float(), dim=1)
            # the single-date mapper's weights (ramp x valid), so that one clear date gives its very map
            w = weights * _stack_on(device, [clear[d] for d in dates])
            if rule == 'confidence':
                w = w * probs.max(dim=1).values
            w = w[:, None]
            part = torch.cat([probs * w, w], dim=1).sum(dim=0)
            summed = part if summed is None else summed + part
    return torch.cat([summed, masked[None]]), clear


class DateWindows:
    """One window of every date: read (in the read thread) and predicted into a composite contribution (in a worker)."""

    def __init__(self, sources: Sequence[SceneSource], readers: Sequence[FineWindowReader], plan: WindowPlan,
                 predictor, weights: torch.Tensor, rule: Rule, amp: str | None, batch_size: int) -> None:
        self.sources, self.readers, self.plan, self.predictor = sources, readers, plan, predictor
        self.weights, self.rule, self.amp, self.batch_size = weights, rule, amp, batch_size
        self.device = predictor_device(predictor)
        self.timings = dict(read=0.0, forward=0.0, blend=0.0)   # read and forward overlap (threads)

    def read(self, iy: int, ix: int) -> list:
        """Window (iy, ix) of every date; a band file that fails names its date."""
        plan = self.plan
        t0 = time.perf_counter()
        windows = []
        for reader, source in zip(self.readers, self.sources):
            with naming_read_failures(source.label, _LEAVE_OUT):
                windows.append(reader.read_window(plan.ys[iy], plan.xs[ix], plan.win_h, plan.win_w))
        self.timings['read'] += time.perf_counter() - t0
        return windows

    def predict(self, windows: list):
        """The composite contribution and clear mask of one window's dates."""
        t0 = time.perf_counter()
        try:
            return _contribution(windows, self.predictor, self.weights, self.rule, self.device, self.amp,
                                 self.batch_size)
        finally:
            self.timings['forward'] += time.perf_counter() - t0


def map_composite(sources: Sequence[SceneSource], predictor, spec: InputSpec, sink=None, count_sink=None, *,
                  rule: Rule = 'mean', aoi: Window | None = None, grid: OutputGrid | None = None,
                  window_size: int = 512, overlap: int = 128, batch_size: int = 1, amp: str | None = None,
                  progress: bool = True) -> CompositeResult:
    """Map the dates of one tile into one composite: classes (+ side outputs) to ``sink``, counts to ``count_sink``.

    ``batch_size``: dates of a window per forward pass (1 keeps the memory of an extra date at one
    window). ``result.notes`` lists each date's clear share of the map; ``result.sink`` / ``count_sink`` as given
    (ArraySinks by default, holding the arrays).
    """
    if rule not in RULES:
        raise DaspmInputError(f'--composite-rule {rule}: choose one of {", ".join(RULES)}')
    if batch_size < 1:
        raise DaspmInputError(f'--batch-size {batch_size}: must be at least 1')
    predictor = as_predictor(predictor)
    device = predictor_device(predictor)
    first = sources[0]
    aoi = aoi if aoi is not None else Window(0, 0, first.width, first.height)
    grid = grid or output_grid(first, aoi, spec.factor(first.gsd(spec.loader.nominal_gsd)))
    plan = plan_windows(grid.height, grid.width, window_size, overlap)
    sink = sink if sink is not None else ArraySink(grid)
    count_sink = count_sink if count_sink is not None else ArraySink(grid, with_confidence=False)
    start = time.perf_counter()
    needs_range = grid.factor != 1.0 and spec.interpolation != 'nearest'
    readers = []
    for source in sources:
        with naming_read_failures(source.label, _LEAVE_OUT):
            clip = value_range(source, spec, grid.aoi, progress) if needs_range else None
        readers.append(FineWindowReader(source, spec, grid, clip))
    weights = torch.from_numpy(plan.weights()).to(device)
    blender = StreamingBlender(plan, predictor.num_classes, sink, sink.wants_confidence, track_excluded=True,
                               device=device)
    counter = ClearCounter(plan, count_sink, len(sources))
    order = [(iy, ix) for iy in range(len(plan.ys)) for ix in range(len(plan.xs))]

    dates = DateWindows(sources, readers, plan, predictor, weights, rule, amp, batch_size)
    skipped = 0
    bar = tqdm(order, desc=f'composite of {len(sources)} dates', unit='win', disable=not progress)
    # as in map_scene: the next window's reads (one GDAL thread) overlap this window's forward pass,
    # which runs in a worker thread; windows are blended in order here. At most two windows per date
    # are held at once.
    with ThreadPoolExecutor(max_workers=1) as reads, ThreadPoolExecutor(max_workers=1) as passes:
        future = reads.submit(dates.read, *order[0])
        for n, (iy, ix) in enumerate(bar):
            windows = future.result()
            if n + 1 < len(order):
                future = reads.submit(dates.read, *order[n + 1])
            contribution, clear = passes.submit(dates.predict, windows).result()
            del windows
            t0 = time.perf_counter()
            skipped += int(not clear.any())
            blender.add(iy, ix, contribution)
            counter.add(iy, ix, clear)
            dates.timings['blend'] += time.perf_counter() - t0
    total = grid.height * grid.width
    notes = [f'date {n + 1}: {s.label}: clear on {100 * c / total:.1f}% of the map'
             for n, (s, c) in enumerate(zip(sources, counter.clear_pixels))]
    return CompositeResult(grid=grid, windows=len(order), skipped_windows=skipped, batches=len(order) - skipped,
                           seconds=time.perf_counter() - start, sink=sink, valid_pixels=blender.valid_pixels,
                           masked_pixels=blender.masked_pixels, notes=notes, timings=dates.timings,
                           count_sink=count_sink, clear_pixels=counter.clear_pixels.tolist())


def _remove_streams(streams: dict[str, Path]) -> None:
    """Remove the streamed GeoTIFFs (the COGs are copies) and GDAL's side files of them."""
    for stream in streams.values():
        for path in (stream, Path(f'{stream}.aux.xml'), Path(f'{stream}.ovr')):
            path.unlink(missing_ok=True)


def _date_records(inputs: Sequence[str | Path], sources: Sequence[SceneSource],
                  clear_pixels: Sequence[int], total: int) -> list[dict]:
    """What the sidecar and the STAC item say of each date."""
    records = []
    for path, source, clear in zip(inputs, sources, clear_pixels):
        sensed = sensing_time(source)
        product = getattr(source, 'product', None)
        records.append(dict(input=str(path), source=source.label, product=None if product is None else product.name,
                            sensing_time=None if sensed is None else sensed.isoformat(),
                            clear_pixels=int(clear), clear_share=round(clear / max(total, 1), 6)))
    return records


def composite_to_files(inputs: Sequence[str | Path], predictor, spec: InputSpec, out: str | Path, *,
                       rule: Rule = 'mean', confidence: str | Path | None = None,
                       probabilities: str | Path | None = None, uncertainty: str | Path | None = None,
                       quicklook: str | Path | None = None, **options) -> CompositeResult:
    """Map several dates of one tile to a composite COG, ``<out>_count.tif`` and optional side outputs.

    check the outputs -> open_dates -> plan_scene (of the first date) -> composite_plan_to_files.
    ``options`` are the fields of MapOptions (here ``batch_size`` defaults to 1: dates of a window
    per forward pass). Every date is opened and checked before any file is created.
    """
    opts = MapOptions(**{'batch_size': 1, **options})
    paths = composite_paths(out, confidence, probabilities, uncertainty, quicklook)
    prepare_outputs(paths.finals.values(), paths.quicklook, sidecar_path(paths.map), opts.overwrite)
    predictor = as_predictor(predictor)
    with contextlib.ExitStack() as stack:
        sources = open_dates(inputs, spec, stack, nodata=opts.nodata, band_resampling=opts.band_resampling,
                             mask_classes=opts.mask_classes)
        plan = plan_scene(sources[0], spec, bbox=opts.bbox, window=opts.window)
        return composite_plan_to_files(sources, plan, inputs, predictor, spec, paths, opts, rule)


def composite_paths(out: str | Path, confidence: str | Path | None = None, probabilities: str | Path | None = None,
                    uncertainty: str | Path | None = None, quicklook: str | Path | None = None) -> OutputPaths:
    """The outputs of a composite: the map, its count of clear dates, then the side outputs given."""
    paths = OutputPaths.of(out, confidence, probabilities, uncertainty, quicklook)
    paths.finals = {'map': paths.map, 'count': count_path(out),
                    **{k: v for k, v in paths.finals.items() if k != 'map'}}
    return paths


def composite_plan_to_files(sources: Sequence[SceneSource], plan: ScenePlan, inputs: Sequence[str | Path],
                            predictor, spec: InputSpec, paths: OutputPaths, opts: MapOptions,
                            rule: Rule = 'mean') -> CompositeResult:
    """Map open, checked dates planned on the first one (outputs checked): map_composite into temporary
    files -> COGs -> sidecar, renamed when all are complete (the map last) -> category names, quicklook.
    """
    started, t_start = datetime.now(timezone.utc), time.perf_counter()
    predictor = as_predictor(predictor)
    classes, palette = class_table(predictor)
    grid, out = plan.grid, paths.map
    look = Quicklook(grid) if paths.quicklook else None
    counts = [f'{n} clear date' + 's' * (n != 1) for n in range(len(sources) + 1)]
    grey = [[int(255 * n / len(sources))] * 3 for n in range(len(sources) + 1)]
    with contextlib.ExitStack() as stack:
        cache = gdal_cache_mb(sources[0])
        stack.enter_context(rasterio.Env(**({'GDAL_CACHEMAX': cache} if cache else {})))
        all_tags = {'SUBPIXEL_FACTOR': f'{grid.factor:g}', 'SOURCE': ' + '.join(s.label for s in sources),
                    'BANDS': ','.join(sources[0].band_names), 'COMPOSITE_RULE': rule,
                    'COMPOSITE_DATES': str(len(sources)), **(opts.tags or {})}
        streams: dict[str, Path] = {}
        # registered before the temporary outputs: runs after they are renamed (or removed)
        stack.callback(_remove_streams, streams)
        # entered first, renamed last: the map appears only when everything else is in place
        temps = {name: stack.enter_context(atomic_output(path)) for name, path in paths.finals.items()}
        streams.update({name: tmp.with_name(tmp.name + '.stream.tif') for name, tmp in temps.items()})
        sink = GeoTiffSink(grid, streams['map'], classes, palette, confidence_path=streams.get('confidence'),
                           confidence_dtype=opts.confidence_dtype, quicklook=look, tags=all_tags,
                           probabilities_path=streams.get('probabilities'),
                           uncertainty_path=streams.get('uncertainty'))
        count_sink = GeoTiffSink(grid, streams['count'], counts, grey, tags=all_tags)
        result = _composite_into(sources, plan, predictor, spec, sink, count_sink, opts, rule)
        levels, t_cog = len(overview_factors(grid)), time.perf_counter()
        for name, tmp in temps.items():
            convert_to_cog(streams[name], tmp, overview_resampling='MODE' if name in ('map', 'count') else 'AVERAGE',
                           overview_count=levels, blocksize=TILE)
        result.timings['cog'] = time.perf_counter() - t_cog
        result.outputs.update(paths.finals)
        result.dates = _date_records(inputs, sources, result.clear_pixels, result.total_pixels)
        result.timings['total'] = time.perf_counter() - t_start
        result.outputs['sidecar'] = write_sidecar(
            sidecar_path(out), result, sources[0], inputs, started,
            info={**(opts.info or {}), 'composite': dict(rule=rule, dates=len(sources)), 'dates': result.dates},
            options=dict(window_size=opts.window_size, overlap=opts.overlap, batch_size=opts.batch_size,
                         amp=opts.amp, band_resampling=opts.band_resampling, nodata=opts.nodata,
                         mask_classes=list(opts.mask_classes or []), bbox=opts.bbox, window=opts.window))
    result.outputs['categories'] = write_category_names(out, classes, palette)
    write_category_names(paths.finals['count'], counts, grey)
    if look is not None:
        title = f'{out.name}  (composite of {len(inputs)} dates, {grid.width}x{grid.height} px)'
        result.outputs['quicklook'] = look.save(paths.quicklook, classes, palette, title)
    result.timings['total'] = time.perf_counter() - t_start
    return result


def _composite_into(sources: Sequence[SceneSource], plan: ScenePlan, predictor, spec: InputSpec, sink: GeoTiffSink,
                    count_sink: GeoTiffSink, opts: MapOptions, rule: Rule) -> CompositeResult:
    """map_composite into the two sinks, closed with the shares; aborted (nothing left) on any failure."""
    try:
        result = map_composite(sources, predictor, spec, sink, count_sink, rule=rule, aoi=plan.aoi, grid=plan.grid,
                               window_size=opts.window_size, overlap=opts.overlap, batch_size=opts.batch_size,
                               amp=opts.amp, progress=opts.progress)
        sink.update_tags({'VALID_SHARE': f'{result.valid_share:.6f}', 'MASKED_SHARE': f'{result.masked_share:.6f}'})
        sink.close()
        count_sink.close()
    except BaseException:
        sink.abort()
        count_sink.abort()
        raise
    return result
