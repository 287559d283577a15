"""``daspm-train`` (= ``python run_experiments.py``): train one experiment in a named run directory.

    daspm-train --config configs/daspm/synthetic_source_only_segformer_mitb0.py
    daspm-train --resume work_dirs/local-basic/<run>   # continue an interrupted run
    daspm-train --exp 1              # every run of experiment 1 (experiments.py of the current directory)
    daspm-train --config CFG --gpus 4   # one process per GPU (torchrun); CPU processes without CUDA

The run is named ``<yymmdd_HHMM>_<config name>_<5-char id>`` and lives in
``work_dirs/<exp>/<run>/`` with the resolved config (``config.py``), logs (text and JSON under
``<timestamp>/``), checkpoints ``iter_N.pth``, ``last_checkpoint`` (path of the latest) and
``provenance.json`` (code revision with a dirty flag and package versions, one entry per start).
A run directory trains in one process at a time: a second one is refused. A new run that fails
before its first checkpoint and before it logged a training iteration leaves nothing behind: its
run directory is removed (a resumed run's never is, nor one a check stopped during training).

``--resume`` continues from the newest checkpoint that can be read (an unreadable newer one is
named and skipped) and refuses a directory without one; the run's ``config.py`` is never
rewritten: the configuration of each start goes to ``<timestamp>.py`` beside its log folder.

Distributed: ``--gpus N`` starts N processes through torchrun (``--launcher pytorch``), as does
``torchrun --nproc-per-node N run_experiments.py ... --launcher pytorch``; ``--launcher slurm``
runs under srun. Rank 0 names and creates the run directory, holds the lock and writes the
record, checkpoints and logs; every process trains. Without CUDA the processes use gloo.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from types import ModuleType

from mmengine.config import Config

from daspm.apis.amp import AMP_DTYPES, check_amp_device, command_line_options, require_amp_device
from daspm.apis.checkpoint import check_config_checkpoints, resume_checkpoint
from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config
from daspm.apis.distributed import (LAUNCHERS, close_distributed, configure_distributed, init_distributed,
                                    is_main_process, shared_value, torchrun_command)
from daspm.apis.run_directory import LAST_CHECKPOINT, RESOLVED_CONFIG, ProvenanceHook, run_lock
from daspm.utils.errors import DaspmInputError, TrainingStopped, exit_on_input_error

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
    parser.add_argument('--amp', nargs='?', const='fp16', choices=list(AMP_DTYPES),
                        help='mixed precision on the GPU (--amp alone: fp16 with dynamic loss scaling; bf16: no '
                             'scaling); written into the run\'s config; --cfg-options entries take precedence')
    parser.add_argument('--gpus', type=int, default=1,
                        help='train with N processes, one per GPU (torchrun; CPU processes with gloo without CUDA)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='how the processes were started (set by --gpus; slurm under srun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    # the experiment table of run_experiments.py, passed on to the processes --gpus starts
    parser.add_argument('--experiments-file', help=argparse.SUPPRESS)
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
    ``main`` removes them when the invocation fails with an error; an interrupt (Ctrl-C) keeps them,
    and so does a run whose logs hold training iterations (they show how far it got).
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
        """Remove the created run directories without a checkpoint or logged iterations; return them."""
        removed = []
        for run_dir in self.runs:
            if run_dir.is_dir() and not has_checkpoint(run_dir) and not has_training_logs(run_dir):
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


def has_training_logs(run_dir: Path) -> bool:
    """Whether the run's logs hold a training iteration (mmengine's ``<timestamp>/vis_data/scalars.json``)."""
    return any(path.stat().st_size > 0 for path in run_dir.glob('*/vis_data/scalars.json'))


def make_run_dir(new_dirs: NewRunDirs, parent: Path, name: str, cfg: Config) -> Path:
    """Rank 0 creates the run directory and writes the resolved config; every process gets its path.

    The config is written as the user's files resolve it, before the launcher's adjustments
    (:func:`configure_distributed`), so a resume may start another way.
    """
    run_dir = None
    if is_main_process():
        run_dir = new_dirs.make(parent, name)
        cfg.work_dir = str(run_dir)
        cfg.dump(str(run_dir / RESOLVED_CONFIG))
    # the name holds the time and a random id: the other processes take rank 0's
    return Path(shared_value(None if run_dir is None else str(run_dir)))


def finish_config(cfg: Config, run_dir: Path, launcher: str) -> None:
    """The run directory, the launcher's settings and TensorBoard (when installed)."""
    cfg.work_dir = str(run_dir)
    configure_distributed(cfg, launcher)
    add_tensorboard_if_available(cfg)


