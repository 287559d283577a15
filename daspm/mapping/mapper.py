"""Map a whole scene window by window: batched forward passes, seamless blending, bounded memory."""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import rasterio
import torch
from rasterio.windows import Window
from tqdm import tqdm

from ..classes import IGNORE_INDEX
from ..utils.errors import DaspmInputError
from ..utils.raster import atomic_output, check_writable, convert_to_cog, remove_stale_partials
from .grid import OutputGrid, WindowPlan, output_grid, plan_windows
from .inputs import SceneSource, naming_read_failures, open_scene
from .plan import MapOptions, OutputPaths, ScenePlan, plan_scene
from .predictor import as_predictor, class_table, predictor_device
from .resample import FineWindowReader, WindowRead, value_range
from .spec import InputSpec
from .writer import (PROBABILITY_NODATA, PROBABILITY_SCALE, TILE, ArraySink, GeoTiffSink, Quicklook,
                     overview_factors, write_category_names)

_AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
# GDAL's block cache (default 5% of RAM) would keep output tiles and input blocks of the whole
# scene: cap it. Decoding JPEG 2000 blocks is slow, so those keep a row of blocks of every band.
GDAL_CACHE_MB = 64
GDAL_CACHE_MB_JP2 = 512


def gdal_cache_mb(source: SceneSource) -> int | None:
    """GDAL block cache size for mapping ``source`` (None: the user set GDAL_CACHEMAX)."""
    if 'GDAL_CACHEMAX' in os.environ:
        return None
    jp2 = any(str(p).lower().endswith(('.jp2', '.j2k')) for p in getattr(source, 'files', []))
    return GDAL_CACHE_MB_JP2 if jp2 else GDAL_CACHE_MB


