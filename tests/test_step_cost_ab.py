"""benchmarks/step_cost_ab.py: the before/after step-cost judge (interleaved rounds in two trees)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import REPO


def load_ab():
    spec = importlib.util.spec_from_file_location('step_cost_ab', REPO / 'benchmarks/step_cost_ab.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(source_s: float, uda_s: float) -> dict:
    return dict(device='cpu', variants={'source-only': dict(median_s=source_s, ratio=1.0),
                                        'uda (with FD)': dict(median_s=uda_s, ratio=uda_s / source_s)})


def test_summary_takes_medians_over_rounds_per_side():
    ab = load_ab()
    rounds = {'base': [table(0.20, 0.60), table(0.30, 0.60), table(0.20, 0.50)],
              'this': [table(0.20, 0.40), table(0.20, 0.44), table(0.25, 0.50)]}
    summary = ab.summarise(rounds)
    uda = summary['uda (with FD)']
    assert uda['base']['rounds_s'] == [0.60, 0.60, 0.50] and uda['base']['median_s'] == 0.60
    assert uda['this']['median_s'] == 0.44
    assert uda['change'] == pytest.approx(0.44 / 0.60)
    assert uda['base']['ratio'] == pytest.approx(2.5)  # median of 3.0, 2.0, 2.5
    assert uda['this']['ratio'] == pytest.approx(2.0)  # median of 2.0, 2.2, 2.0
    assert summary['source-only']['change'] == pytest.approx(0.20 / 0.20)


def run_script(*args: str) -> subprocess.CompletedProcess:
    """The script as users run it (its folder on sys.path, as for every script in benchmarks/)."""
    return subprocess.run([sys.executable, str(REPO / 'benchmarks/step_cost_ab.py'), *args], cwd=REPO,
                          capture_output=True, text=True)


def test_options_it_owns_are_refused_and_a_bad_revision_is_named(tmp_path):
    done = run_script('--base', 'HEAD', '--', '--rounds', '3')
    assert done.returncode == 2 and '--rounds and --json belong to this script' in done.stderr
    done = run_script('--base', 'no-such-rev', '--trees-dir', str(tmp_path))
    assert done.returncode == 1 and '--base no-such-rev: not a commit' in done.stderr


def test_head_against_this_tree_runs_the_real_benchmark_in_both(tmp_path):
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO, capture_output=True, text=True).stdout.strip()
    trees = tmp_path / 'trees'
    try:
        done = run_script('--base', 'HEAD', '--rounds', '1', '--trees-dir', str(trees), '--json',
                          str(tmp_path / 'ab.json'), '--', '--crop', '32', '--batch', '1', '--iters', '1',
                          '--variants', 'uda (with FD)')
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads((tmp_path / 'ab.json').read_text())
        assert result['base'] == head and (trees / head[:12] / 'daspm').is_dir()
        assert set(result['variants']) == {'source-only', 'uda (with FD)'}
        for row in result['variants'].values():
            assert len(row['base']['rounds_s']) == len(row['this']['rounds_s']) == 1
            assert row['base']['median_s'] > 0 and row['this']['median_s'] > 0
        assert result['variants']['source-only']['this']['ratio'] == 1.0
        assert 'base ' + head[:12] + ' vs this working tree' in done.stdout
    finally:
        subprocess.run(['git', 'worktree', 'remove', '--force', str(trees / head[:12])], cwd=REPO,
                       capture_output=True)
        subprocess.run(['git', 'worktree', 'prune'], cwd=REPO, capture_output=True)
