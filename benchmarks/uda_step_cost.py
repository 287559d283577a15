"""Cost of one DACS (UDA) training iteration relative to one source-only iteration.

Same segmentor, batch (2 source + 2 target) and crop, measured side by side in one process on
in-memory tensors (no data loading), interleaved so machine noise hits both alike:

    .venv/bin/python benchmarks/uda_step_cost.py [--config CFG] [--crop 128] [--iters 10] [--device cuda] [--amp]

On a GPU it also reports the peak memory of each variant built alone (parameters, optimizer
state and activations of a training step), e.g. for the MiT-B5 recipe at crop 512, batch 2+2:

    python benchmarks/uda_step_cost.py --device cuda --amp --crop 512 \
        --config configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py

``--compile [BACKEND]`` builds every variant with torch.compile on the forward passes (DACS's
``compile`` option; the source-only variant is compiled the same way) and ``--profile`` adds the
share of the step the GPU spends in kernels (torch.profiler over ``--iters`` steps per variant).

Floor: two forward+backward passes (source, mixed) plus two forward-only passes (teacher,
ImageNet model) is about 2.7 source-only iterations with FD, and about 2.35 without it.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

from daspm.apis.config_loading import load_config
from daspm.models.uda.compile import compile_options, compile_segmentor
from gpu_profile import gpu_busy  # benchmarks/ is on sys.path when a script here runs
from results_io import write_json

DEFAULT_CONFIG = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'


def make_batch(batch: int, crop: int, channels: int, num_classes: int, seed: int) -> dict:
    """Random source and target samples shaped like the data loader's output."""
    gen = torch.Generator().manual_seed(seed)

    def samples(labelled: bool):
        out = []
        for _ in range(batch):
            sample = SegDataSample(metainfo=dict(img_shape=(crop, crop), ori_shape=(crop, crop),
                                                 pad_shape=(crop, crop)))
            if labelled:
                label = torch.randint(0, num_classes, (1, crop, crop), generator=gen)
                # blocky labels so ClassMix / FD masks are realistic rather than noise
                label = label[:, ::16, ::16].repeat_interleave(16, 1).repeat_interleave(16, 2)[:, :crop, :crop]
                sample.gt_sem_seg = PixelData(data=label)
            out.append(sample)
        return out

    def images():
        return [torch.rand(channels, crop, crop, generator=gen) for _ in range(batch)]

    return dict(inputs=images(), data_samples=samples(True), target_inputs=images(),
                target_data_samples=samples(True))


def build(cfg, uda: bool, fd: bool, device: str, amp: bool, compile_cfg: dict | None = None):
    """The model (DACS or its plain segmentor) and an optimizer wrapper from the config's recipe."""
    model_cfg = copy.deepcopy(cfg.model)
    # Timings and memory do not depend on the weights: skip the ImageNet checkpoint so the
    # benchmark runs without pretrained/mit_b*.pth.
    model_cfg.model.backbone.init_cfg = None
    options = compile_options(compile_cfg) if compile_cfg else None
    if uda:
        model_cfg.imnet_feature_dist_lambda = 0.005 if fd else 0.0
        model_cfg.compile = options
    else:
        model_cfg = model_cfg.model
        model_cfg.data_preprocessor = cfg.model.data_preprocessor
    model = MODELS.build(model_cfg).to(device)
    if options is not None and not uda:
        compile_segmentor(model, options)
    model.init_weights()
    model.train()
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.type = 'AmpOptimWrapper'
        optim_cfg.dtype = 'bfloat16'
        # bf16 has float32's range: no loss scaling (a GradScaler checks for inf every step)
        optim_cfg.loss_scale = dict(enabled=False)
    return model, build_optim_wrapper(model, optim_cfg)


def source_batch(batch: dict) -> dict:
    """Only the labelled source part (what a source-only iteration sees)."""
    return dict(inputs=batch['inputs'], data_samples=batch['data_samples'])


