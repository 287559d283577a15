"""``daspm-train`` (= ``python run_experiments.py``): train one experiment in a named run directory.

    daspm-train --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    daspm-train --resume work_dirs/local-basic/<run>   # continue an interrupted run
    daspm-train --exp 1              # every run of experiment 1 (experiments.py of the current directory)

The run is named ``<yymmdd_HHMM>_<config name>_<5-char id>`` and lives in
``work_dirs/<exp>/<run>/`` with the resolved config (``config.py``), logs (text and JSON under
``<timestamp>/``), checkpoints ``iter_N.pth``, ``last_checkpoint`` (path of the latest) and
``provenance.json`` (code revision with a dirty flag and package versions, one entry per start).
A run directory trains in one process at a time: a second one is refused.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import uuid
from datetime import datetime
from pathlib import Path
from types import ModuleType

from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config
from daspm.apis.run_directory import record_provenance, run_lock
from daspm.utils.errors import DaspmInputError, exit_on_input_error

RESOLVED_CONFIG = 'config.py'
EXPERIMENTS_FILE = 'experiments.py'


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


def load_experiments(path: str | Path) -> ModuleType:
    """The experiment table at ``path`` (a file users edit), loaded from its path (no import-path edit)."""
    path = Path(path)
    if not path.is_file():
        raise DaspmInputError(f'{path.resolve()} not found: --exp N reads the experiment table {EXPERIMENTS_FILE} '
                              'of the current directory; run from the repository root, or train one config '
                              'with --config')
    spec = importlib.util.spec_from_file_location('daspm_experiments', path)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their defining module up in sys.modules while the file executes
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    if not callable(getattr(module, 'experiment_runs', None)):
        raise DaspmInputError(f'{path} defines no experiment_runs(exp): see the repository\'s {EXPERIMENTS_FILE}')
    return module


def prepare_run(args: argparse.Namespace):
    """Resolve the config and the run directory; write the resolved config there."""
    if args.resume:
        run_dir = Path(args.resume)
        resolved = run_dir / RESOLVED_CONFIG
        if not resolved.is_file():
            raise DaspmInputError(f'{run_dir} is not a run directory (no {RESOLVED_CONFIG}); '
                                  'give a directory made by daspm-train --config (run_experiments.py)')
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


def prepare_experiment(args: argparse.Namespace, experiments_file: str | Path) -> list:
    """Resolve every run of experiment ``args.exp`` into its own run directory."""
    table = load_experiments(experiments_file)
    try:
        runs = table.experiment_runs(args.exp)
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
def main(argv: list[str] | None = None, experiments_file: str | Path | None = None) -> list[Path]:
    """Train the run(s) and return their run directories.

    ``experiments_file``: the table ``--exp`` reads (default: ``experiments.py`` of the current
    directory; run_experiments.py passes the one beside it).
    """
    args = parse_args(argv)
    if args.dry_run and args.exp is None:
        raise DaspmInputError('--dry-run only applies to --exp N')
    from mmengine.runner import Runner  # after parsing, so that --help and usage errors are quick

    if args.exp is not None:
        prepared = prepare_experiment(args, experiments_file or EXPERIMENTS_FILE)
    else:
        prepared = [prepare_run(args)]
    for cfg, run_dir in prepared:
        print(f'run directory: {run_dir}')
        # mmengine keeps one visualizer per name for the whole process: one name per run
        cfg.visualizer.name = f'visualizer_{run_dir.name}'
        if not args.dry_run:
            with run_lock(run_dir):
                record_provenance(run_dir)
                Runner.from_cfg(cfg).train()
    return [run_dir for _, run_dir in prepared]


def cli() -> None:
    """Console script ``daspm-train``."""
    main()
