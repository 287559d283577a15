"""Load configs for the command-line tools, with clear errors and optional TensorBoard logging."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Mapping

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for the CLIs)
from mmengine.utils import import_modules_from_strings

from ..utils.errors import DaspmInputError
from ..utils.options import accepted_options, nearest, unknown_option_message

#: ``--cfg-options +key=value`` adds a key the config does not have yet (no typo check)
NEW_KEY_PREFIX = '+'
UDA_OPTIONS_FIX = ("--cfg-options sets uda.*, but the UDA options are entries of the model here: "
                   "write model.<option> (e.g. model.pseudo_threshold=0.9) instead of uda.<option>")
#: the config sections whose entries are hooks (checked against the hook's options)
HOOK_SECTIONS = ('default_hooks', 'custom_hooks')


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
    """Read an mmengine config file and merge ``--cfg-options``; a bad path, key or entry names the fix."""
    path = resolve_config_path(path)
    if not path.is_file():
        raise DaspmInputError(f'config {path} not found; configs live in configs/ (e.g. '
                              'configs/daspm/synthetic_source_only_segformer_mitb0.py)')
    cfg = Config.fromfile(str(path))
    check_uda_declared_as_model(cfg, path)
    import_custom_modules(cfg)  # the project's types must be registered to check options against them
    if cfg_options:
        check_options_address_the_network(cfg, cfg_options)
        cfg_options = check_option_keys(cfg, cfg_options, path)
        cfg.merge_from_dict(cfg_options)
        check_uda_declared_as_model(cfg, path, from_options=True)
    check_hook_options(cfg, path)
    return cfg


def check_option_keys(cfg: Config, cfg_options: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Refuse ``--cfg-options`` keys that the config lacks, naming the nearest existing key.

    A key may be new where the section's ``type`` takes it as an option (e.g.
    ``default_hooks.checkpoint.max_keep_ckpts`` or ``model.seed`` of DACS); ``+key=value`` adds
    any key on purpose. Returns the options with that prefix removed, ready to merge.
    """
    checked = {}
    for key, value in cfg_options.items():
        if key.startswith(NEW_KEY_PREFIX):
            checked[key[len(NEW_KEY_PREFIX):]] = value
            continue
        if key.split('.', 1)[0] == 'uda':  # DAFormer's habit: say where the UDA options live here
            raise DaspmInputError(UDA_OPTIONS_FIX)
        problem = missing_key(cfg.to_dict(), key, cfg_options)
        if problem is not None:
            raise DaspmInputError(f'--cfg-options {key}: {path} has no {problem}; '
                                  f'write {NEW_KEY_PREFIX}{key}=... to add a new key on purpose')
        checked[key] = value
    return checked


def missing_key(cfg: Mapping[str, Any], key: str, cfg_options: Mapping[str, Any] | None = None) -> str | None:
    """Why the dotted ``key`` does not address ``cfg`` (with the nearest existing key), or None if it does.

    A section's type is the one ``cfg_options`` gives it, if any (``--amp`` sets the optimizer
    wrapper's ``type`` and options of that type together).
    """
    node: Any = cfg
    parts = key.split('.')
    for depth, part in enumerate(parts):
        prefix = '.'.join(parts[:depth])
        where = f'{prefix}.' if prefix else ''
        if isinstance(node, (list, tuple)):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            return f'key {where}{part} ({prefix} is a list of {len(node)} entries, counted from 0)'
        if not isinstance(node, Mapping):
            return f'key {where}{part} ({prefix} is a value, not a section)'
        if part in node:
            node = node[part]
            continue
        options = type_options((cfg_options or {}).get(f'{where}type', node.get('type')))
        if options is not None and part in options:
            return None  # an option of the section's type that the config leaves at its default
        match = nearest(part, [*node.keys(), *(options or ())])
        hint = f' (did you mean {where}{match}?)' if match else ''
        return f'key {where}{part}{hint}'
    return None


def type_options(type_name: Any) -> set[str] | None:
    """The options that the registered ``type_name`` takes by name (None: unknown type or no type)."""
    if not isinstance(type_name, str):
        return None
    from mmseg import registry  # the project's registries are mmseg's (default_scope = 'mmseg')

    found = None
    for name in ('MODELS', 'HOOKS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS', 'OPTIM_WRAPPERS', 'OPTIMIZERS',
                 'PARAM_SCHEDULERS', 'LOOPS', 'METRICS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS',
                 'MODEL_WRAPPERS'):
        cls = getattr(registry, name).get(type_name)
        options = accepted_options(cls) if isinstance(cls, type) else None
        if options is not None:  # a name in several registries takes the options of each
            found = (found or set()) | options
    return found


def check_hook_options(cfg: Config, path: str | Path) -> None:
    """Refuse a hook option its hook does not take: mmengine's CheckpointHook would keep a typo
    (``intreval``) in its ``**kwargs`` and fail only at the first save, after training."""
    for section in HOOK_SECTIONS:
        hooks = cfg.get(section) or {}
        entries = hooks.items() if isinstance(hooks, Mapping) else enumerate(hooks)
        for name, hook in entries:
            if not isinstance(hook, Mapping):
                continue
            options = type_options(hook.get('type'))
            for option in hook:
                if options is not None and option not in options and option not in ('type', '_scope_'):
                    raise DaspmInputError(f'{path}: {section}.{name}: '
                                          + unknown_option_message(hook['type'], option, options))


def import_custom_modules(cfg: Config) -> None:
    """Import the config's ``custom_imports`` (the project's registrations), as the runner will."""
    custom = cfg.get('custom_imports')
    if custom:
        import_modules_from_strings(**custom)


def check_uda_declared_as_model(cfg: Config, path: str | Path, from_options: bool = False) -> None:
    """Refuse a top-level ``uda`` entry: it would be ignored and the run would train source-only.

    The reference (DAFormer, mmseg 0.x) wrapped ``uda=dict(...)`` around the model in its training
    script; here the config itself declares ``model=dict(type='DACS', model=<network>, ...)``,
    so that every entry point (mmseg's tools/train.py, a plain mmengine Runner) trains DACS.
    """
    if 'uda' not in cfg:
        return
    if from_options:
        raise DaspmInputError(UDA_OPTIONS_FIX)
    raise DaspmInputError(
        f"{path} has a top-level `uda` entry, which nothing reads (the run would train source-only): "
        "declare the UDA segmentor as the model instead: list a UDA model base in place of the network base "
        "(configs/_base_/models/uda_<network>.py, DACS around that network) and set options as model.<option>, "
        "or write model = dict(_base_.pop('uda'), _delete_=True, model=_base_.model, "
        "data_preprocessor=_base_.model.data_preprocessor) as those bases do")


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
