"""A config alone defines the run: the UDA segmentor is the config's model, for any entry point.

mmengine reads the configs here without DASPM's loader (``Config.fromfile``), as mmseg's own
``tools/train.py`` and a plain ``Runner`` do.
"""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from daspm.apis.config_loading import load_config
from daspm.convert.pipeline import convert_dataset
from daspm.synthetic import generate_dataset
from daspm.utils.errors import DaspmInputError

UDA_CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
#: each UDA config and the source-only config that trains the same network
PAIRS = {
    'gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py':
        'gaofen2sentinel_source-only_daformer_mitb5_s0.py',
    'gaofen2sentinel10m_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py':
        'gaofen2sentinel10m_source-only_daformer_mitb5_s0.py',
    'synthetic_uda_rcs_fd_daformer_mitb0.py': 'synthetic_source-only_daformer_mitb0.py',
}
#: the options of configs/_base_/uda/dacs.py (the basic DACS recipe), by hand
DACS_BASIC = dict(type='DACS', alpha=0.99, pseudo_threshold=0.968, pseudo_margins=(0, 0, 0, 0), pseudo_weight='share',
                  mix='class',
                  blur=True, color_jitter_strength=0.2, color_jitter_probability=0.8, color_jitter_hue=None,
                  value_scale=None, clamp_jitter=True, ignore_padding=True, imnet_feature_dist_lambda=0.0,
                  imnet_feature_dist_classes=None, imnet_feature_dist_scale_min_ratio=0.75, eval_with='student', compile=None)
#: dacs_a999_fdthings.py on top of it: the final recipe
FINAL_RECIPE = dict(DACS_BASIC, alpha=0.999, imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=[1, 2, 3])
#: what each UDA config sets on top of its uda base
OVERRIDES = {
    'gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py': dict(value_scale=1.0, clamp_jitter=True),
    'gaofen2sentinel10m_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py': dict(value_scale=1.0,
                                                                                      clamp_jitter=False),
    'synthetic_uda_rcs_fd_daformer_mitb0.py': dict(alpha=0.99, color_jitter_hue=0.0, clamp_jitter=False),
}