class StreamingBlender:
    """Accumulates weighted softmax probabilities of windows arriving in row-major order.

    State: one window of accumulators for the current window row, and a full-width strip of
    ``plan.carry_rows()`` rows (the overlap with the next window row). Columns are finished as
    soon as the last window touching them is in; rows of a window row that the next one does
    not reach go to the sink at the end of the row. So memory is ~ (K+1) x overlap x width floats,
    not (K+1) x height x width.

    With ``track_excluded`` one more channel counts the windows in which a pixel was excluded by
    a quality mask (clouds...), so finished pixels without weight are told apart: masked or no
    data; with ``track_nonfinite`` a last one counts the windows in which its input was NaN/Inf.
    A sink with ``wants_probabilities`` / ``wants_uncertainty`` also gets, per finished row, the
    class probabilities and their normalised entropy as uint8 (x 254, 255 = none).

    The accumulators live on ``device`` (the model's), so on a GPU the windows' probabilities are
    blended where they were computed and only finished class ids (and confidence / extras) cross
    to the host: copying every window's (K+1) probability planes out and blending them in NumPy
    took longer than the forward passes (benchmarks/scene_throughput.py on an H200). Finished
    pixels collect in device row buffers that cross to the host once per window row, in one
    wait for the device; copying each window's pixels out made the host wait for the device
    three times per window, so the next batch's forward pass could not be queued meanwhile.
    On the CPU the row buffers are the host arrays themselves.
    """

    def __init__(self, plan: WindowPlan, num_classes: int, sink, want_confidence: bool,
                 track_excluded: bool = False, device: torch.device | str = 'cpu',
                 track_nonfinite: bool = False) -> None:
        self.plan, self.k, self.sink = plan, num_classes, sink
        self.want_confidence = want_confidence
        self.track_excluded = track_excluded
        self.track_nonfinite = track_nonfinite
        self.device = torch.device(device)
        channels = num_classes + 1 + int(track_excluded) + int(track_nonfinite)
        self.carry = torch.zeros((channels, plan.carry_rows(), plan.width), dtype=torch.float32, device=self.device)
        self.acc = torch.zeros((channels, plan.win_h, plan.win_w), dtype=torch.float32, device=self.device)
        final_rows = max([b - a for a, b in zip(plan.ys, plan.ys[1:])] + [plan.win_h])
        shapes = {'classes': ((final_rows, plan.width), torch.uint8)}
        if want_confidence:
            shapes['confidence'] = ((final_rows, plan.width), torch.float32)
        if getattr(sink, 'wants_probabilities', False):
            shapes['probabilities'] = ((num_classes, final_rows, plan.width), torch.uint8)
        if getattr(sink, 'wants_uncertainty', False):
            shapes['uncertainty'] = ((final_rows, plan.width), torch.uint8)
        # finished pixels of the current window row, and [valid, masked, non-finite] pixel counts, on the device
        self.rows_on_device = {name: torch.empty(shape, dtype=dtype, device=self.device)
                               for name, (shape, dtype) in shapes.items()}
        self.counts_on_device = torch.zeros(3, dtype=torch.int64, device=self.device)
        self.rows_on_host = {name: _host_buffer(t) for name, t in self.rows_on_device.items()}
        self.counts_on_host = _host_buffer(self.counts_on_device)
        self.band_cls = self.rows_on_host['classes'].numpy()
        self.band_conf = self.rows_on_host['confidence'].numpy() if want_confidence else None
        self.band_extras: dict[str, np.ndarray] = {name: self.rows_on_host[name].numpy()
                                                   for name in ('probabilities', 'uncertainty')
                                                   if name in self.rows_on_host}
        self.valid_pixels = self.masked_pixels = self.nonfinite_pixels = 0
        self.write_seconds = 0.0

    def _rows(self, iy: int) -> tuple[int, int, int]:
        """(carry-in rows, finished rows, carry-out rows) of window row ``iy``."""
        ys, h = self.plan.ys, self.plan.win_h
        ov_in = ys[iy - 1] + h - ys[iy] if iy > 0 else 0
        final = ys[iy + 1] - ys[iy] if iy + 1 < len(ys) else h
        return ov_in, final, h - final

    def add(self, iy: int, ix: int, contribution: torch.Tensor | np.ndarray | None) -> None:
        """Add window (iy, ix): (K+1, win_h, win_w) = weighted probabilities + weight; None if skipped."""
        plan, acc = self.plan, self.acc
        ov_in, final, ov_out = self._rows(iy)
        x = plan.xs[ix]
        if ix == 0:
            acc.zero_()
            acc[:, :ov_in] = self.carry[:, :ov_in, :plan.win_w]
        else:
            shift = x - plan.xs[ix - 1]
            # columns before x are finished; move the rest to the front and load the new ones
            acc[:, :, :plan.win_w - shift] = acc[:, :, shift:].clone()
            acc[:, :, plan.win_w - shift:] = 0.0
            start = plan.xs[ix - 1] + plan.win_w
            acc[:, :ov_in, plan.win_w - shift:] = self.carry[:, :ov_in, start:start + shift]
        if contribution is not None:
            acc += torch.as_tensor(contribution, device=self.device)
        x_next = plan.xs[ix + 1] if ix + 1 < len(plan.xs) else plan.width
        done = acc[:, :, :x_next - x]
        self._finish(done[:, :final], x)
        self.carry[:, :ov_out, x:x_next] = done[:, final:]
        if ix + 1 == len(plan.xs):
            self._rows_to_host()
            conf = self.band_conf[:final] if self.band_conf is not None else None
            start = time.perf_counter()
            if self.band_extras:
                extras = {name: band[..., :final, :] for name, band in self.band_extras.items()}
                self.sink.write_rows(plan.ys[iy], self.band_cls[:final], conf, extras=extras)
            else:
                self.sink.write_rows(plan.ys[iy], self.band_cls[:final], conf)
            self.write_seconds += time.perf_counter() - start

    def _finish(self, block: torch.Tensor, x: int) -> None:
        """Class ids (255 where no window saw valid data), confidence and extras of finished pixels, on the device."""
        probs, weight = block[:self.k], block[self.k]
        cols = slice(x, x + block.shape[2])
        rows = block.shape[1]
        out = self.rows_on_device
        valid = weight > 0
        # max gives the class ids (the first of tied classes, as argmax) and the confidence in one
        # pass; on the CPU argmax over the class axis took 6x as long as max (30 vs 5 ms a window)
        best, classes = probs.max(dim=0)
        out['classes'][:rows, cols] = torch.where(valid, classes, IGNORE_INDEX).to(torch.uint8)
        self.counts_on_device[0] += valid.sum()
        if self.track_excluded:
            # the exclusion channel holds pixels with data only (_tracked): NaN/Inf ones are nodata
            masked = ~valid & (block[self.k + 1] > 0)
            self.counts_on_device[1] += masked.sum()
        if self.track_nonfinite:
            self.counts_on_device[2] += (block[-1] > 0).sum()
        safe_weight = torch.where(valid, weight, 1.0)
        if 'confidence' in out:
            out['confidence'][:rows, cols] = torch.where(valid, best / safe_weight, 0.0)
        if 'probabilities' in out or 'uncertainty' in out:
            p = probs / safe_weight
            if 'probabilities' in out:
                scaled = torch.round(p.clamp(0.0, 1.0) * PROBABILITY_SCALE)
                out['probabilities'][:, :rows, cols] = \
                    torch.where(valid, scaled, float(PROBABILITY_NODATA)).to(torch.uint8)
            if 'uncertainty' in out:
                entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=0) / np.log(max(self.k, 2))
                scaled = torch.round(entropy.clamp(0.0, 1.0) * PROBABILITY_SCALE)
                out['uncertainty'][:rows, cols] = torch.where(valid, scaled, float(PROBABILITY_NODATA)).to(torch.uint8)

    def _rows_to_host(self) -> None:
        """Bring the finished rows of a window row and the pixel counts to the host: one wait for the device."""
        if self.device.type != 'cpu':
            for name, tensor in self.rows_on_device.items():
                # whole buffers (rows past the finished ones unused): a contiguous copy does not block;
                # a slice of the (K, rows, width) probabilities would go through a pageable temporary
                self.rows_on_host[name].copy_(tensor, non_blocking=True)
            self.counts_on_host.copy_(self.counts_on_device, non_blocking=True)
            _synchronize(self.device)
        valid, masked, nonfinite = self.counts_on_host.tolist()
        self.counts_on_device.zero_()  # read first: on the CPU the host counts are these
        self.valid_pixels += valid
        self.masked_pixels += masked
        self.nonfinite_pixels += nonfinite