def time_steps(model, optim_wrapper, batch: dict, iters: int, device: str) -> list[float]:
    """Wall time of ``iters`` train_step calls."""
    times = []
    for _ in range(iters):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.train_step(copy.copy(batch), optim_wrapper)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def kernel_share(model, optim_wrapper, batch: dict, iters: int, table_path: Path | None = None) -> float:
    """Share of the wall time of ``iters`` steps that the GPU spends running kernels (and copies).

    With ``table_path`` the profiler's top operators by host and GPU time are appended there, to
    see where the host spends a step that leaves the GPU waiting.
    """
    def steps() -> None:
        for _ in range(iters):
            model.train_step(copy.copy(batch), optim_wrapper)

    _, kernel_s, wall = gpu_busy(steps, table_path, f'{type(model).__name__}, {iters} steps')
    return kernel_s / wall


def peak_memory_gib(cfg, uda: bool, fd: bool, data: dict, device: str, amp: bool,
                    compile_cfg: dict | None = None) -> tuple[float, float]:
    """Peak allocated and reserved GPU memory (GiB) of training steps of one variant built alone (after warm-up)."""
    torch.cuda.empty_cache()
    model, wrapper = build(cfg, uda, fd, device, amp, compile_cfg)
    # cuDNN autotuning tries workspaces of several GiB in the first steps: measure after them
    time_steps(model, wrapper, data, 2, device)
    torch.cuda.reset_peak_memory_stats()
    time_steps(model, wrapper, data, 2, device)
    peak = (torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30)
    del model, wrapper
    torch.cuda.empty_cache()
    return peak


