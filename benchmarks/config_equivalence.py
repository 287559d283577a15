"""Config equivalence: does every config still resolve to the same dict after a rewrite of configs/?

    python benchmarks/config_equivalence.py snapshot OUT.json
    python benchmarks/config_equivalence.py compare BEFORE.json [--out AFTER.json] [--table TABLE.md]

``snapshot`` resolves, with the project's loader (``daspm.apis.config_loading.load_config``, which
reads mmengine's ``Config.fromfile``), every run a user can start and dumps ``cfg.to_dict()`` as
JSON (sorted keys, tuples kept apart from lists, ``repr`` for values JSON lacks):

- every ``configs/**/*.py`` (the ``_base_`` pieces the loader refuses because they hold a
  top-level ``uda`` entry are read with ``Config.fromfile`` alone),
- every run of every experiment in ``experiments.py`` (its config plus its options),
- the ``source_only.py`` and ``uda.py`` that the custom converter writes for a small generated
  dataset (8-bit PNGs with colour masks and unlabelled target images), for each ``--model``.

The converter's output folder is a temporary one: its path is replaced by ``<out>`` in values.
``compare`` makes a new snapshot and prints one row per config (identical yes/no); a run config
(``configs/daspm``, an experiment run, a converter config) that differs or is gone ends with
exit 1. ``_base_`` pieces are listed for information: they are parts, not runs, and may change.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
TUPLE_KEY = '__tuple__'
#: keys whose value is the path of the config file itself (none expected, dropped all the same)
OWN_PATH_KEYS = ('filename', 'fileDirname', 'work_dir')
CUSTOM_COLOURS = {'building': (60, 16, 152), 'road': (110, 193, 228), 'tree': (0, 160, 0)}


def plain(value: Any, replace: Callable[[str], str]) -> Any:
    """``value`` as JSON data: dicts sorted, tuples tagged, strings passed through ``replace``."""
    if isinstance(value, dict):
        return {str(k): plain(v, replace) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if k not in OWN_PATH_KEYS}
    if isinstance(value, tuple):
        return {TUPLE_KEY: [plain(v, replace) for v in value]}
    if isinstance(value, list):
        return [plain(v, replace) for v in value]
    if isinstance(value, str):
        return replace(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return repr(value)


def resolve(path: Path, options: dict | None = None) -> dict:
    """The config's dict as the project's loader resolves it (mmengine alone for refused pieces)."""
    from mmengine.config import Config

    from daspm.apis.config_loading import load_config
    from daspm.utils.errors import DaspmInputError

    try:
        return load_config(path, options).to_dict()
    except DaspmInputError:
        if options or 'configs/_base_/' not in path.as_posix():
            raise
        return Config.fromfile(str(path)).to_dict()


def config_files() -> dict[str, dict]:
    """Every ``configs/**/*.py``, by its path in the repository."""
    return {p.relative_to(REPO).as_posix(): plain(resolve(p), str) for p in sorted((REPO / 'configs').rglob('*.py'))}


def experiment_runs() -> dict[str, dict]:
    """Every run of ``experiments.py``: its config with its options."""
    from daspm.cli.train import load_experiments

    table = load_experiments(REPO / 'experiments.py')
    return {f'experiments.py exp {exp} {run.name}': plain(resolve(REPO / run.config, dict(run.options)), str)
            for exp in sorted(table.EXPERIMENTS) for run in table.experiment_runs(exp)}


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rgb[..., ::-1]):
        raise OSError(f'could not write {path}')


def make_custom_dataset(root: Path) -> None:
    """Six 64 x 64 RGB images with colour masks (every class in each) and three target images."""
    lut = np.array(list(CUSTOM_COLOURS.values()), np.uint8)
    looks = np.array([[150, 140, 160], [90, 90, 90], [40, 120, 40]], np.float32)
    for i in range(9):
        rng = np.random.default_rng(i)
        ids = np.kron(rng.integers(0, 3, (8, 8)), np.ones((8, 8), int))
        ids[-8:, :24] = np.repeat(np.arange(3), 8)[None, :]
        image = np.clip(looks[ids] + rng.normal(0, 8, ids.shape + (3,)), 0, 255).astype(np.uint8)
        if i < 6:
            _write_rgb(root / 'images' / f't{i}.png', image)
            _write_rgb(root / 'masks' / f't{i}.png', lut[ids])
        else:
            _write_rgb(root / 'target' / f's{i}.png', image)
    classes = {name: '#%02X%02X%02X' % rgb for name, rgb in CUSTOM_COLOURS.items()}
    (root / 'classes.json').write_text(json.dumps({'classes': classes, 'ignore': []}))


def custom_converter_configs() -> dict[str, dict]:
    """The converter's ``source_only.py`` and ``uda.py`` for a generated dataset, for each model."""
    from daspm.convert.pipeline import convert_custom
    from daspm.convert.custom_config import MODELS, SOURCE_ONLY_CONFIG, UDA_CONFIG

    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / 'raw'
        make_custom_dataset(raw)
        for model in sorted(MODELS):
            out = Path(tmp) / model
            convert_custom(raw / 'images', raw / 'masks', raw / 'classes.json', out, target_images=raw / 'target',
                           model=model, gsd=2.0, progress=False)
            for name in (SOURCE_ONLY_CONFIG, UDA_CONFIG):
                found[f'custom converter --model {model} {name}'] = plain(
                    resolve(out / name), lambda text, out=out: text.replace(str(out), '<out>'))
    return found


