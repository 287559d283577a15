"""Show that two revisions map scenes identically: every output file compared byte for byte.

    .venv/bin/python benchmarks/behaviour_unchanged.py                      # BASE vs the working tree
    .venv/bin/python benchmarks/behaviour_unchanged.py --base REV --new REV --json out.json

Each revision is exported into a temporary folder (``git archive``; the working tree is used where it
is), and ``daspm-map`` of that tree runs, with this same Python and ``PYTHONPATH`` set to the tree so its
own ``daspm`` is imported (checked: the editable install's finder comes after ``sys.path``), on scenes
generated once: an L2A product with a cloud, an L1C product (zipped), a 3-band GeoTIFF, two scenes
with ``--out-dir --stac`` and a two-date ``--composite``. The model is a real mmseg ``EncoderDecoder``
with fixed weights whose backbone mixes each pixel with its neighbourhood, so window overlaps and the
blend matter. Both revisions run from sibling folders with relative paths, so the paths recorded in
the outputs are the same strings. Class maps, confidence, probabilities, uncertainty, count and
quicklook files must be equal byte for byte; the JSON records (sidecars, STAC) are compared without
their timing fields (``seconds``, ``timings``, ``started``, ``finished``; STAC ``created``, a
collection's ``interval``, the ``datetime`` of an undated scene, which is the time of mapping, and the
checksum of a sidecar asset) and ``summary.tsv`` without its ``seconds`` column: these differ from run
to run of one revision too (checked with --base REV --new REV).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the last commit before scene mapping left daspm/apis/ for daspm/mapping/
DEFAULT_BASE = 'd728f84'
# run-time fields of the JSON records and summary.tsv; 'interval' is a STAC collection's time span, which
# includes the time of mapping of an undated scene
TIMING_KEYS = {'seconds', 'timings', 'started', 'finished', 'created', 'updated', 'interval'}

# The runner: the same text for both revisions; only the imported ``daspm`` differs.
RUNNER = r'''
import sys, torch, torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

@MODELS.register_module(name='NeighbourhoodBackbone', force=True)
class NeighbourhoodBackbone(BaseModule):
    """Each pixel mixed with its 5x5 neighbourhood: predictions depend on the window's context."""
    def forward(self, x):
        return [0.5 * x + 0.5 * F.avg_pool2d(x, 5, 1, 2, count_include_pad=False)]

import daspm
if not daspm.__file__.startswith(sys.argv[1]):
    sys.exit(f'daspm imported from {daspm.__file__}, not from {sys.argv[1]}')
if sys.argv[2] == 'checkpoint':
    from mmengine.config import Config
    from mmseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(sys.argv[3]).model)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.copy_(torch.tensor(
            [[9.0, -3, 1], [-4, 8, 2], [1, 1, -9], [5, 5, 5], [-6, -2, 9]])[..., None, None])
        model.decode_head.conv_seg.bias.copy_(torch.tensor([0.5, -0.5, 1.0, -7.0, 0.0]))
    torch.save({'state_dict': model.state_dict()}, sys.argv[4])
else:
    from daspm.cli.map_scene import main
    main(sys.argv[3:])