def _host_buffer(tensor: torch.Tensor) -> torch.Tensor:
    """The host tensor for a device ``tensor``: the tensor itself on the CPU, a page-locked one for a GPU.

    Copies into page-locked memory run without blocking the host; they are waited for once per row.
    """
    if tensor.device.type == 'cpu':
        return tensor
    return torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=tensor.device.type == 'cuda')


def _synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (its copies to the host)."""
    if device.type == 'cuda':
        torch.cuda.current_stream(device).synchronize()
    elif hasattr(torch, 'accelerator'):
        torch.accelerator.synchronize(device)


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
    valid_pixels: int = 0          # map pixels with a class
    masked_pixels: int = 0         # pixels with data that a quality mask (clouds...) left out
    nonfinite_pixels: int = 0      # pixels whose input was NaN/Inf (nodata in the map, not valid)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: read (in a thread), forward, blend, write
    workers: int = 1               # batches that ran at once
    notes: list[str] = field(default_factory=list)           # what the input brought (product, mask)

    @property
    def megapixels_per_second(self) -> float:
        """Output megapixels per second of wall time."""
        return self.grid.height * self.grid.width / 1e6 / max(self.seconds, 1e-9)

    @property
    def total_pixels(self) -> int:
        """Pixels of the map."""
        return self.grid.height * self.grid.width

    @property
    def valid_share(self) -> float:
        """Share of the map's pixels that got a class."""
        return self.valid_pixels / max(self.total_pixels, 1)

    @property
    def masked_share(self) -> float:
        """Share of the pixels with data that the quality mask left out (0 without a mask)."""
        return self.masked_pixels / max(self.valid_pixels + self.masked_pixels, 1)


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
              progress: bool = True, grid: OutputGrid | None = None, workers: int | None = None) -> MappingResult:
    """Predict the class map of ``source`` (or its ``aoi``) on the fine grid of ``spec`` into ``sink``.

    grid -> plan_windows -> WindowRun (read -> predict -> blend -> sink) -> MappingResult.
    ``predictor`` is an mmseg segmentor or any WindowPredictor. Windows of ``window_size`` output
    pixels overlapping by >= ``overlap`` run ``batch_size`` at a time; their softmax
    probabilities are blended with ramp weights; windows with no valid input pixel are skipped.
    ``workers``: batches in flight at once, each single-threaded (default: on the CPU, torch's
    thread count for a thread-safe predictor such as an mmseg segmentor; else 1).
    Pixels a quality mask of the source excludes (clouds...) are seen by the model but get no
    weight, so they are 255 in the map like nodata. Pixels with a NaN/Inf band are nodata (the
    model sees 0 there) and counted in ``nonfinite_pixels``; an area without a single finite
    pixel is refused (DaspmInputError) rather than mapped as empty.
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
    run = WindowRun(source, predictor, spec, sink, grid, plan, batch_size=batch_size, amp=amp, progress=progress,
                    workers=workers)
    with _torch_settings(device, run.workers):
        run.run()
    blender, timings = run.blender, run.timings
    timings['write'] = blender.write_seconds
    timings['blend'] -= blender.write_seconds
    if blender.valid_pixels == 0 and blender.nonfinite_pixels > 0:
        raise DaspmInputError(
            f'{source.label}: no pixel of the area mapped has finite values ({blender.nonfinite_pixels} of '
            f'{grid.height * grid.width} map pixels are NaN or infinite in the bands {list(source.band_names)}, '
            'the rest nodata); re-export the scene with finite values, or map an area that has them (--bbox)')
    return MappingResult(grid=grid, windows=len(run.order), skipped_windows=run.skipped, batches=run.batches,
                         seconds=time.perf_counter() - start, sink=sink, valid_pixels=blender.valid_pixels,
                         masked_pixels=blender.masked_pixels, nonfinite_pixels=blender.nonfinite_pixels,
                         timings=timings, notes=list(source.notes), workers=run.workers)


@contextlib.contextmanager
def _torch_settings(device: torch.device, workers: int) -> Iterator[None]:
    """torch's thread count and cuDNN autotuning for a run, restored afterwards."""
    threads = torch.get_num_threads()
    autotune = torch.backends.cudnn.benchmark
    if device.type == 'cuda':
        # every window has the same shape (the last batch one more): what cuDNN's autotuning is for
        torch.backends.cudnn.benchmark = True
    if workers > 1:
        # each worker runs its window single-threaded: whole windows side by side scale better on the
        # CPU than one window split over threads (no synchronisation inside every operator)
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = autotune


