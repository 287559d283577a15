"""Mutation check: do the tests fail when the method breaks?

    python tests/mutation/mutation_check.py [--only ID[,ID]] [--list] [--jobs N] [--json OUT]
        [--keep-going] [--min-share 0.95] [--timeout 600] [--python PATH] [--no-baseline]

Applies each semantic mutation of ``tests/mutation/mutations.py`` (one plausible one-token or
one-line bug in a core module; the format is described at the top of that file), one at a time,
runs the tests named for it with ``pytest -x`` and records whether they fail ("caught").

The working tree is never modified: the repository (tracked and untracked, not ignored files,
as ``git ls-files -co --exclude-standard`` lists them) is copied once per job into a temporary
directory, each mutation is applied to the copy, its tests run there (cwd = the copy, the copy
first on PYTHONPATH, no bytecode written), and the file is restored before the next mutation.

Before the mutations, a baseline run of every selected test on the unmutated copy must pass
(otherwise a failing test would be counted as a catch); ``--no-baseline`` skips it.

Results: a table (id, file, description, caught yes/no, first failing test) and the share
caught (caught / selected; stale entries count as not caught). A run that times out counts as
caught and is marked "timeout". Exit status: 0 when the share caught >= ``--min-share``,
1 when below, 2 when an entry is stale (its ``old`` text does not occur exactly once in the
file: the code changed and the entry must be updated), 3 when the baseline fails. Without
``--keep-going`` a stale entry stops the check before anything runs; with it the other
mutations still run and the stale ones are listed (exit 2).

Not part of the test suite (pytest collects test_*.py files only; tests/test_mutation_list.py
checks in CI that every entry still matches its code). Each run costs a pytest start
(~10 s for torch + mmseg imports) plus the tests: the full list takes tens of minutes on two
cores; ``--jobs`` runs that many copies in parallel.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# run as a script, so its own folder (with mutations.py) is first on the import path
from mutations import MUTATIONS, Mutation  # noqa: E402

# Paths never copied even when git does not ignore them (large or irrelevant for the tests).
_SKIP_DIRS = {'.git', '.venv', 'work_dirs', '__pycache__', '.pytest_cache'}


@dataclass
class Result:
    id: str
    file: str
    description: str
    status: str                    # caught | survived | timeout | stale
    first_failure: str = ''
    seconds: float = 0.0
    tests: list[str] = field(default_factory=list)
    detail: str = ''

    @property
    def caught(self) -> bool:
        return self.status in ('caught', 'timeout')


# -- selection and validation ---------------------------------------------------------------------

def select(mutations: list[Mutation], only: str | None) -> list[Mutation]:
    """The mutations named by ``--only`` (comma-separated ids), all by default."""
    ids = [m.id for m in mutations]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        sys.exit(f'tests/mutation/mutations.py: duplicate mutation id(s) {duplicates}; ids must be unique')
    if not only:
        return list(mutations)
    wanted = [s.strip() for s in only.split(',') if s.strip()]
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        sys.exit(f'--only: unknown mutation id(s) {unknown}; see --list')
    return [m for m in mutations if m.id in wanted]


def sites(m: Mutation) -> list[tuple[str, str]]:
    """The (old, new) edits of ``m``: one, or several for a bug that needs more than one place."""
    if isinstance(m.old, str):
        return [(m.old, m.new)]
    if isinstance(m.new, str) or len(m.old) != len(m.new):
        raise ValueError(f'{m.id}: old and new must both be strings or tuples of the same length')
    return list(zip(m.old, m.new))


def apply_mutation(text: str, m: Mutation) -> str:
    """``text`` with every edit of ``m`` applied once."""
    for old, new in sites(m):
        text = text.replace(old, new, 1)
    return text


def stale_reason(root: Path, m: Mutation) -> str | None:
    """Why ``m`` cannot be applied to the tree at ``root`` (None when it can)."""
    path = root / m.file
    if not path.is_file():
        return f'{m.file} does not exist'
    if any(old == new for old, new in sites(m)):
        return 'old and new text are identical'
    text = path.read_text(encoding='utf-8')
    for old, _ in sites(m):
        count = text.count(old)
        if count != 1:
            return f'old text occurs {count} times in {m.file} (must be exactly once)'
    if path.suffix == '.py':
        try:
            compile(apply_mutation(text, m), str(path), 'exec')
        except SyntaxError as err:  # a broken file is "caught" by any import, which proves nothing
            return f'the mutant is not valid Python ({err.msg}, line {err.lineno})'
    return None


def missing_tests(root: Path, m: Mutation) -> list[str]:
    """Test files of ``m`` that do not exist under ``root``."""
    return [t for t in m.tests if not (root / t.split('::', 1)[0]).is_file()]


# -- the copy -------------------------------------------------------------------------------------

def repo_files(repo: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files of ``repo`` (relative paths)."""
    try:
        out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=repo, check=True,
                             capture_output=True).stdout
        files = [f for f in out.decode().split('\0') if f]
    except (OSError, subprocess.CalledProcessError):
        files = [str(p.relative_to(repo)) for p in repo.rglob('*') if p.is_file()]
    return [f for f in files if not (set(Path(f).parts) & _SKIP_DIRS)]


