"""Per-class statistics of the real Sentinel-2 patch and of the generator's target, before and after calibration.

    .venv/bin/python benchmarks/generator_calibration.py [--seed 0] [--tiles 8] [--tile-size 160]

Measures (daspm.synthetic.statistics, the same code for both) the real L1C patch of
tests/fixtures/s2_eolearn_patch per land-cover class, and the target tiles 0..tiles-1 of the
generator per class over pure 10 m pixels, for ``--spectra default`` (before), ``sentinel2``
(L1C, after) and ``sentinel2-l2a`` (L2A, after), plus the default spectra without atmosphere
(``default-l2a``: the surface the default target starts from). Checks each rendering against
the documented ranges (daspm.synthetic.calibration.RANGES). Prints a Markdown table and writes
``table.md`` and ``statistics.json`` to ``--out`` (benchmarks/results/generator_calibration/).
From Python: ``calibration_table()`` returns the same record, ``markdown(record)`` the table.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from results_io import write_json  # a sibling script: its folder is on the path of a script run

from daspm.synthetic.calibration import (BAND_NAMES, RANGES, outside_ranges, quantities, real_patch_statistics,
                                         rendered_statistics)
from daspm.synthetic.spectra import PROFILES

REPO = Path(__file__).resolve().parents[1]
PATCH = REPO / 'tests' / 'fixtures' / 's2_eolearn_patch'
OUT = REPO / 'benchmarks' / 'results' / 'generator_calibration'
COLUMNS = (*BAND_NAMES, 'NDVI', 'B4/B3', 'texture B4', 'texture B8')
# name -> (profile, processing level whose ranges apply)
RENDERINGS = {'default': (PROFILES['default'], 'L1C'),
              'default-l2a': (dataclasses.replace(PROFILES['default'], name='default-l2a', level='L2A'), 'L2A'),
              'sentinel2': (PROFILES['sentinel2'], 'L1C'),
              'sentinel2-l2a': (PROFILES['sentinel2-l2a'], 'L2A')}


def _rows(stats: dict) -> dict[str, dict]:
    """Per class: pixel count and the checked quantities (rounded; NaN texture as None)."""
    out = {}
    for name, s in stats.items():
        values = {k: (None if math.isnan(v) else round(v, 4)) for k, v in quantities(s).items()}
        out[name] = {'pixels': s.pixels, 'texture_pixels': s.texture_pixels, **values}
    return out


def calibration_table(seed: int = 0, tiles: int = 8, tile_size: int = 160) -> dict:
    """The real patch's and each rendering's per-class statistics, with the range check of each rendering."""
    real = real_patch_statistics(PATCH / 's2_b2_b3_b4_b8_10m.tif', PATCH / 'lulc_10m.tif')
    record = {'settings': dict(seed=seed, tiles=tiles, tile_size=tile_size, pixels='pure 10 m pixels',
                               texture='mean 3 x 3 local std, windows inside one class'),
              'real patch (L1C)': _rows(real), 'renderings': {}}
    for name, (profile, level) in RENDERINGS.items():
        stats = rendered_statistics(profile, seed=seed, tiles=tiles, tile_size=tile_size)
        record['renderings'][name] = {'level': level, 'classes': _rows(stats),
                                      'outside_ranges': outside_ranges(stats, level)}
    record['ranges'] = RANGES
    return record


def _line(source: str, name: str, row: dict) -> str:
    cells = ['-' if row[c] is None else f'{row[c]:.3f}' if c in ('NDVI', 'B4/B3') else f'{row[c]:.4f}'
             for c in COLUMNS]
    return f'| {source} | {name} | {row["pixels"]} | ' + ' | '.join(cells) + ' |'


def markdown(record: dict) -> str:
    """The record as one Markdown table per class group, then the range check of each rendering."""
    head = '| data | class | pixels | ' + ' | '.join(COLUMNS) + ' |\n|' + '---|' * (len(COLUMNS) + 3)
    lines = [head]
    lines += [_line('real L1C', n, r) for n, r in record['real patch (L1C)'].items()]
    for source, rendering in record['renderings'].items():
        lines += [_line(f'{source} ({rendering["level"]})', n, r) for n, r in rendering['classes'].items()]
    lines.append('')
    for source, rendering in record['renderings'].items():
        problems = rendering['outside_ranges']
        lines.append(f'- {source}: ' + ('every checked number within its range' if not problems
                                        else '; '.join(problems)))
    return '\n'.join(lines) + '\n'


def main() -> None:
    """Measure, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--tiles', type=int, default=8)
    parser.add_argument('--tile-size', type=int, default=160)
    parser.add_argument('--out', type=Path, default=OUT)
    args = parser.parse_args()
    record = calibration_table(args.seed, args.tiles, args.tile_size)
    table = markdown(record)
    print(table, end='')
    write_json(args.out / 'statistics.json', record)
    (args.out / 'table.md').write_text(table)
    print(f'wrote {args.out / "statistics.json"} and {args.out / "table.md"}')


if __name__ == '__main__':
    main()