'''

CONFIG = """
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False, pad_val=0, seg_pad_val=255),
    backbone=dict(type='NeighbourhoodBackbone'),
    decode_head=dict(type='FCNHead', in_channels=3, channels=3, num_convs=0, concat_input=False,
                     dropout_ratio=0.0, num_classes=5, in_index=0, norm_cfg=None, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole'))
test_dataloader = dict(dataset=dict(type='SentinelDataset', pipeline=[
    dict(type='LoadGeoTiff', bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0),
    dict(type='SubPixelResample', out_gsd=2.0),
    dict(type='PackSegInputs')]))
"""

COMMON = ['../data/config.py', '../data/model.pth', '--window-size', '64', '--overlap', '16', '--batch-size', '3',
          '--device', 'cpu', '--no-progress']
SIDE = ['--confidence', '--probabilities', '--uncertainty', '--quicklook']


def _single(name: str, scene: str, extra: list[str] = ()) -> list[str]:
    """Arguments mapping one scene to NAME.tif with every side output."""
    side = [arg for flag in SIDE for arg in (flag, f'{name}_{flag[2:]}.{"png" if flag == "--quicklook" else "tif"}')]
    return [scene, *COMMON, '--out', f'{name}.tif', *side, *extra]


CASES = {
    'l2a_cloud': _single('l2a_cloud', '../data/l2a/' + '{l2a}'),
    'l1c_zip': _single('l1c_zip', '../data/l1c/' + '{l1c}', ['--confidence-dtype', 'float32']),
    'geotiff_bbox': _single('geotiff_bbox', '../data/scene.tif', ['--bbox', '500050', '4999600', '500350', '4999950']),
    'out_dir_stac': ['../data/l2a/{l2a}', '../data/scene.tif', *COMMON, '--out-dir', 'many', '--stac', *SIDE],
    'composite': ['../data/d1/{d1}', '../data/d2/{d2}', *COMMON, '--composite', '--out', 'composite.tif',
                  '--confidence', 'composite_confidence.tif', '--probabilities', 'composite_probabilities.tif'],
}


def export(rev: str | None, into: Path) -> Path:
    """The tree of ``rev`` unpacked under ``into`` (None: the working tree itself)."""
    if rev is None:
        return REPO
    into.mkdir(parents=True)
    archive = subprocess.run(['git', '-C', str(REPO), 'archive', '--format=tar', rev], check=True,
                             capture_output=True).stdout
    tar_path = into.with_suffix('.tar')
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter='data')
    return into


def start(tree: Path, args: list[str], cwd: Path) -> subprocess.Popen:
    """Start the runner with ``tree``'s daspm first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS='1', PYTHONHASHSEED='0')
    return subprocess.Popen([sys.executable, '-c', RUNNER, str(tree / 'daspm'), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str | None:
    """Wait for a runner; its error output when it failed, else None."""
    _, err = process.communicate()
    return f'exit {process.returncode}:\n{err[-2000:]}' if process.returncode else None


def make_data(tree: Path, data: Path) -> dict[str, str]:
    """Scenes, config and checkpoint shared by both revisions; the names of the products.

    The scenes are written once, by the installed daspm (this working tree): both revisions map
    the very same files. The checkpoint is built by ``tree``'s runner.
    """
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from daspm.synthetic.sentinel2_product import write_product
    data.mkdir(parents=True)
    names = {
        'l2a': write_product(data / 'l2a', 'L2A', '04.00', 60, seed=1, cloud_block=(12, 18, 30, 36),
                             nodata_block=(48, 0, 60, 12)).name,
        'l1c': write_product(data / 'l1c', 'L1C', '04.00', 60, seed=2, cloud_block=(0, 0, 12, 24),
                             zip_it=True).name,
        'd1': write_product(data / 'd1', 'L2A', '04.00', 30, seed=3, cloud_block=(0, 0, 12, 12)).name,
        'd2': write_product(data / 'd2', 'L2A', '04.00', 30, seed=4, cloud_block=(12, 12, 30, 30),
                            sensing='20240702T103031').name,
    }
    rng = np.random.default_rng(5)
    image = (rng.random((3, 50, 40)) * 3000).astype(np.uint16)
    image[:, 45:, 30:] = 0
    with rasterio.open(data / 'scene.tif', 'w', driver='GTiff', width=40, height=50, count=3, dtype='uint16',
                       crs='EPSG:32632', transform=from_origin(500000, 5000000, 10, 10), nodata=0) as dst:
        dst.write(image)
        dst.descriptions = ('B4', 'B3', 'B2')
    (data / 'config.py').write_text(CONFIG)
    error = finish(start(tree, ['checkpoint', str(data / 'config.py'), str(data / 'model.pth')], data))
    if error:
        sys.exit(error)
    return names


def _strip_times(value):
    """A JSON value without what records the time of the run (see TIMING_KEYS and the module docstring)."""
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    if not isinstance(value, dict):
        return value
    drop = set(TIMING_KEYS)
    if str(value.get('daspm:datetime_source', '')).startswith('mapping'):
        drop.add('datetime')          # a scene without a sensing date is dated by the time of mapping
    if str(value.get('href', '')).endswith('.json'):
        drop.add('file:checksum')     # the checksum of a sidecar, which holds timings
    return {k: _strip_times(v) for k, v in value.items() if k not in drop}


def digest(path: Path) -> str:
    """What is compared of one output: the bytes, or a JSON/TSV record without its timing fields."""
    if path.suffix == '.json':
        text = json.dumps(_strip_times(json.loads(path.read_text())), sort_keys=True)
    elif path.suffix == '.tsv':
        rows = [line.split('\t') for line in path.read_text().splitlines()]
        keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_KEYS]
        text = '\n'.join('\t'.join(row[i] for i in keep) for row in rows)
    else:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(text.encode()).hexdigest()


def outputs(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with its digest."""
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob('*')) if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    """Map every case with both revisions; print a table; exit 1 on any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--base', default=DEFAULT_BASE, help=f'git revision mapped first ({DEFAULT_BASE})')
    parser.add_argument('--new', default=None, help='git revision compared with it (default: the working tree)')
    parser.add_argument('--json', type=Path, help='also write the table as JSON')
    args = parser.parse_args(argv)
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix='daspm_unchanged_') as tmp:
        tmp = Path(tmp)
        trees = {'base': export(args.base, tmp / 'tree_base'), 'new': export(args.new, tmp / 'tree_new')}
        names = make_data(trees['new'], tmp / 'data')
        for case, case_args in CASES.items():
            found, running = {}, {}
            for side, tree in trees.items():   # both revisions at once (one thread each)
                cwd = tmp / f'{side}_{case}'
                cwd.mkdir()
                running[side] = (start(tree, ['map', *[a.format(**names) for a in case_args]], cwd), cwd)
            for side, (process, cwd) in running.items():
                error = finish(process)
                if error:
                    print(f'{case}: {side} failed ({error})')
                    return 1
                found[side] = outputs(cwd)
            for name in sorted(set(found['base']) | set(found['new'])):
                same = found['base'].get(name) == found['new'].get(name)
                failed |= not same
                how = {'.json': 'json minus timings', '.tsv': 'tsv minus seconds'}.get(Path(name).suffix, 'bytes')
                rows.append(dict(case=case, file=name, compared=how, equal=same,
                                 sha256=(found['new'].get(name) or '-')[:12]))
    width = max(len(r['case']) + len(r['file']) for r in rows) + 3
    print(f'{"case / file":<{width}} {"compared":<19} {"sha256":<12}  equal')
    for r in rows:
        print(f'{r["case"] + " / " + r["file"]:<{width}} {r["compared"]:<19} {r["sha256"]:<12}  '
              f'{"yes" if r["equal"] else "NO"}')
    print(f'{args.base} vs {args.new or "working tree"}: {sum(r["equal"] for r in rows)}/{len(rows)} files equal')
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(base=args.base, new=args.new or 'working tree', files=rows),
                                        indent=2) + '\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
