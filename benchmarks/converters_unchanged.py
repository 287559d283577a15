"""Show that two revisions convert datasets identically: every output file compared byte for byte.

    .venv/bin/python benchmarks/converters_unchanged.py                  # BASE vs the working tree
    .venv/bin/python benchmarks/converters_unchanged.py --base REV --new REV

Each revision is exported into a temporary folder (``git archive``; the working tree is used where it
is) and its converters (tools/convert_datasets/{gaofen2m,sentinel10m,loveda,utcd,whdld,custom}.py) run
with this same Python and ``PYTHONPATH`` set to that tree, so its own ``daspm`` is imported (checked
before any case runs). The raw inputs are generated once by the tests' own builders, and both
revisions run from sibling folders with relative paths, so the paths recorded in outputs and messages
are the same strings. Each case is a sequence of steps in one output folder: a fresh conversion, a
resume, a resume after a killed run's partial file, a resume with an orphan output (an error), an
output inside the input (an error). Every file of the output folder is compared byte for byte
(JSON records without timing fields, if any; written configs with the tree's and the run folder's
absolute paths replaced by placeholders), and so are each step's exit status and last line of
error output.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from behaviour_unchanged import export  # one exporter for both proofs (a sibling: on a script's path)

REPO = Path(__file__).resolve().parents[1]

# the commit before the converters' output handling moved into daspm/convert/outputs.py
DEFAULT_BASE = 'bae1e25'
TIMING_KEYS = {'seconds', 'timings', 'started', 'finished', 'created', 'updated'}
TOOLS = 'tools/convert_datasets'


def _touch_part(sub: str):
    """A step that leaves a killed run's temporary file in ``out/sub``."""
    return ('write', f'{sub}/.zz.tif.part', b'partial')


def _orphan(sub: str, name: str = 'zz_orphan.tif'):
    """A step that puts an output of an image no longer in the input into ``out/sub``."""
    return ('write', f'{sub}/{name}', b'orphan')


def _remove(rel: str):
    return ('remove', rel, b'')


def _steps(tool: str, args: list[str], orphan_sub: str = 'ann_dir') -> list:
    """Fresh, resume, resume after a partial file, resume with an orphan (error), then the orphan removed."""
    run = ('run', tool, args)
    return [run, run, _touch_part('ann_dir'), run, _orphan(orphan_sub), run, _remove(f'{orphan_sub}/zz_orphan.tif'),
            run]


CUSTOM = ['--images', '../data/custom/images', '--masks', '../data/custom/masks', '--classes',
          '../data/custom/classes.json', '--model', 'daformer_mitb0']
CASES = {
    'gaofen': _steps('gaofen2m.py', ['../data/gaofen', '-o', 'out']),
    'gaofen_published': _steps('gaofen2m.py', ['../data/published', '-o', 'out', '--label-table', 'five-classes']),
    'sentinel': _steps('sentinel10m.py', ['../data/sentinel', '-o', 'out']),
    'gaofen_into_input': [('run', 'gaofen2m.py', ['../data/gaofen', '-o', '../data/gaofen/out'])],
    'loveda': _steps('loveda.py', ['../data/loveda', '-o', 'out']),
    'utcd': _steps('utcd.py', ['../data/utcd', '-o', 'out']),
    'whdld': _steps('whdld.py', ['../data/whdld', '-o', 'out', '--symlink-images'], orphan_sub='img_dir'),
    'loveda_into_input': [('run', 'loveda.py', ['../data/loveda', '-o', '../data/loveda/Train/out'])],
    'custom': _steps('custom.py', [*CUSTOM, '-o', 'out']),
    'custom_target': _steps('custom.py', [*CUSTOM, '--target-images', '../data/custom_target', '-o', 'out']),
    'custom_overwrite': [('run', 'custom.py', [*CUSTOM, '-o', 'out']), _orphan('ann_dir'),
                         ('run', 'custom.py', [*CUSTOM, '-o', 'out', '--overwrite'])],
    'custom_into_input': [('run', 'custom.py', [*CUSTOM, '-o', '../data/custom/images/out'])],
}


def make_data(data: Path) -> None:
    """The raw datasets, written once by the tests' builders with this working tree's daspm.

    Runs in a child whose PYTHONPATH holds tests/ (see :func:`write_data`).
    """
    from test_converters import make_gaofen, make_published, make_sentinel
    from test_custom_converter import make_colour_dataset, write_rgb
    from test_loveda_family import make_loveda, make_utcd, make_whdld

    import numpy as np
    make_gaofen(data / 'gaofen')
    make_published(data / 'published', splits={'train': 'a\nb\n', 'val': 'c\n'})
    make_sentinel(data / 'sentinel')
    make_loveda(data / 'loveda', size=32)
    make_utcd(data / 'utcd')
    make_whdld(data / 'whdld')
    make_colour_dataset(data / 'custom')
    rng = np.random.default_rng(7)
    for k in range(3):
        write_rgb(data / 'custom_target' / f'target_{k}.png', rng.integers(0, 256, (40, 40, 3), np.uint8))