class WindowRun:
    """The windows of one map in row-major order: read (one thread) -> predict (``workers`` threads) -> blend.

    run(): load(batch n+1) in the read thread while infer(batch n) runs in a worker; blend_oldest()
    adds finished batches to the StreamingBlender in order, in the calling thread.
    """

    def __init__(self, source: SceneSource, predictor, spec: InputSpec, sink, grid: OutputGrid, plan: WindowPlan,
                 *, batch_size: int, amp: str | None, progress: bool, workers: int | None) -> None:
        start = time.perf_counter()
        self.predictor, self.plan, self.amp = predictor, plan, amp
        self.device = device = predictor_device(predictor)
        needs_range = grid.factor != 1.0 and spec.interpolation != 'nearest'
        self.reader = FineWindowReader(source, spec, grid,
                                       value_range(source, spec, grid.aoi, progress) if needs_range else None)
        self.weights = torch.from_numpy(plan.weights()).to(device)
        self.track = source.has_exclusion
        # only float inputs can hold NaN/Inf: integer ones save the channel
        self.track_nonfinite = np.dtype(source.dtype).kind == 'f'
        self.blender = StreamingBlender(plan, predictor.num_classes, sink, sink.wants_confidence,
                                        track_excluded=self.track, device=device,
                                        track_nonfinite=self.track_nonfinite)
        self.order = [(iy, ix) for iy in range(len(plan.ys)) for ix in range(len(plan.xs))]
        self.timings = dict(value_range=time.perf_counter() - start, read=0.0, wait_for_read=0.0, forward=0.0,
                            blend=0.0)
        self.chunks = list(_batches(self.order, batch_size))
        self.workers = _workers(predictor, device, workers, len(self.chunks))
        # batches handed to the workers before the oldest is blended: on a GPU one more than run at
        # once, so the next batch's copy and kernels are queued while the host blends the previous one
        self.in_flight = self.workers + int(device.type == 'cuda')
        self.lock = threading.Lock()
        self.pending: deque = deque()
        self.skipped = self.batches = 0
        self.bar = tqdm(total=len(self.order), desc='mapping', unit='win', disable=not progress, dynamic_ncols=True)

    def run(self) -> None:
        """Every batch read, predicted and blended."""
        chunks = self.chunks
        # reading + resampling the next batch (one thread: GDAL datasets are not shared between threads)
        # overlaps the forward passes; finished batches are blended in order in this thread
        with self.bar, ThreadPoolExecutor(max_workers=1) as reads, \
                ThreadPoolExecutor(max_workers=self.workers) as passes:
            future = reads.submit(self.load, chunks[0])
            for n, chunk in enumerate(chunks):
                t0 = time.perf_counter()
                windows = future.result()
                self.timings['wait_for_read'] += time.perf_counter() - t0
                if n + 1 < len(chunks):
                    future = reads.submit(self.load, chunks[n + 1])
                self.pending.append((chunk, passes.submit(self.infer, windows)))
                if len(self.pending) >= self.in_flight:
                    self.blend_oldest()
            while self.pending:
                self.blend_oldest()

    def load(self, batch: list[tuple[int, int]]) -> list[WindowRead]:
        """Read and resample the windows of a batch (in the read thread)."""
        plan = self.plan
        t0 = time.perf_counter()
        windows = [self.reader.read_window(plan.ys[iy], plan.xs[ix], plan.win_h, plan.win_w) for iy, ix in batch]
        self.timings['read'] += time.perf_counter() - t0
        return windows

    def infer(self, windows: list[WindowRead]) -> tuple[list[torch.Tensor | None], int]:
        """Weighted probabilities (+ weight, + counting channels) of a batch of read windows; skipped ones are None."""
        device, track, track_nonfinite = self.device, self.track, self.track_nonfinite
        t0 = time.perf_counter()
        blank = [w.nodata if w.excluded is None else w.nodata | w.excluded for w in windows]
        live = [i for i, b in enumerate(blank) if not b.all()]
        contributions: list[torch.Tensor | None] = [None] * len(windows)
        # inference mode, autocast and the current CUDA device are per thread: set here, in the worker
        on_device = torch.cuda.device(device) if device.type == 'cuda' else contextlib.nullcontext()
        with torch.inference_mode(), on_device:
            if live:
                images = _stack_on(device, [windows[i].img for i in live])
                valid = _stack_on(device, [~blank[i] for i in live])
                with _autocast(device, self.amp):
                    logits = self.predictor(images)
                probs = torch.softmax(logits.float(), dim=1)
                w = (self.weights * valid)[:, None]
                parts = [probs * w, w]
                if track or track_nonfinite:
                    parts.append(_stack_on(device, [_tracked(windows[i], track, track_nonfinite) for i in live]))
                # stays on the device: the blender accumulates there
                stacked = torch.cat(parts, dim=1)
                for j, i in enumerate(live):
                    contributions[i] = stacked[j]
        if track or track_nonfinite:
            # a window without a pixel to predict still tells which of its pixels were masked or NaN/Inf
            for i in (i for i, c in enumerate(contributions) if c is None):
                extra = _tracked(windows[i], track, track_nonfinite)
                if extra.any():
                    contribution = torch.zeros(self.blender.acc.shape, dtype=torch.float32, device=device)
                    contribution[-len(extra):] = torch.from_numpy(extra).to(device)
                    contributions[i] = contribution
        with self.lock:
            self.timings['forward'] += time.perf_counter() - t0
        return contributions, len(windows) - len(live)

    def blend_oldest(self) -> None:
        """Wait for the oldest batch in flight and add its windows to the blender."""
        chunk, job = self.pending.popleft()
        contributions, n_skipped = job.result()
        t1 = time.perf_counter()
        self.skipped += n_skipped
        self.batches += int(n_skipped < len(chunk))
        for (iy, ix), contribution in zip(chunk, contributions):
            self.blender.add(iy, ix, contribution)
        self.timings['blend'] += time.perf_counter() - t1
        self.bar.update(len(chunk))
        self.bar.set_postfix(skipped=self.skipped, refresh=False)


