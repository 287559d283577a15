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


def load_config(path: str | Path, cfg_options: dict | None = None) -> Config:
    """Read an mmengine config file and merge ``--cfg-options``; a bad path names the fix."""
    path = resolve_config_path(path)
    if not path.is_file():
        raise DaspmInputError(f'config {path} not found; configs live in configs/ (e.g. '
                              'configs/daspm/synthetic_source_only_segformer_mitb0.py)')
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    wrap_uda_model(cfg)
    return cfg


def wrap_uda_model(cfg: Config) -> Config:
    """Turn ``uda=dict(type='DACS', ...)`` + ``model=<segmentor>`` into ``model=DACS(model=<segmentor>)``.

    Configs keep the reference's habit of a separate ``uda`` entry (so bases compose); the
    resolved config written into a run directory holds the wrapped model and no ``uda`` entry.
    """
    uda = cfg.pop('uda', None)
    if uda is None:
        return cfg
    uda = dict(uda)
    segmentor = dict(cfg.model)
    cfg.model = dict(type=uda.pop('type', 'DACS'), model=segmentor,
                     data_preprocessor=segmentor.get('data_preprocessor'), **uda)
    return cfg


def add_tensorboard_if_available(cfg: Config) -> None:
    """Log to TensorBoard as well when the package is installed (text and JSON logs always)."""
    if importlib.util.find_spec('tensorboard') is None or 'visualizer' not in cfg:
        return
    backends = list(cfg.visualizer.get('vis_backends', []))
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
        cfg.visualizer.vis_backends = backends
