"""Train one experiment in a named run directory (the DAFormer/DASPM entry point).

    python run_experiments.py --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    python run_experiments.py --resume work_dirs/local-basic/<run>   # continue an interrupted run

The run is named ``<yymmdd_HHMM>_<config name>_<5-char id>`` and lives in
``work_dirs/<exp>/<run>/`` with the resolved config (``config.py``), logs (text and JSON under
``<timestamp>/``), checkpoints ``iter_N.pth`` and ``last_checkpoint`` (path of the latest).
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config  # noqa: E402
from daspm.utils.errors import DaspmInputError, exit_on_input_error  # noqa: E402

RESOLVED_CONFIG = 'config.py'


def run_name(config_path: str | Path, now: datetime | None = None) -> str:
    """``<yymmdd_HHMM>_<config stem>_<5 hex chars>``: sortable by time and unique."""
    now = now or datetime.now()
    return f'{now:%y%m%d_%H%M}_{Path(config_path).stem}_{uuid.uuid4().hex[:5]}'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Run a DASPM experiment')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--config', help='config file to train')
    group.add_argument('--resume', metavar='RUN_DIR', help='resume the run in this directory')
    parser.add_argument('--exp-name', default='local-basic', help='experiment folder under work_dirs/')
    parser.add_argument('--work-root', default='work_dirs', help='root of all runs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries, key=value')
    return parser.parse_args(argv)


def prepare_run(args: argparse.Namespace):
    """Resolve the config and the run directory; write the resolved config there."""
    if args.resume:
        run_dir = Path(args.resume)
        resolved = run_dir / RESOLVED_CONFIG
        if not resolved.is_file():
            raise DaspmInputError(f'{run_dir} is not a run directory (no {RESOLVED_CONFIG}); '
                                  'give a directory made by run_experiments.py --config')
        cfg = load_config(resolved, args.cfg_options)
        cfg.resume = True
    else:
        cfg = load_config(args.config, args.cfg_options)
        run_dir = Path(args.work_root) / args.exp_name / run_name(args.config)
        run_dir.mkdir(parents=True, exist_ok=False)
        cfg.work_dir = str(run_dir)
        cfg.dump(str(run_dir / RESOLVED_CONFIG))
    cfg.work_dir = str(run_dir)
    add_tensorboard_if_available(cfg)
    return cfg, run_dir


@exit_on_input_error
def main(argv: list[str] | None = None) -> Path:
    """Train the experiment and return its run directory."""
    from mmengine.runner import Runner

    cfg, run_dir = prepare_run(parse_args(argv))
    print(f'run directory: {run_dir}')
    Runner.from_cfg(cfg).train()
    return run_dir


if __name__ == '__main__':
    main()
