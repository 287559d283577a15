"""The shipped configs: each loads; each data format family reads its files as the reference did."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import REPO
from daspm.apis.config_loading import load_config, resolve_config_path

CONFIGS = sorted(p.relative_to(REPO) for p in (REPO / 'configs' / 'daspm').glob('*.py'))
PUBLISHED = 'configs/daspm/gaofen2sentinel_{}_daformer_mitb5_s0.py'
S2_10M = 'configs/daspm/gaofen2sentinel10m_{}_daformer_mitb5_s0.py'
RUNS = ('uda_warm_fdthings_rcs_croppl_a999', 'source-only', 'target-oracle')


@pytest.mark.parametrize('path', CONFIGS, ids=str)
def test_every_shipped_config_loads(path):
    cfg = load_config(REPO / path)
    assert cfg.model.type in ('DACS', 'EncoderDecoder') and 'uda' not in cfg


def _loaders(cfg) -> list[dict]:
    """The first step (the image loader) of every pipeline that reads target images."""
    train = cfg.train_dataloader.dataset
    pipelines = [cfg.val_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline]
    if train.type == 'UDADataset':
        pipelines.append(train.target.pipeline)
    elif train.type == 'SentinelDataset':
        pipelines.append(train.pipeline)
    return [p[0] for p in pipelines]


@pytest.mark.parametrize('run', RUNS)
def test_published_data_configs_read_8bit_rgb_on_the_label_grid(run):
    cfg = load_config(REPO / PUBLISHED.format(run))
    for loader in _loaders(cfg):
        # as LoadImageFromFile with mean 0 / std 255: bands by index (no band names), / 255, 2 m
        assert loader == dict(type='LoadGeoTiff', bands=[1, 2, 3], scale=255.0, nominal_gsd=2.0, num_bands=3)
    assert cfg.train_dataloader.dataset.get('source', cfg.train_dataloader.dataset).data_root in (
        'data/gaofen_converted', 'data/sentinel_converted')
    assert cfg.test_dataloader.dataset.data_root == 'data/sentinel_converted'
    if cfg.model.type == 'DACS':
        assert cfg.model.clamp_jitter is True and cfg.model.value_scale == 1.0
        assert cfg.train_dataloader.dataset.source.data_root == 'data/gaofen_converted'


@pytest.mark.parametrize('run', RUNS)
def test_sentinel2_10m_configs_read_reflectance_bands_by_name(run):
    cfg = load_config(REPO / S2_10M.format(run))
    for loader in _loaders(cfg):
        assert loader['bands'] == ['B4', 'B3', 'B2'] and loader['scale'] == 3000.0
        assert loader['nominal_gsd'] == 10.0
    assert cfg.test_dataloader.dataset.data_root == 'data/sentinel10m_converted'
    if cfg.model.type == 'DACS':
        assert cfg.model.clamp_jitter is False  # reflectance / 3000 is not clipped at test time


def test_reference_readme_spelling_of_the_config_folder_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    resolved = resolve_config_path('configs/DASPM/' + os.path.basename(PUBLISHED.format(RUNS[0])))
    assert resolved.resolve() == (REPO / PUBLISHED.format(RUNS[0])).resolve()
    # a path that exists is kept; one that matches nothing is returned unchanged (load_config names it)
    assert resolve_config_path(PUBLISHED.format(RUNS[0])) == Path(PUBLISHED.format(RUNS[0]))
    assert str(resolve_config_path('configs/DASPM/nothing.py')) == 'configs/DASPM/nothing.py'
    # two names that differ from the request only in case are ambiguous: no guess
    for name in ('ab', 'AB'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'x.py').write_text('')
    monkeypatch.chdir(tmp_path)
    assert str(resolve_config_path('Ab/x.py')) == 'Ab/x.py'
    assert resolve_config_path('ab/X.PY') == Path('ab', 'x.py')


def _code_lines(path: Path) -> list[str]:
    """The lines of a config that are not comments or blank."""
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith('#')]


@pytest.mark.parametrize('path', CONFIGS, ids=str)
def test_every_run_config_is_bases_plus_values(path):
    code = _code_lines(REPO / path)
    assert len(code) <= 12, f'{path}: {len(code)} lines of code; move what runs share into a base'
    # the UDA segmentor comes from a model base (configs/_base_/models/uda_*.py), not a splice here
    assert not any("pop('uda')" in line for line in code), path
    cfg = load_config(REPO / path)
    bases = ''.join(code)
    if cfg.model.type == 'DACS' and 'models/' in bases:
        assert '_base_/models/uda_' in bases, path


def test_uda_model_bases_wrap_their_network_with_the_a999_options():
    from mmengine.config import Config

    for uda_base in sorted((REPO / 'configs/_base_/models').glob('uda_*.py')):
        network = Config.fromfile(str(uda_base.with_name(uda_base.name[len('uda_'):]))).model.to_dict()
        model = Config.fromfile(str(uda_base)).to_dict()
        assert 'uda' not in model
        model = model['model']
        assert model['type'] == 'DACS' and model['alpha'] == 0.999 and model['imnet_feature_dist_lambda'] == 0.0
        assert model['model'] == network and model['data_preprocessor'] == network['data_preprocessor']
