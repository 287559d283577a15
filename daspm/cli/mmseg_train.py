"""``python tools/train.py``: train a segmentor from a config into a work dir (like mmsegmentation's).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp [fp16|bf16]] [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG N [options]     # N processes: torchrun ... tools/train.py --launcher pytorch

With a launcher, rank 0 holds the work dir's lock and writes the record; every process trains.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from daspm.apis.amp import AMP_DTYPES, check_amp_device, command_line_options
from daspm.apis.checkpoint import check_config_checkpoints, resume_checkpoint
from daspm.apis.config_loading import DictAction, add_tensorboard_if_available, load_config
from daspm.apis.distributed import (LAUNCHERS, close_distributed, configure_distributed, init_distributed,
                                    is_main_process)
from daspm.apis.run_directory import checkpoints_newest_first, record_provenance, run_lock
from daspm.utils.errors import exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == '--amp' and argv[i + 1] not in AMP_DTYPES:
            # mmsegmentation's --amp takes no value: ``--amp CONFIG`` means fp16 here too
            argv.insert(i + 1, 'fp16')
            break
    parser = argparse.ArgumentParser(description='Train a DASPM segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints (default work_dirs/<config name>)')
    parser.add_argument('--resume', action='store_true', help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=list(AMP_DTYPES),
                        help='mixed precision on the GPU (--amp alone: fp16 with dynamic loss scaling, as '
                             "mmsegmentation's tools/train.py; bf16: no scaling); --cfg-options take precedence")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='how the processes were started (pytorch: torchrun / tools/dist_train.sh; slurm: srun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def prepare_config(args: argparse.Namespace):
    """Config with work dir, resume, AMP and launcher applied."""
    cfg = load_config(args.config, command_line_options(args.amp, args.cfg_options))
    check_amp_device(cfg)
    check_config_checkpoints(cfg)  # a refused load_from or init_cfg: one line, not torch's traceback
    configure_distributed(cfg, args.launcher)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or str(Path('work_dirs') / Path(args.config).stem)
    if args.resume:
        cfg.resume = True
        if cfg.get('load_from') is None:
            choose_resume_checkpoint(cfg)
    add_tensorboard_if_available(cfg)
    return cfg


def choose_resume_checkpoint(cfg) -> None:
    """Resume from the work dir's newest checkpoint that can be read, naming the ones skipped.

    mmsegmentation's ``--resume`` also starts a work dir that holds no checkpoint yet (jobs that are
    requeued run the same command); that stays, said in one line rather than silently.
    """
    if not checkpoints_newest_first(cfg.work_dir):
        print(f'note: --resume: {cfg.work_dir} holds no checkpoint yet (iter_N.pth); training from the start',
              file=sys.stderr)
        return
    checkpoint, skipped = resume_checkpoint(cfg.work_dir)
    if skipped:
        print(f'warning: resuming from {checkpoint.name}, the newest checkpoint that can be read; skipped '
              f'{"; ".join(skipped)}', file=sys.stderr)
    cfg.load_from = str(checkpoint)


@exit_on_input_error
def main(argv: list[str] | None = None) -> None:
    """Build the runner from the config and train."""
    cfg = prepare_config(parse_args(argv))
    from mmengine.runner import Runner  # after parsing, so that --help and usage errors are quick

    init_distributed(cfg.launcher, cfg)
    if not is_main_process():
        Runner.from_cfg(cfg).train()  # one lock and one record per run, held by rank 0
    else:
        with run_lock(cfg.work_dir):
            record_provenance(cfg.work_dir)
            Runner.from_cfg(cfg).train()
    close_distributed(cfg.launcher)
