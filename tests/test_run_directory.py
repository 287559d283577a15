"""One training per run directory (a lock that a killed process does not leave behind) and provenance."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from daspm.apis.run_directory import PROVENANCE_FILE, record_provenance, run_lock
from daspm.utils.errors import DaspmInputError

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
    (run_dir / 'config.py').write_text("_base_ = ['%s']\n" % (REPO / 'configs/daspm/synthetic_source_only_segformer_mitb0.py'))
    holder = _holder(run_dir)
    try:
        proc = subprocess.run([sys.executable, 'run_experiments.py', '--resume', str(run_dir)], cwd=REPO,
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and 'in use by a training that is still running' in last


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
