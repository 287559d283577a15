"""Evaluate a checkpoint: mIoU and per-class IoU/accuracy as a table and JSON, coloured predictions.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-json FILE]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daspm.apis.config_loading import DictAction, load_config  # noqa: E402
from daspm.utils.errors import exit_on_input_error  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Test a DASPM segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (iter_N.pth)')
    parser.add_argument('--work-dir', help='directory for the test logs (default: <checkpoint dir>/test)')
    parser.add_argument('--show-dir', help='write coloured predictions (PNG, and GeoTIFF when georeferenced) here')
    parser.add_argument('--metrics-json', help='write the metrics here (default: <work dir>/metrics.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    return parser.parse_args(argv)


def format_table(metrics: dict[str, float], classes: list[str]) -> str:
    """Per-class IoU/accuracy table followed by the summary, as text."""
    from prettytable import PrettyTable

    table = PrettyTable(['class', 'IoU', 'Acc'])
    for name in classes:
        table.add_row([name, _fmt(metrics.get(f'IoU.{name}')), _fmt(metrics.get(f'Acc.{name}'))])
    summary = ', '.join(f'{k} {_fmt(metrics[k])}' for k in ('aAcc', 'mIoU', 'mAcc') if k in metrics)
    return f'{table.get_string()}\n{summary}'


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.2f}'


def _json_safe(value):
    return None if isinstance(value, float) and math.isnan(value) else value


@exit_on_input_error
def main(argv: list[str] | None = None) -> dict:
    """Run the test loop with the checkpoint's weights and report the metrics."""
    from mmengine.runner import Runner

    from daspm.apis.checkpoint import load_state_checked, read_checkpoint

    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    ckpt = read_checkpoint(args.checkpoint)  # read once, and fail before building data loaders
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or str(Path(args.checkpoint).resolve().parent / 'test')
    cfg.load_from = None  # loaded below with shape checks instead of mmengine's lenient loading
    cfg.resume = False
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionWriterHook', out_dir=str(Path(args.show_dir).resolve()))]
    runner = Runner.from_cfg(cfg)
    load_state_checked(runner.model, ckpt, args.checkpoint, config_hint=f'a checkpoint trained with {args.config}')
    metrics = runner.test()
    classes = list(runner.test_evaluator.dataset_meta['classes'])
    print(format_table(metrics, classes))
    report = dict(
        config=str(args.config), checkpoint=str(args.checkpoint),
        iteration=ckpt.get('meta', {}).get('iter'),
        dataset=cfg.test_dataloader.dataset.get('type'),
        data_root=cfg.test_dataloader.dataset.get('data_root'),
        split=cfg.test_dataloader.dataset.get('ann_file'),
        metrics={k: _json_safe(float(v)) for k, v in metrics.items()})
    out = Path(args.metrics_json) if args.metrics_json else Path(cfg.work_dir) / 'metrics.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f'metrics written to {out}')
    return report


if __name__ == '__main__':
    main()
