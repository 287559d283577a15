"""One training per run directory (a lock that a killed process does not leave behind), provenance,
and no run directory left by a new run that failed before its first checkpoint."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from cli_helpers import call_cli
from conftest import REPO
from daspm.apis.run_directory import PROVENANCE_FILE, record_provenance, run_lock
from daspm.cli import train as cli_train
from daspm.utils.errors import DaspmInputError

SOURCE_ONLY_CONFIG = REPO / 'configs/daspm/synthetic_source_only_segformer_mitb0.py'
# the lock holder imports only daspm.apis.run_directory (no torch: a fraction of a second)
HOLD = textwrap.dedent('''
    import sys, time
    from daspm.apis.run_directory import run_lock
    with run_lock(sys.argv[1]):
        print('locked', flush=True)
        time.sleep(120)
''')


def _holder(run_dir) -> subprocess.Popen:
    """A process that takes the run directory's lock and keeps it."""
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def test_a_second_training_is_refused_and_a_killed_one_leaves_no_lock(tmp_path):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(DaspmInputError, match=rf'in use by a training that is still running \(pid {holder.pid}'):
            with run_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9: no clean-up code runs
        holder.wait()
    with run_lock(tmp_path) as lock:  # the kernel released the lock with the process
        assert f'pid {os.getpid()}' in lock.read_text()
    with run_lock(tmp_path):  # and it is released again after a normal exit
        pass


def test_run_experiments_refuses_to_resume_a_run_that_is_training(tmp_path):
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    (run_dir / 'config.py').write_text("_base_ = ['%s']\n" % SOURCE_ONLY_CONFIG)
    holder = _holder(run_dir)
    try:
        result = call_cli(cli_train.main, ['--resume', str(run_dir)])  # what run_experiments.py runs
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert result.code == 2 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and 'in use by a training that is still running' in last
    assert (run_dir / 'config.py').is_file()  # a resumed run's directory is never removed


def _train_on_missing_data(*args: str):
    """run_experiments.py with a data root that does not exist: fails while the runner trains."""
    return call_cli(cli_train.main, [*args, '--cfg-options', 'train_dataloader.dataset.data_root=/nowhere/gaofen',
                                     'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'])


def test_a_failed_new_run_leaves_no_run_directory_but_a_resumed_one_is_kept(tmp_path):
    # a fresh work root: the run directory and the folders made for it go
    fresh = tmp_path / 'fresh_work_dirs'
    result = _train_on_missing_data('--config', str(SOURCE_ONLY_CONFIG), '--work-root', str(fresh))
    assert result.code == 2 and 'Traceback' not in result.stderr
    *notes, last = result.stderr.strip().splitlines()
    assert last.startswith('error: ') and re.search(r'data root .*nowhere.* does not exist; generate', last), last
    (made,) = re.findall(r'^run directory: (.+)$', result.stdout, flags=re.M)
    assert notes == [f'removed {made}: the new run failed before its first checkpoint']
    assert not fresh.exists()

    # what the user had stays: another run in the experiment folder, and a run that is resumed
    work_root = tmp_path / 'work_dirs'
    old_run = work_root / 'local-basic' / 'old_run'
    old_run.mkdir(parents=True)
    (old_run / 'config.py').write_text("_base_ = ['%s']\n" % SOURCE_ONLY_CONFIG)
    torch.save(dict(state_dict={}, meta=dict(iter=2), optimizer={}), old_run / 'iter_2.pth')  # a run that can be resumed
    result = _train_on_missing_data('--config', str(SOURCE_ONLY_CONFIG), '--work-root', str(work_root))
    assert result.code == 2 and 'removed ' in result.stderr
    assert list((work_root / 'local-basic').iterdir()) == [old_run]
    result = _train_on_missing_data('--resume', str(old_run))
    assert result.code == 2 and 'does not exist; generate' in result.stderr and 'removed ' not in result.stderr
    assert (old_run / 'config.py').is_file() and any(old_run.glob('*/*.log'))  # kept, with the failed start's log


def test_only_run_directories_without_a_checkpoint_count_as_unfinished(tmp_path):
    new_dirs = cli_train.NewRunDirs()
    done = new_dirs.make(tmp_path / 'work_dirs' / 'exp', 'done')
    (done / 'iter_2.pth').write_bytes(b'')
    unfinished = new_dirs.make(tmp_path / 'work_dirs' / 'exp', 'unfinished')
    (unfinished / 'config.py').write_text('')
    assert new_dirs.remove_unfinished() == [unfinished]
    assert not unfinished.exists() and (done / 'iter_2.pth').is_file()  # its parents stay: not empty


def test_provenance_records_the_code_revision_and_package_versions(tmp_path):
    record_provenance(tmp_path, ['run_experiments.py', '--config', 'x.py'])
    record_provenance(tmp_path, ['run_experiments.py', '--resume', str(tmp_path)])
    entries = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    assert [e['command'][1] for e in entries] == ['--config', '--resume']  # one entry per start
    head = subprocess.run(['git', '-C', str(REPO), 'rev-parse', 'HEAD'], capture_output=True, text=True)
    if head.returncode == 0:
        assert entries[0]['code']['commit'] == head.stdout.strip()
        dirty = subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True).stdout.strip() != ''
        assert entries[0]['code']['dirty'] is dirty
    import mmengine
    import torch
    packages = entries[0]['packages']
    assert packages['torch'] == torch.__version__ and packages['mmengine'] == mmengine.__version__
    assert 'mmsegmentation' in packages and ('mmcv' in packages or 'mmcv-lite' in packages)
