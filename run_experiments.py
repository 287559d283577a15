"""Train one experiment in a named run directory (the DAFormer/DASPM entry point).

    python run_experiments.py --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    python run_experiments.py --resume work_dirs/local-basic/<run>   # continue an interrupted run
    python run_experiments.py --exp 1              # every run of experiment 1 (see experiments.py)

The run is named ``<yymmdd_HHMM>_<config name>_<5-char id>`` and lives in
``work_dirs/<exp>/<run>/`` with the resolved config (``config.py``), logs (text and JSON under
``<timestamp>/``), checkpoints ``iter_N.pth``, ``last_checkpoint`` (path of the latest) and
``provenance.json`` (code revision with a dirty flag and package versions, one entry per start).
A run directory trains in one process at a time: a second one is refused.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config  # noqa: E402
from daspm.apis.run_directory import record_provenance, run_lock  # noqa: E402
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
    group.add_argument('--exp', type=int, help='run every configuration of experiment N (experiments.py)')
    parser.add_argument('--dry-run', action='store_true', help='with --exp: write the run configs, do not train')
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


def prepare_experiment(args: argparse.Namespace) -> list:
    """Resolve every run of experiment ``args.exp`` into its own run directory."""
    from experiments import experiment_runs

    try:
        runs = experiment_runs(args.exp)
    except KeyError as err:
        raise DaspmInputError(str(err.args[0])) from None
    prepared = []
    for run in runs:
        cfg = load_config(run.config, {**run.options, **(args.cfg_options or {})})
        run_dir = Path(args.work_root) / f'local-exp{args.exp}' / run_name(run.name)
        run_dir.mkdir(parents=True, exist_ok=False)
        cfg.work_dir = str(run_dir)
        cfg.dump(str(run_dir / RESOLVED_CONFIG))
        add_tensorboard_if_available(cfg)
        prepared.append((cfg, run_dir))
    return prepared


@exit_on_input_error
def main(argv: list[str] | None = None) -> list[Path]:
    """Train the run(s) and return their run directories."""
    from mmengine.runner import Runner

    args = parse_args(argv)
    if args.dry_run and args.exp is None:
        raise DaspmInputError('--dry-run only applies to --exp N')
    prepared = prepare_experiment(args) if args.exp is not None else [prepare_run(args)]
    for cfg, run_dir in prepared:
        print(f'run directory: {run_dir}')
        # mmengine keeps one visualizer per name for the whole process: one name per run
        cfg.visualizer.name = f'visualizer_{run_dir.name}'
        if not args.dry_run:
            with run_lock(run_dir):
                record_provenance(run_dir)
                Runner.from_cfg(cfg).train()
    return [run_dir for _, run_dir in prepared]


if __name__ == '__main__':
    main()
