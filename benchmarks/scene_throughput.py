"""Scene mapping throughput vs mmsegmentation's own sliding-window inference, side by side.

    python benchmarks/scene_throughput.py [--size 2048] [--window-size 512] [--overlap 128]
        [--batch-size 1] [--repeats 3] [--model synthetic|tiny] [--device cpu|cuda] [--amp bf16]

Both run the same model (random weights: speed does not depend on them) on the same in-memory
image on the output grid, with the same window and the same number of windows per axis:
mmseg = ``EncoderDecoder.inference`` with ``test_cfg=dict(mode='slide', crop_size, stride)`` on
the whole image (one window per forward pass, logits summed in a full-image tensor), ours =
``map_scene`` (batched windows, ramp-weighted softmax blend, streaming rows into an in-memory
sink). Repeats are interleaved (the order alternates) and medians are compared.
Reported: output megapixels per second, the ratio ours / mmseg, and how often the maps agree,
plus where map_scene's time went (reading, forward passes, blending, writing).

On the CPU map_scene runs an inference copy of the model (batch norms folded, dilated depthwise
convolutions as shifted sums) and one window per torch thread side by side, each single-threaded.
``--breakdown`` adds a run of map_scene with the model as it is and one window at a time (all
threads on each window, as mmseg), which separates the two gains. Process CPU seconds are
printed beside wall seconds: on a shared machine they are the steadier measure.

``--forward-only`` times the models' forward passes alone over the same windows, already on the
device: the inference copy and the model as it is, at batch 1 and ``--batch-size``, and the copy
with channels-last weights. It tells the model's own speed at each batch size from what the
mapper's reading and blending add. ``--profile --forward-only --profile-table FILE`` writes
the top operators of the forward passes alone over 4 x 4 windows (and the GPU's kernels on a
GPU), at batch 1 (the model as mmseg runs it) and at ``--batch-size`` (the copy as map_scene
runs it). The copy is built once before the timed runs, as a process mapping many scenes builds
it once.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SYNTHETIC_CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'

# A real mmseg segmentor, small enough for CPU runs over hundreds of megapixels: a 2-stage MiT
# with 8 channels and a SegFormer head of 16 channels (~9.5k parameters), the synthetic
# Sentinel pipeline (B4, B3, B2 / 3000, 10 m -> 2 m bicubic).
TINY_CONFIG = """
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False, pad_val=0, seg_pad_val=255),
    backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=2, num_layers=[1, 1],
                  num_heads=[1, 1], patch_sizes=[7, 3], strides=[4, 2], sr_ratios=[8, 4], out_indices=(0, 1),
                  mlp_ratio=2),
    decode_head=dict(type='SegformerHead', in_channels=[8, 8], in_index=[0, 1], channels=16, num_classes=5,
                     norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole'))
test_dataloader = dict(dataset=dict(type='SentinelDataset', pipeline=[
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0, interpolation='bicubic'),
    dict(type='PackSegInputs')]))