def snapshot() -> dict[str, dict]:
    """Every resolved config, by name."""
    return {**config_files(), **experiment_runs(), **custom_converter_configs()}


def is_run(name: str) -> bool:
    """A config users start (not a ``_base_`` piece)."""
    return not name.startswith('configs/_base_/')


def compare(before: dict[str, dict], after: dict[str, dict]) -> tuple[list[tuple[str, str]], bool]:
    """Rows (config, identical) and whether every run config resolves as before."""
    rows, ok = [], True
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            verdict = 'no (gone)'
        elif name not in before:
            verdict = 'new'
        else:
            verdict = 'yes' if before[name] == after[name] else 'no'
        if is_run(name) and verdict != 'yes':
            ok = False
        rows.append((name, verdict))
    return rows, ok


def table(rows: list[tuple[str, str]]) -> str:
    """The rows as a Markdown table, run configs first, then the ``_base_`` pieces."""
    runs = [r for r in rows if is_run(r[0])]
    pieces = [r for r in rows if not is_run(r[0])]
    lines = ['| config | identical |', '|---|---|', *(f'| {n} | {v} |' for n, v in runs)]
    same = sum(v == 'yes' for _, v in runs)
    lines += ['', f'run configs identical: {same} of {len(runs)}', '',
              '`_base_` pieces (parts of runs, for information):', '', '| piece | identical |', '|---|---|',
              *(f'| {n} | {v} |' for n, v in pieces)]
    return '\n'.join(lines) + '\n'


def dump(configs: dict[str, dict], path: Path) -> None:
    """One config a line, so that a diff of two snapshots names the configs that changed."""
    rows = (f'{json.dumps(k)}: {json.dumps(v, sort_keys=True, separators=(",", ":"))}' for k, v in sorted(configs.items()))
    path.write_text('{\n' + ',\n'.join(rows) + '\n}\n')


def main(argv: list[str] | None = None) -> int:
    """Write a snapshot, or compare the configs now with one."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1], formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    snap = sub.add_parser('snapshot', help='resolve every config and write them to a JSON file')
    snap.add_argument('out', type=Path)
    comp = sub.add_parser('compare', help='resolve every config and compare with a snapshot')
    comp.add_argument('before', type=Path)
    comp.add_argument('--out', type=Path, help='also write the new snapshot here')
    comp.add_argument('--table', type=Path, help='also write the table here (Markdown)')
    args = parser.parse_args(argv)
    now = snapshot()
    if args.command == 'snapshot':
        dump(now, args.out)
        print(f'{len(now)} configs resolved into {args.out}')
        return 0
    rows, ok = compare(json.loads(args.before.read_text()), now)
    text = table(rows)
    print(text, end='')
    if args.out:
        dump(now, args.out)
    if args.table:
        args.table.write_text(text)
    print('every run config resolves as before' if ok else 'SOME RUN CONFIGS DIFFER')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
