"""Load configs for the command-line tools, with clear errors and optional TensorBoard logging."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for the CLIs)

from ..utils.errors import DaspmInputError


def resolve_config_path(path: str | Path) -> Path:
    """``path``, or the one existing file whose path differs only in letter case.

    The reference README spells the config folder ``configs/DASPM/``; here it is ``configs/daspm/``.
    On a case-sensitive file system the reference's command line then works all the same.
    """
    path = Path(path)
    if path.exists():
        return path
    parts = path.parts
    current, rest = (Path(parts[0]), parts[1:]) if path.is_absolute() else (Path('.'), parts)
    for part in rest:
        candidate = current / part
        if not candidate.exists():
            if not current.is_dir():
                return path
            matches = [c for c in current.iterdir() if c.name.lower() == part.lower()]
            if len(matches) != 1:
                return path
            candidate = matches[0]
        current = candidate
    return current


#: keys of an mmseg segmentor config; under a DACS model they belong to its network ``model.model``
NETWORK_KEYS = ('backbone', 'neck', 'decode_head', 'auxiliary_head', 'pretrained', 'train_cfg',
                'test_cfg', 'init_cfg')


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """Read an mmengine config file and merge ``--cfg-options``; a bad path or entry names the fix."""
    path = resolve_config_path(path)
    if not path.is_file():
        raise DaspmInputError(f'config {path} not found; configs live in configs/ (e.g. '
                              'configs/daspm/synthetic_source_only_segformer_mitb0.py)')
    cfg = Config.fromfile(str(path))
    check_uda_declared_as_model(cfg, path)
    if cfg_options:
        check_options_address_the_network(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
        check_uda_declared_as_model(cfg, path, from_options=True)
    return cfg


def check_uda_declared_as_model(cfg: Config, path: str | Path, from_options: bool = False) -> None:
    """Refuse a top-level ``uda`` entry: it would be ignored and the run would train source-only.

    The reference (DAFormer, mmseg 0.x) wrapped ``uda=dict(...)`` around the model in its training
    script; here the config itself declares ``model=dict(type='DACS', model=<network>, ...)``,
    so that every entry point (mmseg's tools/train.py, a plain mmengine Runner) trains DACS.
    """
    if 'uda' not in cfg:
        return
    if from_options:
        raise DaspmInputError(
            "--cfg-options sets uda.*, but the UDA options are entries of the model here: "
            "write model.<option> (e.g. model.pseudo_threshold=0.9) instead of uda.<option>")
    raise DaspmInputError(
        f"{path} has a top-level `uda` entry, which nothing reads (the run would train source-only): "
        "declare the UDA segmentor as the model instead, e.g. "
        "model = dict(_base_.pop('uda'), _delete_=True, model=_base_.model, "
        "data_preprocessor=_base_.model.data_preprocessor) "
        "(see configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py)")


def check_options_address_the_network(cfg: Config, cfg_options: dict) -> None:
    """Under a DACS model the network is ``model.model``: ``model.backbone.*`` would be a typo."""
    if cfg.get('model', {}).get('type') != 'DACS':
        return
    for key in cfg_options:
        parts = key.split('.')
        if len(parts) > 1 and parts[0] == 'model' and parts[1] in NETWORK_KEYS:
            raise DaspmInputError(
                f'--cfg-options {key}: the model of this config is the UDA segmentor (DACS) and '
                f'its network is model.model: write model.model.{".".join(parts[1:])}')


def add_tensorboard_if_available(cfg: Config) -> None:
    """Log to TensorBoard as well when the package is installed (text and JSON logs always)."""
    if importlib.util.find_spec('tensorboard') is None or 'visualizer' not in cfg:
        return
    backends = list(cfg.visualizer.get('vis_backends', []))
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
        cfg.visualizer.vis_backends = backends