def prepare_run(args: argparse.Namespace, new_dirs: NewRunDirs):
    """Resolve the config and the run directory; write the resolved config there."""
    if args.resume:
        run_dir = Path(args.resume)
        resolved = run_dir / RESOLVED_CONFIG
        if not resolved.is_file():
            raise DaspmInputError(f'{run_dir} is not a run directory (no {RESOLVED_CONFIG}); '
                                  'give a directory made by daspm-train --config (run_experiments.py)')
        # the runner writes its config as <timestamp>.py beside its log folder, not over config.py
        cfg = Config(load_config(resolved, command_line_options(args.amp, args.cfg_options)).to_dict())
        check_amp_device(cfg)
        if args.launcher == 'none':  # one process: a training still running there comes first (it may
            with run_lock(run_dir):  # not have saved yet); the processes of a launcher would collide
                pass
        checkpoint, skipped = resume_checkpoint(run_dir)
        if skipped:
            print(f'warning: resuming from {checkpoint.name}, the newest checkpoint that can be read; skipped '
                  f'{"; ".join(skipped)}', file=sys.stderr)
        cfg.load_from, cfg.resume = str(checkpoint), True
        check_config_checkpoints(cfg)
        init_distributed(args.launcher, cfg)
    else:
        cfg = load_config(args.config, command_line_options(args.amp, args.cfg_options))
        check_amp_device(cfg)
        check_config_checkpoints(cfg)
        init_distributed(args.launcher, cfg)
        run_dir = make_run_dir(new_dirs, Path(args.work_root) / args.exp_name, run_name(args.config), cfg)
    finish_config(cfg, run_dir, args.launcher)
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
        cfg = load_config(run.config, {**run.options, **command_line_options(args.amp, args.cfg_options)})
        if not args.dry_run:
            check_amp_device(cfg)
            check_config_checkpoints(cfg)
        init_distributed(args.launcher, cfg)  # the first run's settings start the group of all
        run_dir = make_run_dir(new_dirs, Path(args.work_root) / f'local-exp{args.exp}', run_name(run.name), cfg)
        finish_config(cfg, run_dir, args.launcher)
        prepared.append((cfg, run_dir))
    return prepared


def launch_processes(args: argparse.Namespace, argv: list[str], experiments_file: str | Path | None) -> None:
    """``--gpus N``: run this command in N processes under torchrun (each with ``--launcher pytorch``)."""
    passed = list(argv)
    if experiments_file is not None and args.experiments_file is None:
        passed += ['--experiments-file', str(Path(experiments_file).resolve())]
    command = torchrun_command(args.gpus, 'daspm.cli.train', passed)
    print(f'starting {args.gpus} processes: {" ".join(command)}', flush=True)
    code = subprocess.run(command).returncode
    if code != 0:
        raise SystemExit(code)


def train_recorded(runner, cfg, run_dir: Path) -> None:
    """Train, recording the start in provenance.json once the runner has loaded (a resume that fails
    to load leaves the record as it was, and says so in one line)."""
    provenance = ProvenanceHook(run_dir)
    runner.register_hook(provenance)
    try:
        runner.train()
    except Exception as err:
        if not cfg.get('resume') or provenance.recorded:
            raise
        reason = (str(err).splitlines() or [''])[0]
        raise DaspmInputError(f'{run_dir}: resuming from {Path(cfg.load_from).name} failed while loading it '
                              f'({type(err).__name__}: {reason}); it does not fit the run\'s config.py and this '
                              'code: resume with the code that wrote it, or train anew') from err


@exit_on_input_error
def main(argv: list[str] | None = None, experiments_file: str | Path | None = None) -> list[Path]:
    """Train the run(s) and return their run directories.

    ``experiments_file``: the table ``--exp`` reads (default: ``experiments.py`` of the current
    directory; run_experiments.py passes the one beside it).
    """
    args = parse_args(argv)
    if args.dry_run and args.exp is None:
        raise DaspmInputError('--dry-run only applies to --exp N')
    if args.gpus < 1:
        raise DaspmInputError(f'--gpus {args.gpus}: give the number of processes (GPUs), 1 or more')
    if args.gpus > 1 and args.launcher == 'none' and not args.dry_run:
        if args.amp:
            require_amp_device()  # here, not once in every process started
        launch_processes(args, sys.argv[1:] if argv is None else argv, experiments_file)
        return []
    experiments_file = args.experiments_file or experiments_file or EXPERIMENTS_FILE
    from mmengine.runner import Runner  # after parsing, so that --help and usage errors are quick

    new_dirs = NewRunDirs()
    try:
        if args.exp is not None:
            prepared = prepare_experiment(args, experiments_file, new_dirs)
        else:
            prepared = [prepare_run(args, new_dirs)]
        check_process_count(args.gpus)
        main_process = is_main_process()
        for cfg, run_dir in prepared:
            if main_process:
                print(f'run directory: {run_dir}')
            # mmengine keeps one visualizer per name for the whole process and hands an existing one
            # back unchanged (with its old log folder): one name per start, so that a resume in the
            # same process (a notebook, the tests) logs into its own folder
            cfg.visualizer.name = f'visualizer_{run_dir.name}_{uuid.uuid4().hex[:5]}'
            if args.dry_run:
                continue
            if main_process:  # one lock and one record per run, held by rank 0
                with run_lock(run_dir):
                    train_recorded(Runner.from_cfg(cfg), cfg, run_dir)
            else:
                Runner.from_cfg(cfg).train()
        close_distributed(args.launcher)
    except Exception as err:
        # a new run without a checkpoint cannot be resumed: its empty or half-made directory would
        # only be mistaken for a run (by test.sh, --resume, or whoever lists work_dirs/); a run a
        # check stopped during training keeps its logs, which say why
        removed = [] if isinstance(err, TrainingStopped) else new_dirs.remove_unfinished()
        if removed:
            print(f'removed {", ".join(map(str, removed))}: the new run failed before its first checkpoint',
                  file=sys.stderr)
        raise
    return [run_dir for _, run_dir in prepared]


def check_process_count(gpus: int) -> None:
    """``--gpus N`` given to processes a launcher started must match their number."""
    from mmengine.dist import get_world_size

    if gpus > 1 and get_world_size() != gpus:
        raise DaspmInputError(f'--gpus {gpus}, but the launcher started {get_world_size()} process(es): '
                              'give --gpus the number of processes, or leave it out under a launcher')


def cli() -> None:
    """Console script ``daspm-train``."""
    main()


if __name__ == '__main__':  # python -m daspm.cli.train (the processes --gpus N starts)
    cli()
