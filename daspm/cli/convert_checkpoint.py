"""``python tools/convert_reference_checkpoint.py``: convert a DAFormer / DASPM reference checkpoint.

The reference (mmseg 0.x) names become those of this codebase.

    python tools/convert_reference_checkpoint.py SRC DST [--part model|ema_model|all]
        [--num-classes N] [--trust-pickle] [--overwrite]

--part model (default) / ema_model: a plain segmentor checkpoint for tools/test.py with a
DAFormer config (student or teacher weights). --part all keeps the model./ema_model./imnet_model.
prefixes, for the UDA segmentor. The input is never overwritten.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from daspm.utils.errors import DaspmInputError, exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Convert a DAFormer/DASPM reference checkpoint (mmseg 0.x)')
    parser.add_argument('src', help='reference checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth); must differ from src')
    parser.add_argument('--part', choices=['model', 'ema_model', 'all'], default='model',
                        help='model: student as a plain segmentor (default); ema_model: teacher as a plain '
                             'segmentor; all: every UDA part with its prefix, for the UDA segmentor')
    parser.add_argument('--num-classes', type=int,
                        help='keep only the first N classifier logits (the reference kept 7 logits for 5 classes)')
    parser.add_argument('--trust-pickle', action='store_true',
                        help='if safe loading refuses the file (pickled objects in an mmcv 1.x meta), load it '
                             'with full unpickling; only for files from a source you trust')
    parser.add_argument('--overwrite', action='store_true', help='replace DST if it exists (never SRC)')
    return parser.parse_args(argv)


def load_reference(path: Path, trust_pickle: bool) -> dict:
    """Safe loading; full unpickling only when the user trusts the file (--trust-pickle)."""
    from daspm.utils.checkpoint import read_checkpoint

    return read_checkpoint(path, trust_pickle=trust_pickle, refusal_fix=(
        'if the file comes from a source you trust (e.g. the DAFormer/DASPM release), re-run with --trust-pickle'))


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


@exit_on_input_error
def main(argv: list[str] | None = None) -> dict:
    """Convert SRC into DST and print a per-part summary; returns the written checkpoint."""
    import torch

    from daspm.models.reference_checkpoint import convert_reference_state, dataset_meta_of
    from daspm.utils.raster import atomic_output

    args = parse_args(argv)
    src, dst = Path(args.src), Path(args.dst)
    if _same_file(src, dst):
        raise DaspmInputError(f'{dst} is the input checkpoint; converters never overwrite their input: give '
                              'another output path')
    if dst.exists() and not args.overwrite:
        raise DaspmInputError(f'{dst} already exists; give another output path or pass --overwrite')
    ckpt = load_reference(src, args.trust_pickle)
    state = ckpt.get('state_dict', ckpt)
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise DaspmInputError(f'{src} holds no weights (no tensors in its state_dict)')
    converted, reports = convert_reference_state(state, args.part, args.num_classes)
    meta = dict(converted_from=src.name, part=args.part)
    old_meta = ckpt.get('meta')
    dataset_meta = dataset_meta_of(old_meta, args.num_classes)
    logits = {r.num_logits for r in reports.values() if r.num_logits is not None}
    notes = []
    if dataset_meta and logits and logits != {len(dataset_meta['classes'])}:
        # Class names that do not match the classifier would mislabel every metric: leave them out.
        notes.append(f'the checkpoint lists {len(dataset_meta["classes"])} classes but the classifier has '
                     f'{"/".join(map(str, sorted(logits)))} outputs: class names not kept')
        dataset_meta = None
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    if isinstance(old_meta, dict) and isinstance(old_meta.get('iter'), int):
        meta['iter'] = old_meta['iter']
    out = dict(state_dict=converted, meta=meta)
    with atomic_output(dst) as tmp:
        torch.save(out, tmp)

    print(f'{src} -> {dst} (--part {args.part})')
    for name, report in reports.items():
        suffix = f', {report.num_logits} output logits' if report.num_logits is not None else ''
        print(f'  {name}: {report.n_backbone} backbone + {report.n_head} head tensors{suffix}')
        if report.unmapped:
            more = f' ... (+{len(report.unmapped) - 8})' if len(report.unmapped) > 8 else ''
            print(f'    {len(report.unmapped)} unmapped key(s) dropped: {", ".join(report.unmapped[:8])}{more}')
    for note in notes:
        print(f'  {note}')
    if args.num_classes is None and logits:
        print(f'  the classifier has {"/".join(map(str, sorted(logits)))} outputs: use a config with that '
              'num_classes, or --num-classes to keep only the first classes')
    if dataset_meta:
        print(f'  classes: {", ".join(dataset_meta["classes"])}')
    return out