def _workers(predictor, device: torch.device, workers: int | None, chunks: int) -> int:
    """How many batches run at once: ``workers``, or on the CPU one per torch thread for thread-safe predictors."""
    if workers is None:
        parallel = device.type == 'cpu' and getattr(predictor, 'thread_safe', False)
        workers = torch.get_num_threads() if parallel else 1
    if workers < 1:
        raise DaspmInputError(f'--workers {workers}: must be at least 1')
    return max(1, min(workers, chunks))


def _stack_on(device: torch.device, arrays: list[np.ndarray]) -> torch.Tensor:
    """``arrays`` stacked into one tensor on ``device``.

    For a GPU through page-locked memory: the copy is then queued behind the device's work
    instead of waiting for all of it, as a copy from ordinary memory does.
    """
    if device.type != 'cuda':
        return torch.from_numpy(np.stack(arrays)).to(device)
    dtype = torch.from_numpy(np.empty(0, arrays[0].dtype)).dtype
    staging = torch.empty((len(arrays), *arrays[0].shape), dtype=dtype, pin_memory=True)
    np.stack(arrays, out=staging.numpy())
    # the host allocator keeps the staging memory until the copy has run
    return staging.to(device, non_blocking=True)


def _tracked(window: WindowRead, excluded: bool, nonfinite: bool) -> np.ndarray:
    """The blender's counting channels of a read window, float32 (n, h, w): exclusion, then non-finite."""
    planes = []
    if excluded:
        # a pixel without data has nothing for a quality mask to leave out (swath edges hold SCL 0 too)
        planes.append(np.zeros(window.nodata.shape, bool) if window.excluded is None
                      else window.excluded & ~window.nodata)
    if nonfinite:
        planes.append(window.nonfinite)
    return np.stack(planes).astype(np.float32)