def _env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS='1', PYTHONHASHSEED='0')


def check_import(tree: Path) -> None:
    """Exit unless ``PYTHONPATH=tree`` really imports that tree's daspm."""
    found = subprocess.run([sys.executable, '-c', 'import daspm; print(daspm.__file__)'], env=_env(tree),
                           cwd=tree.parent, capture_output=True, text=True, check=True).stdout.strip()
    if not found.startswith(str(tree / 'daspm')):
        sys.exit(f'daspm imported from {found}, not from {tree}')


def run_steps(tree: Path, steps: list, cwd: Path) -> list[str]:
    """Run one case's steps in ``cwd``; each run step's exit status and last error line."""
    cwd.mkdir()
    results = []
    for kind, what, arg in steps:
        target = cwd / 'out' / what
        if kind == 'write':
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(arg)
        elif kind == 'remove':
            target.unlink()
        else:
            done = subprocess.run([sys.executable, str(tree / TOOLS / what), *arg], cwd=cwd, env=_env(tree),
                                  capture_output=True, text=True)
            lines = done.stderr.strip().splitlines()
            results.append(f'exit {done.returncode}: {lines[-1] if done.returncode and lines else ""}')
    return results


def _strip_times(value):
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_times(v) for k, v in value.items() if k not in TIMING_KEYS}
    return value


def digest(path: Path, places: dict[str, str]) -> str:
    """The bytes of one output (a symlink: its target path), a JSON record without timing fields.

    A written config names the tree's ``configs/_base_`` and may name the run folder by absolute
    path: ``places`` maps those paths to placeholders, as they differ between the two exports.
    """
    if path.is_symlink():
        return 'link ' + hashlib.sha256(os.readlink(path).encode()).hexdigest()
    if path.suffix == '.json':
        text = json.dumps(_strip_times(json.loads(path.read_text())), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    if path.suffix == '.py':
        text = path.read_text()
        for place, placeholder in places.items():
            text = text.replace(place, placeholder)
        return hashlib.sha256(text.encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outputs(folder: Path, tree: Path) -> dict[str, str]:
    """Every file (or link) under ``folder`` by relative path, with its digest."""
    places = {str(tree.resolve()): '<tree>', str(folder.resolve()): '<run>'}
    return {str(p.relative_to(folder)): digest(p, places) for p in sorted(folder.rglob('*'))
            if p.is_file() or p.is_symlink()}


def write_data(data: Path) -> None:
    """:func:`make_data` in a child process that finds the tests' builders through its PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / 'tests'),
                                                                    os.environ.get('PYTHONPATH')])))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), '--make-data', str(data)], check=True, env=env)


def main(argv: list[str] | None = None) -> int:
    """Run every case with both revisions; print a table; exit 1 on any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--base', default=DEFAULT_BASE, help=f'git revision run first ({DEFAULT_BASE})')
    parser.add_argument('--new', default=None, help='git revision compared with it (default: the working tree)')
    parser.add_argument('--make-data', type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make_data:
        make_data(args.make_data)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix='daspm_conv_unchanged_') as tmp:
        tmp = Path(tmp)
        trees = {'base': export(args.base, tmp / 'tree_base'), 'new': export(args.new, tmp / 'tree_new')}
        for tree in trees.values():
            check_import(tree)
        write_data(tmp / 'data')
        for case, steps in CASES.items():
            found = {}
            for side, tree in trees.items():
                cwd = tmp / f'{side}_{case}'
                messages = run_steps(tree, steps, cwd)
                found[side] = {f'step {i + 1}': m for i, m in enumerate(messages)}
                found[side].update(outputs(cwd, tree))
            for name in sorted(set(found['base']) | set(found['new'])):
                same = found['base'].get(name) == found['new'].get(name)
                shown = found['new'].get(name) or '-'
                kind = ('exit + message' if name.startswith('step ') else 'link target' if shown.startswith('link ')
                        else 'json minus timings' if name.endswith('.json') else 'bytes')
                shown = shown.removeprefix('link ')
                rows.append((case, name, kind, shown if name.startswith('step ') else shown[:12], same))
    width = max(len(c) + len(n) for c, n, *_ in rows) + 3
    print(f'{"case / file":<{width}} {"compared":<19} {"value":<12}  equal')
    for case, name, kind, shown, same in rows:
        print(f'{case + " / " + name:<{width}} {kind:<19} {shown:<12}  {"yes" if same else "NO"}')
    print(f'{args.base} vs {args.new or "working tree"}: {sum(r[-1] for r in rows)}/{len(rows)} equal')
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