def make_copy(repo: Path, files: list[str], dest: Path) -> Path:
    """Copy ``files`` of ``repo`` into ``dest`` (symlinks kept as links); return ``dest``."""
    for rel in files:
        src = repo / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree but still tracked
        if src.is_dir() and not src.is_symlink():
            continue  # a nested repository listed as one entry
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)
    return dest


# -- running pytest -------------------------------------------------------------------------------

_FIRST_FAILURE = re.compile(r'^(FAILED|ERROR) (\S+)', re.M)


def run_pytest(python: str, copy: Path, tests: list[str], timeout: float) -> tuple[int | None, str, float]:
    """(exit code or None on timeout, output, seconds) of ``pytest -x`` on ``tests`` in ``copy``."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1',
               PYTHONPATH=os.pathsep.join([str(copy)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    cmd = [python, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', '-rfE', '--no-header', *tests]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors='replace'), time.perf_counter() - start
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this call started
        out, _ = proc.communicate()
        return None, out.decode(errors='replace'), time.perf_counter() - start


def first_failure(output: str) -> str:
    """The first FAILED/ERROR node id of pytest's short summary ('' if none)."""
    match = _FIRST_FAILURE.search(output)
    return match.group(2) if match else ''


def check_mutation(python: str, copy: Path, m: Mutation, timeout: float) -> Result:
    """Apply ``m`` in ``copy``, run its tests, restore the file."""
    result = Result(m.id, m.file, m.description, 'stale', tests=list(m.tests))
    reason = stale_reason(copy, m)
    if reason:
        result.detail = reason
        return result
    path = copy / m.file
    original = path.read_bytes()
    mutated = apply_mutation(original.decode('utf-8'), m)
    try:
        path.write_bytes(mutated.encode('utf-8'))
        code, output, seconds = run_pytest(python, copy, m.tests, timeout)
    finally:
        path.write_bytes(original)
    result.seconds = round(seconds, 1)
    if code is None:
        result.status, result.detail = 'timeout', f'no result after {timeout:g} s'
    elif code == 0:
        result.status = 'survived'
    elif code in (4, 5):  # usage error / nothing collected: the entry is wrong, not a catch
        result.status = 'stale'
        result.detail = f'pytest exit {code} (bad test selection?): ' + output.strip().splitlines()[-1][:200]
    else:
        result.status = 'caught'
        result.first_failure = first_failure(output) or f'(pytest exit {code})'
    return result


# -- reporting ------------------------------------------------------------------------------------

