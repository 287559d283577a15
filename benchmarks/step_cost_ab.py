"""Before and after, side by side: the UDA step cost of a base revision and of this working tree.

    python benchmarks/step_cost_ab.py --base 16ce42f [--rounds 4] [-- UDA_STEP_COST_OPTIONS]
    python benchmarks/step_cost_ab.py --base HEAD~1 --rounds 6 -- --crop 64 --iters 5 --variants 'uda (with FD)'

The base revision is checked out in a git worktree (``--trees-dir``, default work_dirs/step_cost_ab).
Each round runs ``benchmarks/uda_step_cost.py`` of this tree once for each side, in a fresh process
with that side's package and configs (``--rounds 1``); the order alternates from round to round, so
the drift of a shared machine hits both sides alike. Timings one after the other on a 2-core machine
differ by more than most changes (the same code measured 2.35x and 2.58x source-only in two runs):
only rounds interleaved like this tell a change from noise. The table gives, per variant, the median
over rounds of the per-round medians, the change, and the ratio to source-only on each side.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEP_COST = REPO / 'benchmarks/uda_step_cost.py'


def base_tree(rev: str, trees_dir: Path) -> tuple[Path, str]:
    """A worktree of ``rev`` under ``trees_dir`` (reused when it exists) and the commit it names."""
    sha = subprocess.run(['git', 'rev-parse', '--verify', f'{rev}^{{commit}}'], cwd=REPO, capture_output=True,
                         text=True)
    if sha.returncode != 0:
        raise SystemExit(f'--base {rev}: not a commit of {REPO} ({sha.stderr.strip()})')
    commit = sha.stdout.strip()
    tree = trees_dir / commit[:12]
    if not (tree / 'daspm').is_dir():
        trees_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(['git', 'worktree', 'add', '--detach', '--force', str(tree), commit], cwd=REPO, check=True,
                       capture_output=True)
    return tree, commit


def run_once(tree: Path, options: list[str]) -> dict:
    """One round of uda_step_cost.py (this tree's harness) on ``tree``'s package and configs: its JSON table."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'step.json'
        env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(tree), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep)}
        done = subprocess.run([sys.executable, str(STEP_COST), *options, '--rounds', '1', '--json', str(out)],
                              cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f'uda_step_cost.py failed in {tree} (exit {done.returncode}):\n{done.stderr[-3000:]}')
        return json.loads(out.read_text())


def summarise(rounds: dict[str, list[dict]]) -> dict[str, dict]:
    """Per variant: each side's per-round medians, their median, the ratio to source-only, and after/before.

    ``rounds`` maps 'base' and 'this' to the JSON tables of uda_step_cost.py, one per round.
    """
    variants = list(rounds['this'][0]['variants'])
    table = {}
    for name in variants:
        row: dict = {}
        for side in ('base', 'this'):
            seconds = [r['variants'][name]['median_s'] for r in rounds[side]]
            ratios = [r['variants'][name]['ratio'] for r in rounds[side]]
            row[side] = dict(rounds_s=seconds, median_s=statistics.median(seconds), ratio=statistics.median(ratios))
        row['change'] = row['this']['median_s'] / row['base']['median_s']
        table[name] = row
    return table


def print_table(table: dict[str, dict], base: str, rounds: int) -> None:
    """The side-by-side table: s/iteration and ratio to source-only, base then this tree."""
    print(f'base {base[:12]} vs this working tree, {rounds} interleaved rounds (medians of the per-round medians)')
    print(f'{"variant":<16}{"base s/iter":>13}{"this s/iter":>13}{"this/base":>11}{"base ratio":>12}{"this ratio":>12}')
    for name, row in table.items():
        print(f'{name:<16}{row["base"]["median_s"]:>13.4f}{row["this"]["median_s"]:>13.4f}{row["change"]:>11.3f}'
              f'{row["base"]["ratio"]:>12.2f}{row["this"]["ratio"]:>12.2f}')
        print(f'{"":<16}rounds: base ' + ' '.join(f'{s:.4f}' for s in row['base']['rounds_s'])
              + ' | this ' + ' '.join(f'{s:.4f}' for s in row['this']['rounds_s']))


def main(argv: list[str] | None = None) -> dict:
    """Run the interleaved rounds and print the table; with --json also write it."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     epilog='options after -- go to uda_step_cost.py (not --rounds or --json)')
    parser.add_argument('--base', required=True, help='the revision to compare with (a commit, tag or HEAD~1)')
    parser.add_argument('--rounds', type=int, default=4)
    parser.add_argument('--trees-dir', type=Path, default=REPO / 'work_dirs/step_cost_ab',
                        help='where the base revision is checked out')
    parser.add_argument('--json', type=Path, help='also write the table here')
    parser.add_argument('options', nargs=argparse.REMAINDER, help='-- then options of uda_step_cost.py')
    args = parser.parse_args(argv)
    options = args.options[1:] if args.options[:1] == ['--'] else args.options
    if {'--rounds', '--json'} & set(options):
        parser.error('--rounds and --json belong to this script; uda_step_cost.py runs one round per call')
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    tree, commit = base_tree(args.base, args.trees_dir)
    sides = {'base': tree, 'this': REPO}
    rounds: dict[str, list[dict]] = {'base': [], 'this': []}
    for i in range(args.rounds):
        for side in (['base', 'this'] if i % 2 == 0 else ['this', 'base']):
            rounds[side].append(run_once(sides[side], options))
            print(f'round {i + 1}/{args.rounds}: {side} done', file=sys.stderr, flush=True)
    table = summarise(rounds)
    print_table(table, commit, args.rounds)
    from results_io import write_json  # benchmarks/ is on sys.path when a script here runs
    return write_json(args.json, dict(base=commit, rounds=args.rounds, options=options,
                                      device=rounds['this'][0].get('device'), variants=table))


if __name__ == '__main__':
    main()
