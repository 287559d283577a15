"""``python tools/compare_runs.py BASELINE RUN``: two tested runs side by side, and their difference.

Reads each run directory's ``metrics.json`` (written by ``test.sh <run>``) and prints mIoU and
per-class IoU of both, with RUN minus BASELINE, e.g. DASPM against source-only in ``make demo``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from daspm.utils.errors import DaspmInputError, exit_on_input_error


def read_metrics(run_dir: Path) -> dict[str, float]:
    """The test metrics of ``run_dir``; a clear error when the run was not tested."""
    path = Path(run_dir) / 'metrics.json'
    if not path.is_file():
        raise DaspmInputError(f'{path} not found: test the run first with `sh test.sh {run_dir}`')
    return json.loads(path.read_text())['metrics']


def comparison_table(baseline: dict[str, float], run: dict[str, float], names: tuple[str, str]) -> str:
    """mIoU and each class's IoU of both runs and the difference (run - baseline), as text."""
    keys = ['mIoU'] + sorted((k for k in baseline if k.startswith('IoU.') and k in run), key=list(baseline).index)
    width = max(len(k) for k in keys + list(names)) + 2
    lines = [f'{"":<{width}}{names[0]:>{width}}{names[1]:>{width}}{"difference":>12}']
    for key in keys:
        a, b = baseline.get(key), run.get(key)
        diff = f'{b - a:+12.2f}' if a is not None and b is not None else f'{"n/a":>12}'
        fmt = (lambda v: f'{v:>{width}.2f}' if v is not None else f'{"n/a":>{width}}')
        lines.append(f'{key.removeprefix("IoU."):<{width}}{fmt(a)}{fmt(b)}{diff}')
    return '\n'.join(lines)


def verdict(baseline: dict[str, float], run: dict[str, float], names: tuple[str, str]) -> str:
    """One sentence stating the mIoU difference."""
    diff = run['mIoU'] - baseline['mIoU']
    word = 'above' if diff > 0 else 'below' if diff < 0 else 'equal to'
    return (f'{names[1]} target mIoU {run["mIoU"]:.2f} is {abs(diff):.2f} points {word} {names[0]} '
            f'({baseline["mIoU"]:.2f})' if diff else f'{names[1]} target mIoU equals {names[0]} ({run["mIoU"]:.2f})')


@exit_on_input_error
def main(argv: list[str] | None = None) -> None:
    """Print the comparison of two tested runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('baseline', type=Path, help='run directory of the baseline (e.g. source-only)')
    parser.add_argument('run', type=Path, help='run directory compared with it (e.g. DASPM)')
    parser.add_argument('--names', nargs=2, default=('baseline', 'run'), metavar=('BASELINE', 'RUN'))
    args = parser.parse_args(argv)
    baseline, run = read_metrics(args.baseline), read_metrics(args.run)
    names = tuple(args.names)
    print(comparison_table(baseline, run, names))
    print(verdict(baseline, run, names))


if __name__ == '__main__':
    main()