def prepare_outputs(finals: Iterable[Path], quicklook: Path | None, sidecar: Path, overwrite: bool) -> None:
    """Check the outputs of one map (one line per problem) and remove what a killed run of them left."""
    finals = list(finals)
    check_outputs([*finals, quicklook], overwrite)
    for path in [*finals, sidecar]:
        remove_stale_partials(path)   # SIGKILL skips a run's own clean-up


def check_outputs(paths: Sequence[Path | None], overwrite: bool) -> None:
    """Refuse to replace existing outputs unless ``overwrite``; refuse one path used twice, a folder, or a
    place that cannot be written (one line each, before any work)."""
    given = [Path(p) for p in paths if p is not None]
    if len({p.resolve() for p in given}) != len(given):
        raise DaspmInputError(f'the same path is given for two outputs: {[str(p) for p in given]}')
    for path in given:
        if path.is_dir():
            raise DaspmInputError(f'{path} is a directory; give a file name such as map.tif')
        if path.exists() and not overwrite:
            raise DaspmInputError(f'{path} exists; pass --overwrite to replace it, or choose another --out')
        check_writable(path, option='output')


def map_scene_to_files(inputs: Sequence[str | Path], predictor, spec: InputSpec, out: str | Path, *,
                       confidence: str | Path | None = None, probabilities: str | Path | None = None,
                       uncertainty: str | Path | None = None, quicklook: str | Path | None = None,
                       **options) -> MappingResult:
    """Map a scene file/product to a Cloud Optimized GeoTIFF class map and optional side outputs.

    check the outputs -> open the scene -> plan_scene (area, grid) -> map_plan_to_files.
    ``options`` are the fields of MapOptions. ``probabilities``: one uint8 band per class
    (probability x 254, 255 = no data, band descriptions = class names); ``uncertainty``:
    normalised entropy, same coding. ``mask_classes``: SCL classes of a Sentinel-2 product that
    become nodata (see open_scene).
    """
    opts = MapOptions(**options)
    paths = OutputPaths.of(out, confidence, probabilities, uncertainty, quicklook)
    prepare_outputs(paths.finals.values(), paths.quicklook, sidecar_path(paths.map), opts.overwrite)
    opts.check()
    predictor = as_predictor(predictor)
    with open_scene(inputs, spec, nodata=opts.nodata, band_resampling=opts.band_resampling,
                    mask_classes=opts.mask_classes) as source:
        return map_plan_to_files(plan_scene(source, spec, opts.bbox, opts.window), inputs, predictor, spec,
                                 paths, opts)