def main() -> None:
    """Measure source-only, UDA without FD and UDA with FD, interleaved; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='a UDA config (its segmentor is reused)')
    parser.add_argument('--crop', type=int, default=128)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=10, help='timed iterations per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast (GPU)')
    parser.add_argument('--compile', nargs='?', const='inductor', default=None, metavar='BACKEND',
                        help='torch.compile the forward passes (default backend: inductor)')
    parser.add_argument('--compile-mode', metavar='MODE',
                        help="with --compile: torch.compile's mode, e.g. reduce-overhead (CUDA graphs) or "
                             'max-autotune-no-cudagraphs (inductor only)')
    parser.add_argument('--json', type=Path, help='also write the table to this JSON file')
    parser.add_argument('--profile', action='store_true', help='GPU kernel time as a share of the step (CUDA)')
    parser.add_argument('--profile-iters', type=int, default=3, help='steps per variant under the profiler')
    parser.add_argument('--profile-table', type=Path, help='with --profile: write the top operators by host and GPU time here')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the per-variant peak memory (on a GPU it builds each variant once more)')
    parser.add_argument('--variants', nargs='+', default=['source-only', 'uda (no FD)', 'uda (with FD)'],
                        help='which of the three variants to run (source-only is always run: the ratios need it)')
    parser.add_argument('--cudnn-benchmark', choices=['config', 'on', 'off'], default='config',
                        help="cuDNN autotuning: as the config's env_cfg (what training uses), or forced")
    args = parser.parse_args()

    if args.compile_mode and not args.compile:
        parser.error('--compile-mode needs --compile')
    compile_cfg = None
    if args.compile:
        compile_cfg = dict(backend=args.compile)
        if args.compile_mode:
            compile_cfg['mode'] = args.compile_mode
    torch.manual_seed(0)
    cfg = load_config(args.config)
    init_default_scope('mmseg')
    cudnn_benchmark = (bool(cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
                       if args.cudnn_benchmark == 'config' else args.cudnn_benchmark == 'on')
    torch.backends.cudnn.benchmark = cudnn_benchmark
    if cfg.model.type != 'DACS':
        raise SystemExit(f'{args.config} is not a UDA config (model type {cfg.model.type})')
    cfg.model.model.data_preprocessor = None
    cfg.model.data_preprocessor.size = (args.crop, args.crop)
    num_classes = cfg.model.model.decode_head.num_classes
    channels = cfg.model.model.backbone.get('in_channels', 3)
    batch = make_batch(args.batch, args.crop, channels, num_classes, seed=0)
    recipes = {'source-only': (False, False, source_batch(batch)), 'uda (no FD)': (True, False, batch),
               'uda (with FD)': (True, True, batch)}
    if unknown := set(args.variants) - set(recipes):
        raise SystemExit(f'unknown variant(s) {sorted(unknown)}; known: {list(recipes)}')
    recipes = {name: recipe for name, recipe in recipes.items() if name == 'source-only' or name in args.variants}
    peaks = {}
    if args.device.startswith('cuda') and not args.no_memory:  # before the timed models exist, so each is measured alone
        peaks = {name: peak_memory_gib(cfg, uda, fd, data, args.device, args.amp, compile_cfg)
                 for name, (uda, fd, data) in recipes.items()}
    variants = {name: (*build(cfg, uda, fd, args.device, args.amp, compile_cfg), data)
                for name, (uda, fd, data) in recipes.items()}
    for model, wrapper, data in variants.values():  # warm-up (also runs the iteration-0 teacher copy)
        time_steps(model, wrapper, data, 2, args.device)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (model, wrapper, data) in variants.items():
            times[name] += time_steps(model, wrapper, data, args.iters, args.device)
    report(args, times, peaks, {}, cudnn_benchmark)
    if args.profile and args.device.startswith('cuda'):
        # after the timings are out: a profile that runs long must not cost them
        if args.profile_table:
            args.profile_table.parent.mkdir(parents=True, exist_ok=True)
            args.profile_table.write_text('')
        shares = {}
        for name, (model, wrapper, data) in variants.items():
            shares[name] = kernel_share(model, wrapper, data, args.profile_iters, args.profile_table)
            print(f'GPU kernels in the step, {name}: {shares[name] * 100:.1f} %', flush=True)
        report(args, times, peaks, shares, cudnn_benchmark)


def report(args, times: dict[str, list[float]], peaks: dict, shares: dict, cudnn_benchmark: bool) -> None:
    """Print the table (medians, ratios, floors, memory and kernel share where measured); write --json."""
    base = statistics.median(times['source-only'])
    device = torch.cuda.get_device_name() if args.device.startswith('cuda') else args.device
    print(f'device {device}, amp {args.amp}, compile {args.compile} (mode {args.compile_mode}), batch {args.batch}+{args.batch}, '
          f'crop {args.crop}, {args.rounds}x{args.iters} iterations each, threads {torch.get_num_threads()}'
          + (f', cudnn benchmark {cudnn_benchmark}' if args.device.startswith('cuda') else ''))
    memory_header = f'{"peak alloc GiB":>16}{"reserved GiB":>14}' if peaks else ''
    share_header = f'{"GPU kernels":>13}' if shares else ''
    print(f'{"variant":<16}{"median s/iter":>15}{"ratio":>8}{"floor":>8}{memory_header}{share_header}')
    floors = {'source-only': 1.0, 'uda (no FD)': 2.35, 'uda (with FD)': 2.7}
    for name, values in times.items():
        median = statistics.median(values)
        memory = f'{peaks[name][0]:>16.2f}{peaks[name][1]:>14.2f}' if peaks else ''
        share = f'{shares[name] * 100:>12.1f}%' if shares else ''
        print(f'{name:<16}{median:>15.4f}{median / base:>8.2f}{floors[name]:>8.2f}{memory}{share}', flush=True)
    if args.json:
        table = {name: dict(median_s=statistics.median(values), ratio=statistics.median(values) / base,
                            peak_alloc_gib=peaks.get(name, (None,))[0], kernel_share=shares.get(name))
                 for name, values in times.items()}
        write_json(args.json, dict(device=device, amp=args.amp, compile=args.compile, compile_mode=args.compile_mode,
                                   crop=args.crop, batch=args.batch, config=args.config, variants=table))


if __name__ == '__main__':
    main()