"""


def write_model_files(kind: str, work_dir: Path) -> tuple[Path, Path]:
    """Config and random-weight checkpoint of the 'tiny' or 'synthetic' model (in ``work_dir``)."""
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import daspm.register  # noqa: F401
    from daspm.apis.config_loading import load_config
    from daspm.classes import DASPM_CLASSES, DASPM_PALETTE

    work_dir.mkdir(parents=True, exist_ok=True)
    if kind == 'tiny':
        config = work_dir / 'tiny_segformer.py'
        config.write_text(TINY_CONFIG)
    else:
        config = SYNTHETIC_CONFIG
    cfg = load_config(config)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = work_dir / f'{kind}_random.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': DASPM_CLASSES, 'palette': DASPM_PALETTE}}}, checkpoint)
    return config, checkpoint


def smooth_texture(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """(C, H, W) float32 in ~[0.05, 0.55]: smooth noise at a few scales (field-, block- and pixel-sized)."""
    import cv2
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, channels), np.float32)
    for cell, amp in ((64, 0.3), (16, 0.15), (4, 0.05)):
        coarse = rng.random((height // cell + 2, width // cell + 2, channels)).astype(np.float32)
        img += amp * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, -1)
    return np.ascontiguousarray((img + 0.05).transpose(2, 0, 1))


def mmseg_slide(segmentor, preprocessor, image, window: int, overlap: int):
    """mmseg's slide inference of the whole image -> class map (H, W) uint8."""
    import torch
    from mmengine.config import ConfigDict

    stride = window - overlap
    segmentor.test_cfg = ConfigDict(mode='slide', crop_size=(window, window), stride=(stride, stride))
    h, w = image.shape[-2:]
    with torch.no_grad():
        inputs = preprocessor(dict(inputs=[image]), False)['inputs']
        logits = segmentor.inference(inputs, [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))])
        return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


def ours(predictor, image_np, window: int, overlap: int, batch_size: int, amp: str | None, plain: bool = False,
         timings: dict | None = None):
    """map_scene with ``predictor`` on the same in-memory image (input grid = output grid) -> class map (H, W) uint8.

    ``plain``: one batch at a time (no parallel windows); give it the model as it is for the plain run.
    """
    from affine import Affine

    from daspm.mapping import ArraySink, ArraySource, input_spec, map_scene, output_grid
    from rasterio.windows import Window

    spec = input_spec(scale=1.0)
    source = ArraySource(image_np, Affine(2.0, 0, 500000.0, 0, -2.0, 4000000.0), 'EPSG:32650')
    grid = output_grid(source, Window(0, 0, source.width, source.height), 1.0)
    sink = ArraySink(grid, with_confidence=False)
    result = map_scene(source, predictor, spec, sink, window_size=window, overlap=overlap, batch_size=batch_size,
                       amp=amp, progress=False, grid=grid, workers=1 if plain else None)
    if timings is not None:
        timings.update(result.timings, workers=result.workers)
    return sink.class_map


def forward_passes_alone(predictor, image, window: int, overlap: int, batch_size: int, amp: str | None,
                         sync) -> float:
    """Seconds of the model's forward passes alone over every window of ``image`` (on the device),
    ``batch_size`` at a time: what map_scene's reading and blending add to is this."""
    import torch

    from daspm.mapping import plan_windows
    from daspm.mapping.mapper import _autocast

    plan = plan_windows(image.shape[-2], image.shape[-1], window, overlap)
    starts = [(y, x) for y in plan.ys for x in plan.xs]
    sync()
    t0 = time.perf_counter()
    with torch.inference_mode(), _autocast(image.device, amp):
        for i in range(0, len(starts), batch_size):
            batch = torch.stack([image[:, y:y + plan.win_h, x:x + plan.win_w] for y, x in starts[i:i + batch_size]])
            predictor(batch)
    sync()
    return time.perf_counter() - t0


def forward_variants(model, predictor, as_is, batch_size: int) -> dict[str, tuple[object, int]]:
    """The models timed alone (name -> (predictor, windows per pass)): the inference copy map_scene
    runs and the model as it is (what mmseg's slide runs), at batch 1 and ``batch_size``, and the
    copy with channels-last convolution weights at ``batch_size`` (a candidate for a GPU's conv kernels)."""
    import torch

    from daspm.mapping import as_predictor

    channels_last = as_predictor(model)
    channels_last.segmentor.to(memory_format=torch.channels_last)
    variants = {}
    for size in sorted({1, batch_size}):
        variants[f'batch {size}'] = (predictor, size)
        variants[f'model as is, batch {size}'] = (as_is, size)
    variants[f'channels_last, batch {batch_size}'] = (channels_last, batch_size)
    return variants


