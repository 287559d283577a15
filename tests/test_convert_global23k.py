"""The one converter command and its newest format, Global23k (the reference's raw 10-class codes in label_da/).

Raw folders are hand-built with rasterio (PNG driver): tiny RGB images in image_da/ and 1-band
labels in label_da/ that hold every raw code. The tool script runs once as a subprocess (as the
reference's README runs it); every other call is in-process.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from cli_helpers import call_cli, call_cli_ok
from conftest import REPO
from daspm.classes import DASPM_CLASSES, IGNORE_INDEX
from daspm.convert.cli import cli
from daspm.convert.formats import FORMATS
from daspm.convert.formats.global23k import GLC10_CODES
from daspm.convert.pipeline import convert_dataset
from daspm.utils.errors import DaspmInputError

SIZE = 12


def _write_png(path: Path, data: np.ndarray) -> None:
    """A PNG through rasterio: (bands, H, W) uint8, no georeference."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path, 'w', driver='PNG', width=data.shape[2], height=data.shape[1], count=data.shape[0],
                           dtype='uint8') as dst:
            dst.write(data)


def make_global23k(root: Path, n: int = 3, seed: int = 5) -> Path:
    """label_da/<name>.png with every code 0..10 (names end in a digit, as the reference's filter wants) + image_da/."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        name = f'tile_{k}1'
        _write_png(root / 'image_da' / f'{name}.png', rng.integers(0, 256, (3, SIZE, SIZE), np.uint8))
        codes = rng.integers(0, 11, (1, SIZE, SIZE), np.uint8)
        codes[0, 0, :11] = np.arange(11)
        _write_png(root / 'label_da' / f'{name}.png', codes)
    return root


def _read(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read(1)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_tool_converts_beside_the_input_into_the_five_classes(tmp_path):
    raw = make_global23k(tmp_path / 'experiment1')
    before = _digest(raw)
    # the reference README's command, with a trailing slash as it has one
    done = subprocess.run([sys.executable, 'tools/convert_datasets/global23k.py', f'{raw}/', '--nproc', '2'],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = tmp_path / 'experiment1_converted'
    assert _digest(raw) == before and not (raw / 'sample_class_stats.json').exists()  # never written into
    lut = np.vectorize(GLC10_CODES.get)
    stats = json.loads((out / 'sample_class_stats.json').read_text())
    for k in range(3):
        codes, ann = _read(raw / 'label_da' / f'tile_{k}1.png'), _read(out / 'ann_dir' / f'tile_{k}1.tif')
        assert ann.dtype == np.uint8 and np.array_equal(ann, lut(codes))
        assert (out / 'img_dir' / f'tile_{k}1.png').read_bytes() == (raw / 'image_da' / f'tile_{k}1.png').read_bytes()
        expected = {str(c): int((ann == c).sum()) for c in range(len(DASPM_CLASSES)) if (ann == c).any()}
        assert {k_: v for k_, v in stats[k].items() if k_ != 'file'} == expected
    manifest = json.loads((out / 'daspm_dataset.json').read_text())
    assert manifest['dataset'] == 'global23k' and manifest['classes'] == list(DASPM_CLASSES)
    assert manifest['image_suffix'] == '.png' and manifest['status'] == 'complete'
    assert manifest['raw_layout'] == {'images': 'image_da', 'labels': 'label_da', 'splits': {}}
    assert manifest['label_table']['name'] == 'assumed-glc10' and manifest['label_table']['codes']['8'] == 3
    assert 'wrote' in done.stdout and '3 images (3 converted, 0 already done)' in done.stdout


def test_table_is_explicit_and_label_map_corrects_it(tmp_path):
    assert set(GLC10_CODES) == set(range(11)) and GLC10_CODES[0] == IGNORE_INDEX
    assert set(GLC10_CODES.values()) <= {*range(len(DASPM_CLASSES)), IGNORE_INDEX}
    raw = make_global23k(tmp_path / 'raw', n=1)
    codes = _read(raw / 'label_da' / 'tile_01.png')
    codes[1, 1] = 11  # a code outside the table
    _write_png(raw / 'label_da' / 'tile_01.png', codes[None])
    with pytest.raises(DaspmInputError, match=r'tile_01\.png: label values 11 are not in the label table '
                                              r"'assumed-glc10'.*--label-map CODE=ID \(ID 0\.\.4 or 255\)"):
        convert_dataset(raw, tmp_path / 'out', dataset='global23k', progress=False)
    # the stopped run's folder refuses a table that changes an entry (8); a new folder takes it
    changed = call_cli(cli, ['global23k', str(raw), '-o', str(tmp_path / 'out'), '--label-map', '11=2,8=1'])
    assert changed.code == 2 and 'resuming would mix two tables' in changed.stderr
    done = call_cli_ok(cli, ['global23k', str(raw), '--out-dir', str(tmp_path / 'mapped'), '--label-map', '11=2,8=1'])
    ann = _read(tmp_path / 'mapped' / 'ann_dir' / 'tile_01.tif')
    assert ann[1, 1] == 2 and np.array_equal(ann == 1, codes == 8)  # both entries took effect
    assert done.value['manifest']['label_table']['name'] == 'assumed-glc10 + --label-map 8=1,11=2'
    bad = call_cli(cli, ['global23k', str(raw), '-o', str(tmp_path / 'o2'), '--label-map', '11=7'])
    assert bad.code == 2 and "train ids 0..4 (green area" in bad.stderr


def test_layout_errors_name_the_folder_and_the_fix(tmp_path):
    raw = make_global23k(tmp_path / 'raw', n=1)
    (raw / 'images').mkdir()
    with pytest.raises(DaspmInputError, match=r'holds several image folders \(image_da/, images/\); keep one'):
        convert_dataset(raw, tmp_path / 'out', dataset='global23k', progress=False)
    (raw / 'images').rmdir()
    with pytest.raises(DaspmInputError, match=r'output directory is inside the input'):
        convert_dataset(raw, raw / 'out', dataset='global23k', progress=False)
    (raw / 'label_da' / 'tile_01.png').rename(tmp_path / 'moved.png')
    (raw / 'label_da').rmdir()
    with pytest.raises(DaspmInputError, match=r'label_da: directory not found; expected <raw>/label_da/'):
        convert_dataset(raw, tmp_path / 'out', dataset='global23k', progress=False)


def test_resume_counts_finished_pairs(tmp_path):
    raw = make_global23k(tmp_path / 'raw', n=2)
    first = convert_dataset(raw, tmp_path / 'out', dataset='global23k', progress=False)
    again = convert_dataset(raw, tmp_path / 'out', dataset='global23k', progress=False, nproc=2)
    assert (first['converted'], first['skipped'], again['converted'], again['skipped']) == (2, 0, 0, 2)
    assert again['class_pixels'] == first['class_pixels'] and sum(first['class_pixels'].values()) > 0


def test_one_command_lists_every_format_and_runs_as_a_module(tmp_path):
    scripts = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']['scripts']
    assert scripts['daspm-convert'] == 'daspm.convert.cli:cli'
    helped = subprocess.run([sys.executable, '-m', 'daspm.convert', '--help'], cwd=REPO, capture_output=True,
                            text=True)
    assert helped.returncode == 0
    for name in (*FORMATS, 'custom'):
        assert f'    {name}' in helped.stdout
    tables = call_cli(cli, ['gaofen2m', '--help'])
    assert tables.code == 0 and 'label table five-classes' in tables.stdout
    tools = {p.stem for p in (REPO / 'tools' / 'convert_datasets').glob('*.py')} - {'convert_tool'}
    assert tools == {*FORMATS, 'custom'}  # one script per format, each a thin entry into the one command
    missing = call_cli(cli, ['global23k', str(tmp_path / 'nowhere')])
    assert missing.code == 2 and missing.stderr.count('\n') == 1 and 'input directory not found' in missing.stderr