def map_plan_to_files(plan: ScenePlan, inputs: Sequence[str | Path], predictor, spec: InputSpec,
                      paths: OutputPaths, opts: MapOptions) -> MappingResult:
    """Map a planned scene whose outputs are checked: map_scene into temporary files -> COGs -> sidecar,
    renamed when all are complete (the map last) -> category names, quicklook.

    ``opts.sidecar``: also write ``<map>.json`` (input, product, options, ``info`` such as config and
    checkpoint, valid and masked shares, timings). The COG always has internal overviews (mode for
    classes) when the map is larger than 2 tiles.
    """
    started, t_start = datetime.now(timezone.utc), time.perf_counter()
    predictor = as_predictor(predictor)
    classes, palette = class_table(predictor)
    look = Quicklook(plan.grid) if paths.quicklook else None
    cache = gdal_cache_mb(plan.source)
    with rasterio.Env(**({'GDAL_CACHEMAX': cache} if cache else {})), contextlib.ExitStack() as stack:
        # entered first, renamed last: the map appears only when all side outputs are in place
        temps = {name: stack.enter_context(atomic_output(path)) for name, path in paths.finals.items()}
        streams = {name: tmp.with_name(tmp.name + '.stream.tif') for name, tmp in temps.items()}
        try:
            sink = GeoTiffSink(plan.grid, streams['map'], classes, palette, confidence_path=streams.get('confidence'),
                               confidence_dtype=opts.confidence_dtype, quicklook=look, tags=_map_tags(plan, opts),
                               probabilities_path=streams.get('probabilities'),
                               uncertainty_path=streams.get('uncertainty'))
            result = _map_into(plan, predictor, spec, sink, opts)
            t_cog = time.perf_counter()
            levels = len(overview_factors(plan.grid))
            for name, tmp in temps.items():
                # classes need the mode; probabilities and confidence are averaged (nodata excluded)
                convert_to_cog(streams[name], tmp, overview_resampling='MODE' if name == 'map' else 'AVERAGE',
                               overview_count=levels, blocksize=TILE)
            result.timings['cog'] = time.perf_counter() - t_cog
            result.outputs.update(paths.finals)
            if opts.sidecar:
                result.timings['total'] = time.perf_counter() - t_start
                result.outputs['sidecar'] = write_sidecar(
                    sidecar_path(paths.map), result, plan.source, inputs, started, info=opts.info,
                    options=_sidecar_options(result, opts))
        finally:
            _remove_side_files(*streams.values(), *temps.values())
            for stream in streams.values():
                stream.unlink(missing_ok=True)
    result.outputs['categories'] = write_category_names(paths.map, classes, palette)
    if look is not None:
        g = plan.grid
        title = f'{paths.map.name}  ({g.width}x{g.height} px, x{g.factor:g} sub-pixel grid)'
        result.outputs['quicklook'] = look.save(paths.quicklook, classes, palette, title)
    result.timings['total'] = time.perf_counter() - t_start
    return result


def _map_into(plan: ScenePlan, predictor, spec: InputSpec, sink: GeoTiffSink, opts: MapOptions) -> MappingResult:
    """map_scene into ``sink``, closed with the end-of-run tags; aborted (nothing left) on any failure."""
    try:
        with naming_read_failures(plan.source.label):
            result = map_scene(plan.source, predictor, spec, sink, aoi=plan.aoi, window_size=opts.window_size,
                               overlap=opts.overlap, batch_size=opts.batch_size, amp=opts.amp,
                               progress=opts.progress, grid=plan.grid, workers=opts.workers)
        sink.update_tags(_result_tags(result))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return result


def _map_tags(plan: ScenePlan, opts: MapOptions) -> dict[str, str]:
    """GeoTIFF tags of the map known before mapping: grid, source, bands, area, windows, and the caller's."""
    aoi = plan.aoi
    return {'SUBPIXEL_FACTOR': f'{plan.grid.factor:g}', 'SOURCE': plan.source.label,
            'BANDS': ','.join(plan.source.band_names), 'AOI_INPUT_WINDOW':
            f'{int(aoi.col_off)} {int(aoi.row_off)} {int(aoi.width)} {int(aoi.height)}',
            'WINDOW_SIZE': str(opts.window_size), 'OVERLAP': str(opts.overlap), **(opts.tags or {})}