def _plain(value):
    """Config values as plain Python (tuples as lists), for comparison."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize('uda_name', sorted(PAIRS))
def test_uda_config_declares_dacs_around_the_network_of_its_source_only_twin(uda_name):
    uda = Config.fromfile(str(REPO / 'configs/daspm' / uda_name))
    source_only = Config.fromfile(str(REPO / 'configs/daspm' / PAIRS[uda_name]))
    assert 'uda' not in uda, 'the uda base entry must be taken out by the config'
    model = uda.model.to_dict()
    assert model['type'] == 'DACS'
    # the network DACS trains is the source-only network, preprocessor (crop size) included
    assert _plain(model['model']) == _plain(source_only.model.to_dict())
    assert _plain(model['data_preprocessor']) == _plain(source_only.model.data_preprocessor.to_dict())
    options = {k: v for k, v in model.items() if k not in ('model', 'data_preprocessor')}
    assert _plain(options) == _plain(dict(FINAL_RECIPE, **OVERRIDES[uda_name]))


def test_a_leftover_top_level_uda_entry_fails_loudly(tmp_path):
    old_style = tmp_path / 'old_style_uda.py'
    old_style.write_text(f"_base_ = ['{REPO}/configs/daspm/synthetic_source-only_daformer_mitb0.py',\n"
                         f"          '{REPO}/configs/_base_/uda/dacs.py']\n"
                         "uda = dict(alpha=0.999)\n")
    with pytest.raises(DaspmInputError, match=r'top-level `uda` entry.*train source-only.*model = dict'):
        load_config(old_style)


def test_options_name_the_model_path_of_the_uda_options_and_of_the_network():
    with pytest.raises(DaspmInputError, match=r'write model\.<option>'):
        load_config(UDA_CONFIG, {'uda.pseudo_threshold': 0.9})
    with pytest.raises(DaspmInputError, match=r'write model\.model\.backbone\.init_cfg'):
        load_config(UDA_CONFIG, {'model.backbone.init_cfg': None})
    cfg = load_config(UDA_CONFIG, {'model.pseudo_threshold': 0.9, 'model.model.backbone.init_cfg': None})
    assert cfg.model.pseudo_threshold == 0.9 and cfg.model.model.backbone.init_cfg is None


@pytest.fixture(scope='module')
def tiny_converted(tmp_path_factory) -> Path:
    """A 6 + 6 tile synthetic dataset of 80 x 80 tiles, converted (both domains)."""
    root = tmp_path_factory.mktemp('plain_runner')
    generate_dataset(root / 'raw', seed=3, tile_size=80, num_source=6, num_target=6, progress=False)
    convert_dataset(root / 'raw/gaofen', root / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(root / 'raw/sentinel', root / 'sentinel_converted', dataset='sentinel10m', progress=False)
    return root


def _tiny_run_options(data: Path, work_dir: Path) -> dict:
    """One iteration of a tiny network on the tiny data, no validation, no checkpoint."""
    options = {
        'work_dir': str(work_dir),
        'train_dataloader.dataset.source.data_root': str(data / 'gaofen_converted'),
        'train_dataloader.dataset.target.data_root': str(data / 'sentinel_converted'),
        'val_dataloader.dataset.data_root': str(data / 'sentinel_converted'),
        'test_dataloader.dataset.data_root': str(data / 'sentinel_converted'),
        'train_dataloader.dataset.rare_class_sampling.min_pixels': 50,
        'train_dataloader.batch_size': 1,
        'train_cfg.max_iters': 1, 'train_cfg.val_interval': 100,
        'default_hooks.checkpoint.interval': 100, 'default_hooks.logger.interval': 1,
        'custom_hooks': [],
        'model.model.backbone.embed_dims': 8, 'model.model.backbone.num_heads': [1, 2, 4, 8],
        'model.model.backbone.num_layers': [1, 1, 1, 1],
        'model.model.decode_head.in_channels': [8, 16, 32, 64],
        'model.model.decode_head.channels': 16, 'model.model.decode_head.embed_dims': 16,
        # an untrained model is confident nowhere at 0.968: at 0.2 the target loss carries weight
        'model.pseudo_threshold': 0.2,
    }
    for loader in ('train', 'val', 'test'):
        options.update({f'{loader}_dataloader.num_workers': 0, f'{loader}_dataloader.persistent_workers': False})
    return options


def test_a_plain_mmengine_runner_trains_dacs_from_the_config_file(tiny_converted, tmp_path):
    cfg = Config.fromfile(str(UDA_CONFIG))  # no DASPM loader
    cfg.merge_from_dict(_tiny_run_options(tiny_converted, tmp_path / 'run'))
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    assert type(runner.model).__name__ == 'DACS'
    runner.train()
    logged = runner.message_hub.log_scalars
    # the source, mixed-target and feature-distance losses of DACS, and its teacher's pseudo-weight
    for key in ('train/src.decode.loss_ce', 'train/mix.decode.loss_ce', 'train/src.loss_imnet_feat_dist',
                'train/pseudo_weight'):
        assert key in logged, sorted(logged)
    assert logged['train/pseudo_weight'].current() > 0  # the target loss was weighted in


def test_mmseg_own_train_script_trains_dacs(tiny_converted, tmp_path):
    import mmseg
    train_py = Path(mmseg.__file__).parent / '.mim/tools/train.py'
    if not train_py.is_file():
        pytest.skip(f'{train_py} is not installed with this mmseg')
    options = _tiny_run_options(tiny_converted, tmp_path / 'run')
    work_dir = options.pop('work_dir')
    del options['custom_hooks']  # the debug hook fires every 500 iterations: never here
    args = [f'{k}={list(v) if isinstance(v, tuple) else v}' for k, v in options.items()]
    args = [a.replace(' ', '') for a in args]
    proc = subprocess.run([sys.executable, str(train_py), str(UDA_CONFIG), '--work-dir', work_dir,
                           '--cfg-options', *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'mix.decode.loss_ce' in log and 'pseudo_weight' in log, log[-4000:]
