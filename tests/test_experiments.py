"""experiments.py: every run of every experiment resolves to a buildable config with its ablation settings."""
from __future__ import annotations

import pytest

from cli_helpers import call_cli
from conftest import REPO
from daspm.apis.config_loading import load_config
from daspm.cli import train as cli_train
from daspm.cli.train import load_experiments

_TABLE = load_experiments(REPO / 'experiments.py')  # the file users edit, as run_experiments.py reads it
EXPERIMENTS, experiment_runs = _TABLE.EXPERIMENTS, _TABLE.experiment_runs
SOURCE_DATASETS = ('GaofenDataset', 'LoveDAConvertedDataset')
TARGET_DATASETS = ('SentinelDataset', 'UTCDataset', 'WHDLDataset')


@pytest.mark.parametrize('exp', sorted(EXPERIMENTS))
def test_runs_resolve_with_their_settings(exp):
    for run in experiment_runs(exp):
        cfg = load_config(REPO / run.config, dict(run.options))
        if 'dacs' in run.name or 'daspm' in run.name:
            assert cfg.model.type == 'DACS' and 'uda' not in cfg
            # daspm-* runs are the full method (RCS + FD) plus the lever their name gives
            fd_on = 'fd' in run.name or run.name.startswith('daspm')
            assert (cfg.model.imnet_feature_dist_lambda > 0) == fd_on, run.name
            rcs_on = 'rcs' in run.name or run.name.startswith('daspm')
            assert (cfg.train_dataloader.dataset.get('rare_class_sampling') is not None) == rcs_on, run.name
            assert (cfg.model.get('mic') is not None) == ('mic' in run.name), run.name
            assert (cfg.model.imnet_feature_dist_scale_min_ratio == 0.5) == ('fd-ratio-0.5' in run.name), run.name
            assert (cfg.model.pseudo_weight == 'pixel') == ('pixel-weight' in run.name), run.name
            source_steps = [s['type'] for s in cfg.train_dataloader.dataset.source.pipeline]
        else:
            assert cfg.model.type == 'EncoderDecoder'
            # the source trains source-only runs, the target (with labels) oracle runs
            expected = SOURCE_DATASETS if run.name.startswith('source-only') else TARGET_DATASETS
            assert cfg.train_dataloader.dataset.type in expected, run.name
            source_steps = [s['type'] for s in cfg.train_dataloader.dataset.pipeline]
        assert ('SimulateCoarseSensor' in source_steps) == ('s2sim' in run.name), run.name


def test_dry_run_writes_one_resolved_config_per_run(tmp_path):
    # in-process, with the table run_experiments.py passes (the one beside it); the script wrapper
    # itself is run by tests/test_package.py
    table = REPO / 'experiments.py'
    result = call_cli(cli_train.main, ['--exp', '1', '--dry-run', '--work-root', str(tmp_path)], experiments_file=table)
    assert result.code == 0, result.stderr[-2000:]
    run_dirs = sorted((tmp_path / 'local-exp1').iterdir())
    assert sorted(result.value) == run_dirs
    assert len(run_dirs) == len(experiment_runs(1))
    assert all((d / 'config.py').is_file() for d in run_dirs)
    assert not [p for d in run_dirs for p in d.glob('*.pth')]  # a dry run trains nothing
    result = call_cli(cli_train.main, ['--exp', '99', '--work-root', str(tmp_path)], experiments_file=table)
    assert result.code == 2 and 'unknown experiment 99' in result.stderr
