"""Many scenes, one map each: list files, output names, sharing among torchrun processes, summary.

Every process (RANK of WORLD_SIZE, as torchrun sets them) maps the scenes ``i`` with
``i % WORLD_SIZE == RANK``; each map is written atomically, so a scene whose map exists is
finished and a rerun skips it. The JSON sidecar of each map carries its time and shares, from
which any process can write the summary of all scenes.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..utils.errors import DaspmInputError
from ..utils.raster import atomic_output, check_writable
from .mapper import sidecar_path
from .sentinel2 import product_name

_RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt', '.jp2', '.img')
SUMMARY_NAME = 'summary.tsv'


@dataclass
class SceneJob:
    """One scene of a batch: its input, its name and the outputs it gets."""

    input: Path
    name: str
    outputs: dict[str, Path]     # 'map' and the side outputs asked for

    @property
    def map(self) -> Path:
        """The class map (its existence marks the scene as finished)."""
        return self.outputs['map']


@dataclass
class SceneReport:
    """How one scene went: 'mapped', 'skipped' (map already there) or 'failed'."""

    name: str
    status: str
    seconds: float | None = None
    valid_share: float | None = None
    masked_share: float | None = None
    message: str = ''
    outputs: dict[str, Path] = field(default_factory=dict)


def scene_name(path: str | Path) -> str:
    """Output name of a scene: product name without .SAFE/.zip, file stem, or folder name."""
    path = Path(path)
    if path.suffix.lower() in _RASTER_SUFFIXES:
        return path.stem
    return product_name(path)


def read_scene_list(list_file: str | Path) -> list[Path]:
    """Scenes of a list file: one path per line; blank lines and '#' comments skipped.

    A relative path is taken relative to the list file's folder, or to the working directory
    when it exists only there.
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise DaspmInputError(f'--list {list_file}: file not found; give a text file with one scene path per line')
    scenes = []
    for number, line in enumerate(list_file.read_text(encoding='utf-8').splitlines(), start=1):
        text = line.split('#', 1)[0].strip()
        if not text:
            continue
        path = Path(text).expanduser()
        if not path.is_absolute():
            beside = list_file.parent / path
            path = beside if beside.exists() or not path.exists() else path
        if not path.exists():
            raise DaspmInputError(f'{list_file}, line {number}: {text} not found (relative paths are taken from '
                                  f'{list_file.parent} or the working directory); fix or remove the line')
        scenes.append(path)
    if not scenes:
        raise DaspmInputError(f'--list {list_file} names no scene; write one path per line')
    return scenes


def plan_jobs(scenes: Sequence[str | Path], out_dir: str | Path, side_outputs: Sequence[str] = ()) -> list[SceneJob]:
    """One job per scene with outputs in ``out_dir``: NAME.tif (+ NAME_confidence.tif, ..., NAME.png)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DaspmInputError(f'--out-dir {out_dir} is a file; give a folder (it is created if missing)')
    check_writable(out_dir / SUMMARY_NAME, option='--out-dir')
    jobs, seen = [], {}
    for scene in scenes:
        name = scene_name(scene)
        if name in seen:
            raise DaspmInputError(f'{seen[name]} and {scene} would both be written to {out_dir / name}.tif; '
                                  'map them into different --out-dir folders')
        seen[name] = scene
        outputs = {'map': out_dir / f'{name}.tif'}
        for side in side_outputs:
            outputs[side] = out_dir / (f'{name}.png' if side == 'quicklook' else f'{name}_{side}.tif')
        jobs.append(SceneJob(input=Path(scene), name=name, outputs=outputs))
    return jobs


def distributed_rank() -> tuple[int, int, int]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) from the environment torchrun sets; (0, 1, 0) otherwise."""
    try:
        rank = int(os.environ.get('RANK', 0))
        world = int(os.environ.get('WORLD_SIZE', 1))
        local = int(os.environ.get('LOCAL_RANK', rank))
    except ValueError:
        raise DaspmInputError('RANK / WORLD_SIZE / LOCAL_RANK must be integers (as torchrun sets them)') from None
    if not 0 <= rank < world:
        raise DaspmInputError(f'RANK={rank} is not in 0..WORLD_SIZE-1 ({world})')
    return rank, world, local


def share(jobs: Sequence[SceneJob], rank: int, world: int) -> list[SceneJob]:
    """The jobs of process ``rank``: every ``world``-th one, so each process gets a mix of the list."""
    return list(jobs[rank::world])


def report_from_sidecar(job: SceneJob, status: str) -> SceneReport:
    """A report for a finished scene, with time and shares from its JSON sidecar when there is one."""
    record = {}
    path = sidecar_path(job.map)
    if path.exists():
        try:
            record = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError):
            record = {}
    return SceneReport(name=job.name, status=status, seconds=record.get('seconds'),
                       valid_share=record.get('valid_share'), masked_share=record.get('masked_share'),
                       outputs=dict(job.outputs))


def _percent(value: float | None) -> str:
    return '-' if value is None else f'{100 * value:.1f}'


def summary_table(reports: Sequence[SceneReport]) -> str:
    """Plain-text table: scene, status, seconds, valid %, masked %, and a message for failures."""
    rows = [('scene', 'status', 'seconds', 'valid %', 'masked %', 'note')]
    for r in reports:
        rows.append((r.name, r.status, '-' if r.seconds is None else f'{r.seconds:.1f}', _percent(r.valid_share),
                     _percent(r.masked_share), r.message))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ['  '.join(cell.ljust(w) if i in (0, 1) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             + (f'  {row[5]}' if row[5] else '') for row in rows]
    mapped = sum(r.status == 'mapped' for r in reports)
    skipped = sum(r.status == 'skipped' for r in reports)
    failed = sum(r.status == 'failed' for r in reports)
    total = sum(r.seconds or 0.0 for r in reports if r.status == 'mapped')
    lines.append(f'{len(reports)} scenes: {mapped} mapped ({total:.1f} s), {skipped} skipped (already mapped), '
                 f'{failed} failed')
    return '\n'.join(lines)


def write_summary(jobs: Sequence[SceneJob], out_dir: str | Path, failures: dict[str, str] | None = None) -> Path:
    """Write ``summary.tsv`` in ``out_dir`` for every scene of the batch (all processes), from the sidecars."""
    failures = failures or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter='\t', lineterminator='\n')
    writer.writerow(['scene', 'status', 'seconds', 'valid_share', 'masked_share', 'map'])
    for job in jobs:
        if job.map.exists():
            report = report_from_sidecar(job, 'done')
        else:
            report = SceneReport(job.name, 'failed' if job.name in failures else 'pending')
        writer.writerow([job.name, report.status, '' if report.seconds is None else report.seconds,
                         '' if report.valid_share is None else report.valid_share,
                         '' if report.masked_share is None else report.masked_share, job.map])
    path = Path(out_dir) / SUMMARY_NAME
    with atomic_output(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding='utf-8')
    return path