def main(argv: list[str] | None = None) -> dict:
    """Run the interleaved comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=2048, help='image side in output pixels (2048)')
    parser.add_argument('--window-size', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=1,
                        help='windows per forward pass (1: fastest on the CPU here; 4 or more on a GPU)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--model', choices=['synthetic', 'tiny'], default='synthetic',
                        help='synthetic: the DAFormer/MiT-B0 model of the synthetic UDA config; tiny: see TINY_CONFIG')
    parser.add_argument('--device', default=None)
    parser.add_argument('--amp', choices=['bf16', 'fp16'])
    parser.add_argument('--work-dir', default='work_dirs/bench_scene', help='where the model files go')
    parser.add_argument('--json', type=Path, help='also write the medians and ratios to this JSON file')
    parser.add_argument('--breakdown', action='store_true',
                        help='also time map_scene with the model as it is, one window at a time')
    parser.add_argument('--forward-only', action='store_true',
                        help="also time the model's forward passes alone over the same windows, one window and "
                             '--batch-size windows at a time (what reading and blending add to)')
    parser.add_argument('--profile', action='store_true',
                        help='GPU: one more run of each side under torch.profiler, for the share of it the GPU is busy '
                             '(and the operator tables of --profile-table, also on the CPU)')
    parser.add_argument('--profile-table', type=Path,
                        help='with --profile and --forward-only: write the top operators by host and GPU time of the '
                             'forward passes alone (the model as is at batch 1, the copy at --batch-size) to this file')
    args = parser.parse_args(argv)

    import torch

    from daspm.apis.inference import init_segmentor
    from daspm.mapping.mapper import _autocast
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    config, checkpoint = write_model_files(args.model, Path(args.work_dir))
    model = init_segmentor(config, checkpoint, device=device)
    # cuDNN autotuning as mmseg's runner sets it from the config (map_scene turns it on by itself on
    # a GPU): both sides run with the same setting
    torch.backends.cudnn.benchmark = bool(model.cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    segmentor = getattr(model, 'eval_model', model)
    # built once, as a user's process does for all its scenes: not part of the timed runs
    from daspm.mapping import as_predictor
    t_build = time.perf_counter()
    predictor = as_predictor(model)  # the inference copy (batch norms folded...) map_scene runs
    build_s = time.perf_counter() - t_build
    image_np = smooth_texture(args.size, args.size)
    image = torch.from_numpy(image_np).to(device)
    mpx = args.size * args.size / 1e6
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

    def run_mmseg():
        with _autocast(torch.device(device), args.amp):
            return mmseg_slide(segmentor, model.data_preprocessor, image, args.window_size, args.overlap)

    timings: dict = {}

    def run_ours():
        return ours(predictor, image_np, args.window_size, args.overlap, args.batch_size, args.amp, timings=timings)

    as_is = as_predictor(model, optimize=False)

    def run_plain():
        return ours(as_is, image_np, args.window_size, args.overlap, args.batch_size, args.amp, plain=True)

    runners = {'mmseg slide': run_mmseg, 'map_scene': run_ours}
    if args.breakdown:
        runners['map_scene (model as is, 1 window at a time)'] = run_plain
    maps = {name: fn() for name, fn in runners.items()}  # warm-up (allocator, kernels), not timed
    times: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    for rep in range(args.repeats):
        order = list(runners) if rep % 2 == 0 else list(runners)[::-1]
        for name in order:
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            maps[name] = runners[name]()
            sync()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    ratio = med['mmseg slide'] / med['map_scene']
    cpu_ratio = med_cpu['mmseg slide'] / med_cpu['map_scene']
    agree = float((maps['mmseg slide'] == maps['map_scene']).mean())
    print(f'device {device} ({torch.get_num_threads()} threads), model {args.model}, amp {args.amp}, image '
          f'{args.size}x{args.size} ({mpx:.2f} Mpx), window {args.window_size}, overlap {args.overlap}, '
          f'batch {args.batch_size}, repeats {args.repeats} (interleaved, medians)'
          + (f', cudnn benchmark {torch.backends.cudnn.benchmark}' if device.startswith('cuda') else ''))
    print(f'  (the inference copy map_scene runs was built once in {build_s:.3f} s, before the timed runs)')
    width = max(len(name) for name in runners)
    for name in runners:
        print(f'  {name:{width}s} {med[name]:8.3f} s  {mpx / med[name]:8.3f} Mpx/s  cpu {med_cpu[name]:8.3f} s'
              '   runs: ' + ' '.join(f'{t:.3f}' for t in times[name]))
    print(f'  speed ratio map_scene / mmseg slide: {ratio:.2f}x (wall), {cpu_ratio:.2f}x (process CPU time)')
    if args.breakdown:
        plain = 'map_scene (model as is, 1 window at a time)'
        print(f'  map_scene with the model as is, one window at a time: '
              f'{med["mmseg slide"] / med[plain]:.2f}x (wall) of mmseg slide')
    print(f'  class maps agree on {100 * agree:.2f}% of pixels (blend weights and window positions differ)')
    print(f'  map_scene time (last run, {timings.get("workers")} windows at once; forward passes of the workers '
          'add up): ' + ', '.join(f'{k} {v:.2f} s' for k, v in timings.items() if k != 'workers'))
    result = dict(device=torch.cuda.get_device_name() if device.startswith('cuda') else device, amp=args.amp,
                  size=args.size, window=args.window_size, overlap=args.overlap, batch=args.batch_size,
                  median_s=med, ratio=ratio, cpu_ratio=cpu_ratio, agreement=agree, gpu_busy={},
                  forward_alone_s={}, predictor_build_s=build_s)
    from results_io import write_json  # benchmarks/ is on sys.path when a script here runs
    write_json(args.json, result)  # each stage below writes again: a time limit keeps what is done
    on_gpu = device.startswith('cuda')
    if args.profile:
        from gpu_profile import gpu_busy  # benchmarks/ is on sys.path when a script here runs
    if args.profile and on_gpu:
        for name, run in runners.items():
            _, kernel_s, wall = gpu_busy(run)
            result['gpu_busy'][name] = kernel_s / wall
            print(f'  GPU busy, {name}: {kernel_s:.3f} s of kernels in {wall:.3f} s ({100 * kernel_s / wall:.1f} %)')
        write_json(args.json, result)
    alone = result['forward_alone_s']
    variants = forward_variants(model, predictor, as_is, args.batch_size) if args.forward_only else {}
    for name, (model_variant, size) in variants.items():
        runs = [forward_passes_alone(model_variant, image, args.window_size, args.overlap, size, args.amp, sync)
                for _ in range(args.repeats + 1)][1:]  # the first run warms up
        alone[name] = statistics.median(runs)
        print(f'  forward passes alone, {name}: {alone[name]:.3f} s ({mpx / alone[name]:.3f} Mpx/s; '
              f'map_scene takes {med["map_scene"] / alone[name]:.2f}x as long)')
        write_json(args.json, result)
    if args.profile and args.profile_table is not None and variants:
        args.profile_table.unlink(missing_ok=True)
        # the model alone as each side runs it, on 4 x 4 windows: the table records every host
        # operator, which over the whole image took longer than the rest of the benchmark
        side = args.window_size + 3 * (args.window_size - args.overlap)
        part = image[:, :side, :side]
        for name in (f'batch {args.batch_size}', 'model as is, batch 1'):
            model_variant, size = variants[name]
            gpu_busy(functools.partial(forward_passes_alone, model_variant, part, args.window_size, args.overlap,
                                       size, args.amp, sync),
                     args.profile_table, f'forward passes alone, {name}, 4 x 4 windows', cuda=on_gpu)
        print(f'  operator tables of the forward passes alone: {args.profile_table}')
    return result


if __name__ == '__main__':
    main()
