"""The mutation list follows the code: an entry whose text no longer exists fails CI, by name.

Each entry of tests/mutation/mutations.py copies a line of code; a change to that line would
otherwise leave the entry stale until the next (long, manual) mutation run.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO

CHECK = REPO / 'tests' / 'mutation' / 'mutation_check.py'


def test_every_mutation_entry_matches_its_code_and_names_existing_tests():
    run = subprocess.run([sys.executable, str(CHECK), '--list'], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    stale = [line.split()[0] for line in run.stdout.splitlines() if '[STALE' in line]
    assert run.returncode == 0 and not stale, f'stale mutation entries {stale}:\n{run.stdout[-3000:]}{run.stderr}'
    assert run.stdout.strip().splitlines()[-1].endswith(' mutations')


def test_a_stale_entry_is_named_and_fails():
    """The check itself: an entry whose code is gone is listed with its id, and the list exits 2."""
    script = ('import runpy, sys\n'
              f'check = runpy.run_path({str(CHECK)!r}, run_name="mutation_check")\n'
              'gone = check["Mutation"]("gone-code", "daspm/__init__.py", "text that is not there", "x", '
              '"a removed line", ["tests/test_package.py"])\n'
              'sys.exit(check["list_mutations"]([*check["MUTATIONS"][:2], gone]))\n')
    # the checker imports its sibling mutations.py as a script does: from its own folder
    run = subprocess.run([sys.executable, '-c', script], cwd=CHECK.parent, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines if '[STALE' in line] == ['gone-code']
    assert lines[-1] == '3 mutations, 1 stale'