def table(results: list[Result]) -> str:
    rows = [('id', 'file', 'caught', 'first failing test', 'description')]
    for r in results:
        caught = {'caught': 'yes', 'timeout': 'yes (timeout)', 'survived': 'NO', 'stale': 'STALE'}[r.status]
        rows.append((r.id, r.file, caught, r.first_failure or r.detail, r.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append('  '.join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + '  ' + row[4])
        if n == 0:
            lines.append('  '.join('-' * w for w in widths) + '  ' + '-' * 11)
    return '\n'.join(lines)


def list_mutations(mutations: list[Mutation]) -> int:
    stale = 0
    for m in mutations:
        reason = stale_reason(REPO, m) or (f'missing test file(s) {missing_tests(REPO, m)}'
                                           if missing_tests(REPO, m) else None)
        stale += reason is not None
        print(f'{m.id:32s} {m.file:48s} {m.description}' + (f'   [STALE: {reason}]' if reason else ''))
        print(f'{"":32s} tests: {" ".join(m.tests)}')
    print(f'{len(mutations)} mutations' + (f', {stale} stale' if stale else ''))
    return 2 if stale else 0


# -- main -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', help='comma-separated mutation ids to run (default: all)')
    parser.add_argument('--list', action='store_true', help='list the mutations (and stale ones) and exit')
    parser.add_argument('--jobs', type=int, default=1, help='parallel copies of the repository (default 1)')
    parser.add_argument('--json', type=Path, help='write the results to this JSON file')
    parser.add_argument('--keep-going', action='store_true',
                        help='run the other mutations when some entries are stale (still exits non-zero)')
    parser.add_argument('--min-share', type=float, default=0.95, help='share caught needed for exit 0')
    parser.add_argument('--timeout', type=float, default=600.0, help='seconds per test run (a timeout counts as caught)')
    parser.add_argument('--python', default=sys.executable,
                        help="interpreter that runs pytest (default: this one; use the repo's .venv)")
    parser.add_argument('--no-baseline', action='store_true', help='skip the check that the tests pass unmutated')
    args = parser.parse_args(argv)

    mutations = select(MUTATIONS, args.only)
    if args.list:
        return list_mutations(mutations)

    stale = {m.id: stale_reason(REPO, m) for m in mutations}
    for m in mutations:
        if not stale[m.id] and missing_tests(REPO, m):
            stale[m.id] = f'missing test file(s) {missing_tests(REPO, m)}'
    stale = {k: v for k, v in stale.items() if v}
    if stale:
        print('STALE mutation entries in tests/mutation/mutations.py (update their old text or tests):', file=sys.stderr)
        for key, reason in stale.items():
            print(f'  {key}: {reason}', file=sys.stderr)
        if not args.keep_going:
            print('stopping (use --keep-going to run the others)', file=sys.stderr)
            return 2
    runnable = [m for m in mutations if m.id not in stale]

    files = repo_files(REPO)
    jobs = max(1, min(args.jobs, len(runnable) or 1))
    results: dict[str, Result] = {m.id: Result(m.id, m.file, m.description, 'stale', detail=stale[m.id],
                                               tests=list(m.tests)) for m in mutations if m.id in stale}
    with tempfile.TemporaryDirectory(prefix='daspm-mutation-') as tmp:
        copies = [make_copy(REPO, files, Path(tmp) / f'copy{j}') for j in range(jobs)]
        print(f'copied {len(files)} files of {REPO} into {jobs} temporary cop{"y" if jobs == 1 else "ies"} '
              f'under {tmp}; python: {args.python}', flush=True)
        if not args.no_baseline and runnable:
            tests = sorted({t for m in runnable for t in m.tests})
            print(f'baseline: {len(tests)} test selection(s) on the unmutated copy ...', flush=True)
            code, output, seconds = run_pytest(args.python, copies[0], tests, args.timeout * 3)
            if code != 0:
                print(output[-4000:], file=sys.stderr)
                print(f'baseline FAILED (pytest exit {code}, first failure {first_failure(output) or "?"}): '
                      'the tests must pass before mutations mean anything', file=sys.stderr)
                return 3
            print(f'baseline passed in {seconds:.0f} s', flush=True)

        todo: queue.Queue[Mutation] = queue.Queue()
        for m in runnable:
            todo.put(m)
        lock = threading.Lock()
        done = [0]

        def worker(copy: Path) -> None:
            while True:
                try:
                    m = todo.get_nowait()
                except queue.Empty:
                    return
                r = check_mutation(args.python, copy, m, args.timeout)
                with lock:
                    results[m.id] = r
                    done[0] += 1
                    mark = {'caught': 'caught', 'timeout': 'caught (timeout)', 'survived': 'SURVIVED',
                            'stale': 'STALE'}[r.status]
                    print(f'[{done[0]}/{len(runnable)}] {m.id}: {mark} in {r.seconds:.0f} s'
                          + (f' by {r.first_failure}' if r.first_failure else '')
                          + (f' ({r.detail})' if r.detail else ''), flush=True)

        threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in copies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    ordered = [results[m.id] for m in mutations]
    caught = sum(r.caught for r in ordered)
    share = caught / len(ordered) if ordered else 1.0
    print()
    print(table(ordered))
    print(f'\ncaught {caught}/{len(ordered)} = {share:.1%} (required {args.min_share:.0%})'
          + (f'; {sum(r.status == "stale" for r in ordered)} stale' if any(r.status == 'stale' for r in ordered) else ''))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(
            caught=caught, total=len(ordered), share=share, min_share=args.min_share,
            results=[asdict(r) for r in ordered]), indent=2) + '\n')
    if any(r.status == 'stale' for r in ordered):
        print('stale entries: fix them in tests/mutation/mutations.py', file=sys.stderr)
        return 2
    return 0 if share >= args.min_share else 1


if __name__ == '__main__':
    sys.exit(main())
