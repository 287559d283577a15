"""benchmarks/gpu_check.sh's own logic, run here with a recording stand-in for the GPU machine's python.

The script runs only on a GPU machine, lent to a session for a few minutes: a fault in its step
selection, time sharing or set-up would cost that time. The python it calls is replaced by a
script that records its arguments and succeeds, so what is checked is the shell script alone:
which steps run, with which time limits, and that a second run on a warm machine skips the install.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GPU_CHECK_TEST_CALLS"
exit 0
"""

pytestmark = pytest.mark.skipif(shutil.which('timeout') is None, reason='needs coreutils timeout')


def run_check(tmp_path: Path, only: str | None, budget: int) -> tuple[str, list[str]]:
    """Run gpu_check.sh with the recording python; (its output, the python calls in order)."""
    fake = tmp_path / 'python'
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    calls = tmp_path / 'calls.txt'
    calls.write_text('')
    env = {**os.environ, 'PYTHON': str(fake), 'GPU_CHECK_TEST_CALLS': str(calls),
           'GPU_CHECK_SITE': str(tmp_path / 'site'), 'GPU_CHECK_BUDGET_S': str(budget)}
    env.pop('GPU_CHECK_ONLY', None)
    env.pop('GPU_CHECK_ARCHIVE', None)
    if only is not None:
        env['GPU_CHECK_ONLY'] = only
    done = subprocess.run(['bash', str(REPO / 'benchmarks/gpu_check.sh'), str(tmp_path / 'out')], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, calls.read_text().splitlines()


def limits(output: str) -> dict[str, int]:
    """Step name -> the time limit it was started with, from the script's log lines."""
    return {name: int(limit) for name, limit in re.findall(r'\] (\w+) \(limit (\d+)s\)', output)}


def test_all_steps_run_in_order_within_the_budget(tmp_path):
    output, calls = run_check(tmp_path, None, budget=480)
    started = limits(output)
    assert list(started) == ['cuda_tests', 'step_fp32', 'step_bf16', 'step_bf16_compiled', 'scene_fp32',
                             'scene_bf16', 'attention']
    assert started['step_fp32'] == started['step_bf16'] == 120 and started['scene_fp32'] == 90
    # the compiled step leaves 70 s to each scene step and 45 s to the attention step:
    # 480 - 15 (summary) - 140 - 45, less the seconds spent
    assert 480 - 15 - 185 - 5 <= started['step_bf16_compiled'] <= 480 - 15 - 185
    assert started['attention'] == 45
    benchmark_calls = [c for c in calls if c.startswith('benchmarks/')]
    assert [c.split()[0] for c in benchmark_calls] == ['benchmarks/uda_step_cost.py'] * 3 + \
        ['benchmarks/scene_throughput.py'] * 2 + ['benchmarks/attention_cost.py', 'benchmarks/gpu_summary.py']
    assert '--amp' in benchmark_calls[5] and '--variant b5' in benchmark_calls[5]
    assert '--compile' in benchmark_calls[2] and '--amp' in benchmark_calls[2]
    assert '--compile-mode' not in benchmark_calls[2], 'torch.compile\'s default mode unless one is asked for'
    assert all('--forward-only' in c and '--profile' in c for c in benchmark_calls[3:5])
    # each scene step writes the operator tables of the forward passes beside its JSON
    assert [re.search(r'--profile-table (\S+)', c).group(1).rsplit('/', 1)[-1] for c in benchmark_calls[3:5]] == \
        ['scene_fp32_ops.txt', 'scene_bf16_ops.txt']
    assert any(c.startswith('-m pip install') for c in calls), 'the first run installs the packages'


def test_compile_alone_gets_the_whole_budget_and_a_warm_machine_skips_the_install(tmp_path, monkeypatch):
    run_check(tmp_path, 'cuda_tests', budget=200)
    monkeypatch.setenv('GPU_CHECK_COMPILE_MODE', 'reduce-overhead')
    output, calls = run_check(tmp_path, 'step_bf16_compiled', budget=420)
    compiled = [c for c in calls if c.startswith('benchmarks/uda_step_cost.py')]
    assert len(compiled) == 1 and '--compile --compile-mode reduce-overhead' in compiled[0]
    assert list(limits(output)) == ['step_bf16_compiled']
    # no scene step to leave time for: all of the budget but the summary's 15 s
    assert 420 - 15 - 5 <= limits(output)['step_bf16_compiled'] <= 420 - 15
    assert 'packages already installed' in output
    assert not any(c.startswith('-m pip') for c in calls)


def test_a_step_is_skipped_when_the_budget_is_spent(tmp_path):
    output, _ = run_check(tmp_path, 'cuda_tests step_fp32', budget=30)
    # 30 - 15 s for the summary leaves under the 20 s a step needs at least
    assert limits(output) == {}
    assert (tmp_path / 'out/failures.txt').read_text().count("skipped, the run's time budget is spent") == 2
