"""``daspm-train`` (= ``python run_experiments.py``): train one experiment in a named run directory.

    daspm-train --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    daspm-train --resume work_dirs/local-basic/<run>   # continue an interrupted run
    daspm-train --exp 1              # every run of experiment 1 (experiments.py of the current directory)

The run is named ``<yymmdd_HHMM>_<config name>_<5-char id>`` and lives in
``work_dirs/<exp>/<run>/`` with the resolved config (``config.py``), logs (text and JSON under
``<timestamp>/``), checkpoints ``iter_N.pth``, ``last_checkpoint`` (path of the latest) and
``provenance.json`` (code revision with a dirty flag and package versions, one entry per start).
A run directory trains in one process at a time: a second one is refused. A new run that fails
before its first checkpoint leaves nothing behind: its run directory is removed (a resumed run's
never is).
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import uuid
from datetime import datetime
from pathlib import Path
from types import ModuleType

from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config
from daspm.apis.run_directory import LAST_CHECKPOINT, RESOLVED_CONFIG, record_provenance, run_lock
from daspm.utils.errors import DaspmInputError, exit_on_input_error

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


class NewRunDirs:
    """The run directories one invocation creates, so that a failure can take back the unfinished ones.

    Only what this invocation made is ever removed: a run directory it created (never a resumed
    one) that holds no checkpoint, and folders above it that it created and that are empty again.
    ``main`` removes them when the invocation fails with an error; an interrupt (Ctrl-C) keeps them.
    """

    def __init__(self) -> None:
        self.runs: list[Path] = []
        self.parents: list[Path] = []  # deepest first

    def make(self, parent: Path, name: str) -> Path:
        """Create ``parent/name`` (which must not exist) and remember it and the parents it needed."""
        missing = [p for p in (parent, *parent.parents) if not p.exists()]
        run_dir = parent / name
        run_dir.mkdir(parents=True, exist_ok=False)
        self.runs.append(run_dir)
        self.parents.extend(p for p in missing if p not in self.parents)
        return run_dir

    def remove_unfinished(self) -> list[Path]:
        """Remove the created run directories without a checkpoint; return them."""
        removed = []
        for run_dir in self.runs:
            if run_dir.is_dir() and not has_checkpoint(run_dir):
                shutil.rmtree(run_dir)
                removed.append(run_dir)
        for parent in self.parents:
            try:
                parent.rmdir()  # only succeeds while empty: a kept run (or anything else) keeps it
            except OSError:
                pass
        return removed


def has_checkpoint(run_dir: Path) -> bool:
    """Whether training wrote a checkpoint into ``run_dir`` (then the run can be resumed)."""
    return (run_dir / LAST_CHECKPOINT).exists() or any(run_dir.glob('*.pth'))


def prepare_run(args: argparse.Namespace, new_dirs: NewRunDirs):
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
        run_dir = new_dirs.make(Path(args.work_root) / args.exp_name, run_name(args.config))
        cfg.work_dir = str(run_dir)
        cfg.dump(str(run_dir / RESOLVED_CONFIG))
    cfg.work_dir = str(run_dir)
    add_tensorboard_if_available(cfg)
    return cfg, run_dir


def prepare_experiment(args: argparse.Namespace, experiments_file: str | Path, new_dirs: NewRunDirs) -> list:
    """Resolve every run of experiment ``args.exp`` into its own run directory."""
    table = load_experiments(experiments_file)
    try:
        runs = table.experiment_runs(args.exp)
    except KeyError as err:
        raise DaspmInputError(str(err.args[0])) from None
    prepared = []
    for run in runs:
        cfg = load_config(run.config, {**run.options, **(args.cfg_options or {})})
        run_dir = new_dirs.make(Path(args.work_root) / f'local-exp{args.exp}', run_name(run.name))
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

    new_dirs = NewRunDirs()
    try:
        if args.exp is not None:
            prepared = prepare_experiment(args, experiments_file or EXPERIMENTS_FILE, new_dirs)
        else:
            prepared = [prepare_run(args, new_dirs)]
        for cfg, run_dir in prepared:
            print(f'run directory: {run_dir}')
            # mmengine keeps one visualizer per name for the whole process and hands an existing one
            # back unchanged (with its old log folder): one name per start, so that a resume in the
            # same process (a notebook, the tests) logs into its own folder
            cfg.visualizer.name = f'visualizer_{run_dir.name}_{uuid.uuid4().hex[:5]}'
            if not args.dry_run:
                with run_lock(run_dir):
                    record_provenance(run_dir)
                    Runner.from_cfg(cfg).train()
    except Exception:
        # a new run without a checkpoint cannot be resumed: its empty or half-made directory would
        # only be mistaken for a run (by test.sh, --resume, or whoever lists work_dirs/)
        removed = new_dirs.remove_unfinished()
        if removed:
            print(f'removed {", ".join(map(str, removed))}: the new run failed before its first checkpoint',
                  file=sys.stderr)
        raise
    return [run_dir for _, run_dir in prepared]


def cli() -> None:
    """Console script ``daspm-train``."""
    main()
