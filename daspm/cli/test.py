"""``daspm-test`` (= ``python tools/test.py``, ``sh test.sh``): mIoU and per-class IoU/accuracy of a checkpoint.

    daspm-test CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-json FILE]
    daspm-test work_dirs/<exp>/<run>    # the run's config.py and latest checkpoint; writes
                                        # <run>/metrics.json, <run>/preds/ and <run>/test/
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from daspm.apis.config_loading import DictAction, load_config
from daspm.apis.distributed import (LAUNCHERS, close_distributed, configure_distributed, init_distributed,
                                    is_main_process)
from daspm.apis.run_directory import LAST_CHECKPOINT, RESOLVED_CONFIG
from daspm.utils.errors import DaspmInputError, exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Test a DASPM segmentor')
    parser.add_argument('config', help='config file, or a run directory made by daspm-train (run_experiments.py)')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file (iter_N.pth); with a run directory: its latest by default')
    parser.add_argument('--work-dir', help='directory for the test logs (default: <checkpoint dir>/test)')
    parser.add_argument('--show-dir', help='write coloured predictions (PNG, and GeoTIFF when georeferenced) here '
                                           '(default with a run directory: <run>/preds)')
    parser.add_argument('--metrics-json', help='write the metrics here (default: <work dir>/metrics.json; '
                                               'with a run directory: <run>/metrics.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='pytorch under torchrun, slurm under srun: the test set is split among the processes '
                             '(gloo on a machine without GPUs)')
    return parser.parse_args(argv)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``last_checkpoint`` names, else the highest ``iter_N.pth``; None without one."""
    pointer = run_dir / LAST_CHECKPOINT
    if pointer.is_file():
        named = Path(pointer.read_text().strip())
        # the pointer may be absolute from another machine: fall back to the file in the run dir
        found = named if named.is_file() else run_dir / named.name
        return found if found.is_file() else None
    numbered = [p for p in run_dir.glob('iter_*.pth') if p.stem[len('iter_'):].isdigit()]
    return max(numbered, key=lambda p: int(p.stem[len('iter_'):]), default=None)  # iter_1500 after iter_500


def use_run_directory(args: argparse.Namespace) -> None:
    """Fill in config, checkpoint and outputs from a run directory given as CONFIG (what test.sh did)."""
    run_dir = Path(args.config)
    config = run_dir / RESOLVED_CONFIG
    if not config.is_file():
        raise DaspmInputError(f'{config} not found: give a run directory made by daspm-train (run_experiments.py)')
    if args.checkpoint is None:
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            raise DaspmInputError(f'no checkpoint (iter_N.pth) in {run_dir}: train first or resume the run')
        args.checkpoint = str(checkpoint)
    args.config = str(config)
    args.work_dir = args.work_dir or str(run_dir / 'test')
    args.show_dir = args.show_dir or str(run_dir / 'preds')
    args.metrics_json = args.metrics_json or str(run_dir / 'metrics.json')
    print(f'config: {args.config}\ncheckpoint: {args.checkpoint}')


def check_paths(args: argparse.Namespace) -> None:
    """Resolve a run directory; a config without a checkpoint (or a missing path) is a usage error."""
    if Path(args.config).is_dir():
        use_run_directory(args)
    elif args.checkpoint is None and Path(args.config).is_file():
        raise DaspmInputError(f'{args.config} is a config file: give its checkpoint too (daspm-test CONFIG '
                              'CHECKPOINT), or a run directory instead (daspm-test work_dirs/<exp>/<run>)')
    elif args.checkpoint is None:
        raise DaspmInputError(f'{args.config}: no such run directory or config file; give a run directory '
                              '(daspm-test work_dirs/<exp>/<run>) or CONFIG CHECKPOINT')


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
    args = parse_args(argv)
    check_paths(args)  # before the heavy imports: a wrong path fails at once
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    from daspm.apis.checkpoint import load_state_checked
    from daspm.utils.checkpoint import read_checkpoint

    cfg = load_config(args.config, args.cfg_options)
    ckpt = read_checkpoint(args.checkpoint)  # read once, and fail before building data loaders
    configure_distributed(cfg, args.launcher)
    cfg.work_dir = args.work_dir or str(Path(args.checkpoint).resolve().parent / 'test')
    cfg.load_from = None  # loaded below with shape checks instead of mmengine's lenient loading
    cfg.resume = False
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionWriterHook', out_dir=str(Path(args.show_dir).resolve()))]
    init_distributed(cfg.launcher, cfg)
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model  # DDP under a launcher
    load_state_checked(model, ckpt, args.checkpoint, config_hint=f'a checkpoint trained with {args.config}')
    metrics = runner.test()  # gathered: every process holds the whole test set's metrics
    classes = list(runner.test_evaluator.dataset_meta['classes'])
    main_process = is_main_process()
    del runner, model  # freed before the process group goes (see close_distributed)
    close_distributed(args.launcher)
    report = dict(
        config=str(args.config), checkpoint=str(args.checkpoint),
        iteration=ckpt.get('meta', {}).get('iter'),
        dataset=cfg.test_dataloader.dataset.get('type'),
        data_root=cfg.test_dataloader.dataset.get('data_root'),
        split=cfg.test_dataloader.dataset.get('ann_file'),
        metrics={k: _json_safe(float(v)) for k, v in metrics.items()})
    if not main_process:  # one table and one file, from rank 0
        return report
    print(format_table(metrics, classes))
    out = Path(args.metrics_json) if args.metrics_json else Path(cfg.work_dir) / 'metrics.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f'metrics written to {out}')
    return report


def cli() -> None:
    """Console script ``daspm-test``."""
    main()
