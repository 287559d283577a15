"""MiT encoder cost with mmseg's attention vs the fused attention (FusedMixVisionTransformer), side by side.

    python benchmarks/attention_cost.py [--variant b5|b0] [--crop 512] [--batch 2] [--device cpu|cuda]
        [--amp] [--iters 3] [--rounds 3] [--json FILE]

Both encoders have the same weights (the config's MiT-B5 or B0 sizes, random values). Timed per
round and mode, interleaved (the order alternates): a training step's encoder part (forward and
backward, training mode) and an inference forward pass (eval, no gradients). On a GPU the peak
memory of each training pass is reported too. Reported: median seconds, the ratio fused / mmseg,
the number of operators dispatched per training pass, and the largest difference of the outputs.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from results_io import write_json  # benchmarks/ is on sys.path when a script here runs
from torch.utils._python_dispatch import TorchDispatchMode

VARIANTS = {  # the MiT sizes of configs/_base_/models/daformer_sepaspp_mitb5.py and segformer_mitb0.py
    'b5': dict(embed_dims=64, num_layers=[3, 6, 40, 3]),
    'b0': dict(embed_dims=32, num_layers=[2, 2, 2, 2]),
}
COMMON = dict(in_channels=3, num_stages=4, num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
              out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
              drop_path_rate=0.1)


class _OperatorCount(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def build_pair(variant: str, device: torch.device) -> dict[str, torch.nn.Module]:
    """mmseg's encoder and the fused one, with the same weights."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import daspm.register  # noqa: F401

    init_default_scope('mmseg')
    torch.manual_seed(0)
    mmseg = MODELS.build(dict(type='MixVisionTransformer', **COMMON, **VARIANTS[variant])).to(device)
    fused = MODELS.build(dict(type='FusedMixVisionTransformer', **COMMON, **VARIANTS[variant])).to(device)
    fused.load_state_dict(mmseg.state_dict())
    return {'mmseg': mmseg, 'fused': fused}


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def train_pass(net: torch.nn.Module, images: torch.Tensor, amp: bool) -> None:
    net.train()
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        outs = net(images)
    sum(o.float().mean() for o in outs).backward()
    net.zero_grad(set_to_none=True)


def infer_pass(net: torch.nn.Module, images: torch.Tensor, amp: bool) -> None:
    net.eval()
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        net(images)


def timed(fn, device: torch.device, iters: int) -> float:
    """Median seconds of ``iters`` calls of ``fn`` (after it ran once untimed by the caller)."""
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', choices=sorted(VARIANTS), default='b5')
    parser.add_argument('--crop', type=int, default=512)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast')
    parser.add_argument('--iters', type=int, default=3, help='timed passes per round, mode and side')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # as training (the configs' env_cfg)
    nets = build_pair(args.variant, device)
    images = torch.randn(args.batch, 3, args.crop, args.crop, generator=torch.Generator().manual_seed(1)).to(device)

    result = dict(device=torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
                  torch=torch.__version__, variant=args.variant, crop=args.crop, batch=args.batch,
                  amp='bf16' if args.amp else None, iters=args.iters, rounds=args.rounds)
    with torch.no_grad():
        outs = [nets[name].eval()(images) for name in ('mmseg', 'fused')]
        result['max_abs_difference'] = max(float((a - b).abs().max()) for a, b in zip(*outs))
    del outs
    operators, peak = {}, {}
    for name, net in nets.items():
        train_pass(net, images, args.amp)  # warm-up (cuDNN autotuning, allocator)
        infer_pass(net, images, args.amp)
        with _OperatorCount() as ops:
            train_pass(net, images, args.amp)
        operators[name] = ops.count
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            train_pass(net, images, args.amp)
            peak[name] = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20
    result['operators_per_training_pass'] = operators
    if peak:
        result['training_peak_mib'] = peak

    runs: dict[str, dict[str, list[float]]] = {mode: {'mmseg': [], 'fused': []} for mode in ('training', 'inference')}
    for round_index in range(args.rounds):
        order = ['mmseg', 'fused'] if round_index % 2 == 0 else ['fused', 'mmseg']
        for mode, fn in (('training', train_pass), ('inference', infer_pass)):
            for name in order:
                runs[mode][name].append(timed(lambda: fn(nets[name], images, args.amp), device, args.iters))
    result['rounds_s'] = runs
    result['median_s'] = {mode: {name: statistics.median(v) for name, v in sides.items()} for mode, sides in runs.items()}
    result['fused_over_mmseg'] = {mode: m['fused'] / m['mmseg'] for mode, m in result['median_s'].items()}

    print(f"MiT-{args.variant.upper()} encoder, {result['device']}, crop {args.crop}, batch {args.batch}, "
          f"amp {result['amp']}, {args.rounds} interleaved rounds of {args.iters} passes (medians)")
    print(f"{'mode':<10} {'mmseg s':>9} {'fused s':>9} {'fused/mmseg':>12}")
    for mode, m in result['median_s'].items():
        print(f"{mode:<10} {m['mmseg']:>9.4f} {m['fused']:>9.4f} {result['fused_over_mmseg'][mode]:>12.3f}")
    print(f"operators per training pass: mmseg {operators['mmseg']}, fused {operators['fused']}")
    if peak:
        print(f"training peak memory: mmseg {peak['mmseg']:.0f} MiB, fused {peak['fused']:.0f} MiB "
              f"({peak['fused'] / peak['mmseg']:.2f}x)")
    print(f"largest output difference (eval): {result['max_abs_difference']:.2e}")
    return write_json(args.json, result)


if __name__ == '__main__':
    main()
