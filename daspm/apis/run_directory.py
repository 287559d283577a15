"""A run directory's guard and record: one training process at a time, and which code made it."""
from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Iterator

from mmengine.hooks import Hook

from ..utils.errors import DaspmInputError

RESOLVED_CONFIG = 'config.py'  # the config a run trains with, written by daspm-train
LAST_CHECKPOINT = 'last_checkpoint'  # mmengine's pointer to the latest checkpoint, in the work dir
LOCK_FILE = '.training.lock'
PROVENANCE_FILE = 'provenance.json'
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')
#: distributions whose versions decide what a run computes
PACKAGES = ('torch', 'mmcv', 'mmcv-lite', 'mmengine', 'mmsegmentation', 'kornia', 'rasterio', 'numpy',
            'opencv-python-headless')


@contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` while training; a second process is refused.

    The lock is an ``flock`` on a file in the run directory: the kernel releases it when the
    holding process ends in any way (also ``kill -9``), so a lock left by a killed run never
    blocks a resume. The file keeps the holder's pid and start time for the message.
    """
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, 'a+', encoding='utf-8')
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or 'another process'
            raise DaspmInputError(
                f'{run_dir} is in use by a training that is still running ({holder}); wait for it '
                'to finish or stop it, then resume; two trainings in one run directory would '
                'overwrite each other\'s checkpoints') from None
        handle.seek(0)
        handle.truncate()
        handle.write(f'pid {os.getpid()} on {platform.node()}, since '
                     f'{datetime.now(timezone.utc).isoformat(timespec="seconds")}\n')
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the descriptor releases the lock


def code_revision(repo: str | os.PathLike | None = None) -> dict[str, object]:
    """Git commit of the code (and whether the work tree had uncommitted changes), if known."""
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(['git', '-C', str(repo), *args], capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git('rev-parse', 'HEAD')
    if commit is None:
        return {'commit': None, 'dirty': None, 'note': f'{repo} is not a git checkout'}
    status = git('status', '--porcelain', '--untracked-files=no')
    return {'commit': commit, 'dirty': bool(status), 'describe': git('describe', '--always', '--dirty')}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (those installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def record_provenance(run_dir: str | os.PathLike, argv: list[str] | None = None) -> Path:
    """Append this start (code revision, package versions, command) to ``<run_dir>/provenance.json``.

    A resumed run gets one entry per start, so a run continued on other code says so.
    """
    path = Path(run_dir) / PROVENANCE_FILE
    entries = json.loads(path.read_text(encoding='utf-8')) if path.is_file() else []
    entries.append({
        'started': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'command': list(sys.argv if argv is None else argv),
        'code': code_revision(),
        'python': platform.python_version(),
        'packages': package_versions(),
        'host': platform.node(),
    })
    tmp = path.with_name(f'.{path.name}.part')
    tmp.write_text(json.dumps(entries, indent=2) + '\n', encoding='utf-8')
    os.replace(tmp, path)
    return path


class ProvenanceHook(Hook):
    """Record this start in ``provenance.json`` once the runner has built and loaded (``before_train``).

    A resume that fails while loading its checkpoint therefore leaves the record as it was.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = run_dir
        self.recorded = False

    def before_train(self, runner) -> None:
        record_provenance(self.run_dir)
        self.recorded = True


def checkpoints_newest_first(run_dir: str | Path) -> list[Path]:
    """The checkpoints of a run directory, newest first: the one ``last_checkpoint`` names, then
    ``iter_N.pth`` (or ``epoch_N.pth``) by falling N."""
    run_dir = Path(run_dir)
    numbered = sorted((p for p in run_dir.glob('*.pth') if CHECKPOINT_NAME.match(p.name)),
                      key=lambda p: int(CHECKPOINT_NAME.match(p.name).group(2)), reverse=True)
    pointer = run_dir / LAST_CHECKPOINT
    named = pointer.read_text(encoding='utf-8').strip() if pointer.is_file() else ''
    # the pointer holds the path at save time: a moved run directory still has the file by name
    latest = [run_dir / Path(named).name] if named and (run_dir / Path(named).name).is_file() else []
    return latest + [p for p in numbered if p not in latest]