def _sidecar_options(result: MappingResult, opts: MapOptions) -> dict:
    """The options recorded in the sidecar."""
    return dict(window_size=opts.window_size, overlap=opts.overlap, batch_size=opts.batch_size, amp=opts.amp,
                workers=result.workers, band_resampling=opts.band_resampling, nodata=_json_number(opts.nodata),
                mask_classes=list(opts.mask_classes or []), bbox=opts.bbox, window=opts.window)


def _result_tags(result: MappingResult) -> dict[str, str]:
    """Map tags known at the end: the valid and masked shares and the quality mask applied."""
    tags = {'VALID_SHARE': f'{result.valid_share:.6f}', 'MASKED_SHARE': f'{result.masked_share:.6f}'}
    if result.nonfinite_pixels:
        tags['NONFINITE_PIXELS'] = str(result.nonfinite_pixels)
    mask_notes = [n for n in result.notes if n.startswith('mask:')]
    if mask_notes:
        tags['QUALITY_MASK'] = mask_notes[-1][len('mask:'):].strip()
    return tags


def sidecar_path(map_path: str | Path) -> Path:
    """The JSON record beside a map: map.tif -> map.json."""
    return Path(map_path).with_suffix('.json')


def write_sidecar(path: Path, result: MappingResult, source: SceneSource, inputs: Sequence[str | Path],
                  started: datetime, info: dict | None = None, options: dict | None = None) -> Path:
    """Write the JSON record of a mapping run (atomically): input, product, options, shares, timings."""
    product = getattr(source, 'product', None)
    g = result.grid
    record = {
        'input': [str(p) for p in inputs],
        'source': source.label,
        'product': None if product is None else dict(
            name=product.name, level=product.level, processing_baseline=product.baseline,
            quantification=product.quantification, offsets=product.offsets),
        **(info or {}),
        'notes': result.notes,
        'bands': list(source.band_names),
        'outputs': {name: str(p) for name, p in result.outputs.items() if name != 'sidecar'},
        'grid': dict(width=g.width, height=g.height, factor=g.factor, crs=str(g.crs), transform=list(g.transform)[:6]),
        'options': options or {},
        'windows': result.windows, 'skipped_windows': result.skipped_windows,
        'total_pixels': result.total_pixels, 'valid_pixels': result.valid_pixels,
        'masked_pixels': result.masked_pixels, 'nonfinite_pixels': result.nonfinite_pixels,
        'valid_share': round(result.valid_share, 6), 'masked_share': round(result.masked_share, 6),
        'seconds': round(result.timings.get('total', result.seconds), 3),
        'timings': {k: round(v, 3) for k, v in result.timings.items()},
        'started': started.isoformat(timespec='seconds'),
        'finished': datetime.now(timezone.utc).isoformat(timespec='seconds'),
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + '\n', encoding='utf-8')
    return path


def _json_number(value: float | None) -> float | str | None:
    """``value`` for a JSON record: NaN and infinities (not JSON numbers) as the strings 'nan', 'inf'."""
    return value if value is None or np.isfinite(value) else str(value)


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
             f'{result.batches} batches ({result.workers} at once); {result.seconds:.1f} s = '
             f'{result.megapixels_per_second:.2f} output Mpx/s',
             f'valid: {100 * result.valid_share:.1f}% of the map; masked by the quality mask: '
             f'{100 * result.masked_share:.1f}% of the pixels with data']
    if result.nonfinite_pixels:
        share = result.nonfinite_pixels / max(result.total_pixels, 1)
        lines.append(f'NaN/Inf input: {result.nonfinite_pixels} map pixels ({100 * share:.1f}%), left as nodata')
    if result.timings:
        lines.append('time: ' + ', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items() if k != 'total')
                     + ' (reading and the forward passes of the workers overlap)')
    lines += [f'{name}: {path}' for name, path in result.outputs.items()]
    return '\n'.join(lines)

