"""DASPM as an installed package: console commands, scripts as thin wrappers, no import-path edits."""
from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from daspm.cli import test as cli_test

COMMANDS = {'daspm-train': 'daspm.cli.train', 'daspm-test': 'daspm.cli.test', 'daspm-map': 'daspm.cli.map_scene'}
# Built from pieces so that this file does not match its own pattern.
_PATH = re.escape('sys' + '.path')
PATH_EDIT = re.compile(_PATH + r'(\s*\.\s*(insert|append|extend)\s*\(|\s*\[[^\]]*\]\s*=(?!=)|\s*\+?=(?!=))')


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_console_scripts_are_installed_and_run():
    import daspm

    # the editable install points at this checkout
    assert Path(daspm.__file__).resolve().parent == REPO / 'daspm'
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group='console_scripts') if ep.name in COMMANDS}
    assert {name: ep.module for name, ep in found.items()} == COMMANDS
    train = Path(sys.executable).parent / 'daspm-train'
    assert train.is_file(), f'{train} missing: run `make setup`'
    proc = _run([str(train), '--help'])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith('usage: daspm-train') and '--exp' in proc.stdout


def test_no_file_edits_the_import_path():
    try:
        listed = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '--', '*.py', '*.sh'], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    assert 'tests/test_package.py' in listed
    edits = [f'{name}:{number}: {line.strip()}' for name in listed if (REPO / name).is_file()
             for number, line in enumerate((REPO / name).read_text(errors='replace').splitlines(), start=1)
             if PATH_EDIT.search(line)]
    assert not edits, 'import-path edits (the package is installed: `make setup`):\n' + '\n'.join(edits)


def test_the_pattern_finds_edits():
    p = 'sys' + '.path'
    edits = [f'{p}.insert(0, str(REPO))', f'{p}.append("x")', f'{p}[:0] = ["x"]', f'{p} = []', f'{p} += ["x"]']
    assert all(PATH_EDIT.search(line) for line in edits)
    assert not any(PATH_EDIT.search(line) for line in [f'print({p})', f'if {p}[0] == "":', f'x in {p}'])


def test_a_run_directory_without_checkpoint_is_refused(tmp_path, capsys):
    run_dir = tmp_path / 'local-basic' / 'run'
    run_dir.mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        cli_test.main([str(run_dir)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f'error: {run_dir / "config.py"} not found: give a run directory ' \
                                              'made by daspm-train (run_experiments.py)'
    (run_dir / 'config.py').write_text('')
    with pytest.raises(SystemExit) as exit_info:
        cli_test.main([str(run_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f'error: no checkpoint (iter_N.pth) in {run_dir}: train first or resume the run'


def test_the_run_directory_names_its_latest_checkpoint(tmp_path):
    for n in (500, 1500, 1000):
        (tmp_path / f'iter_{n}.pth').write_bytes(b'')
    assert cli_test.latest_checkpoint(tmp_path) == tmp_path / 'iter_1500.pth'  # by number, not by name
    # a pointer written on another machine: the file of that name in the run directory
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/work_dirs/run/iter_1000.pth')
    assert cli_test.latest_checkpoint(tmp_path) == tmp_path / 'iter_1000.pth'


@pytest.mark.parametrize('script', ['tools/train.py', 'run_experiments.py'])
def test_the_scripts_still_work(script):
    proc = _run([sys.executable, script, '--help'])
    assert proc.returncode == 0 and proc.stdout.startswith('usage:'), proc.stderr[-2000:]


def test_a_script_without_the_package_says_how_to_install_it():
    # -S: no site-packages, so neither the editable install nor anything else is importable
    proc = _run([sys.executable, '-S', 'tools/train.py', '--help'])
    assert proc.returncode == 1
    assert proc.stderr.strip() == 'error: daspm is not installed: run `make setup` (or `pip install -e .`)'
