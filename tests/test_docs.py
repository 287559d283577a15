"""The README stays short, its links and the docs' links resolve, and it names the command CI runs."""
from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from daspm.apis.config_loading import resolve_config_path

REPO = Path(__file__).resolve().parents[1]
README = REPO / 'README.md'
MAX_README_LINES = 200

# [text](target) and ![alt](target); the target ends at whitespace or ')'
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
# a docs/... path written in the text (not the tail of a longer path or of a URL)
_DOCS_PATH = re.compile(r'(?<![\w/.-])docs/[\w./-]*\w')
# a repository path in backticks or a code block: starts with a tracked top-level folder; a name
# cut by a placeholder (foo_<decoder>.py) is checked up to its folder
_REPO_PATH = re.compile(r'(?<![\w/.-])((?:configs|daspm|tools|benchmarks|scripts|demo|tests|docs)/[\w./*{},-]*\w)'
                        r'(?![\w*{},<-])')


def markdown_files() -> list[Path]:
    """README.md and every page of docs/."""
    return [README, *sorted((REPO / 'docs').glob('*.md'))]


def heading_slugs(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, '-' for spaces)."""
    slugs: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith('```'):
            in_code = not in_code
            continue
        match = re.match(r'#{1,6} +(.*?)#*\s*$', line)
        if in_code or not match:
            continue
        slug = re.sub(r'[^\w\- ]', '', match.group(1).strip().lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f'{slug}-{count}')
    return slugs


def broken_links(page: Path) -> list[str]:
    """The relative links of one page whose file or heading does not exist."""
    text = page.read_text(encoding='utf-8')
    broken = []
    for target in _LINK.findall(text):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto: ...
            continue
        path_part, _, anchor = target.partition('#')
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f'{page.name}: {target} (no such file)')
        elif anchor and linked.suffix == '.md' and anchor not in heading_slugs(linked.read_text(encoding='utf-8')):
            broken.append(f'{page.name}: {target} (no such heading in {linked.name})')
    return broken


def expand_braces(pattern: str) -> list[str]:
    """Shell brace expansion, as the docs write alternatives: a/{b,c}.py -> a/b.py, a/c.py."""
    match = re.search(r'\{([^{}]*)\}', pattern)
    if not match:
        return [pattern]
    return [expanded for choice in match.group(1).split(',')
            for expanded in expand_braces(pattern[:match.start()] + choice + pattern[match.end():])]


def test_expand_braces_and_slugs_follow_shell_and_github() -> None:
    assert expand_braces('tools/{a,b}_{x,y}.py') == ['tools/a_x.py', 'tools/a_y.py', 'tools/b_x.py', 'tools/b_y.py']
    slugs = heading_slugs('# Does it adapt? (`a/b_c.json` and `.png`)\n```\n# not a heading\n```\n## Notes\n## Notes\n')
    assert slugs == {'does-it-adapt-ab_cjson-and-png', 'notes', 'notes-1'}


def test_readme_is_at_most_200_lines() -> None:
    lines = README.read_text(encoding='utf-8').splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f'README.md has {len(lines)} lines (at most {MAX_README_LINES}): move a section into docs/ and link it')


@pytest.mark.parametrize('page', markdown_files(), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize('page', markdown_files(), ids=lambda p: p.name)
def test_named_docs_paths_exist(page: Path) -> None:
    named = set(_DOCS_PATH.findall(page.read_text(encoding='utf-8')))
    if page == README:
        assert 'docs/install.md' in named  # the pattern finds the README's docs/ paths at all
    assert sorted(p for p in named if not (REPO / p).exists()) == []


def test_readme_repository_paths_exist() -> None:
    """Each script, config or folder the README names in code exists (globs and {a,b} must match)."""
    text = README.read_text(encoding='utf-8')
    code = ' '.join(re.findall(r'`([^`\n]+)`', text) + re.findall(r'```[^\n]*\n(.*?)```', text, re.S))
    missing = [path for path in sorted(set(_REPO_PATH.findall(code)))
               if not all(_exists(p) for p in expand_braces(path))]
    assert missing == []


def _exists(path: str) -> bool:
    """A glob matches a file, or the path exists as the commands find it (configs/DASPM/ = configs/daspm/)."""
    if '*' in path:
        return bool(glob.glob(str(REPO / path)))
    return resolve_config_path(REPO / path).exists()


def test_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding='utf-8')
    unlinked = [p.name for p in markdown_files()[1:] if f'(docs/{p.name})' not in text]
    assert unlinked == []


def _commands(script: Path) -> list[str]:
    """A shell script's command lines, without comments, blank lines and `set`/`cd` preambles."""
    lines = [line.strip() for line in script.read_text(encoding='utf-8').splitlines()]
    return [line for line in lines if line and not line.startswith(('#', 'set ', 'cd '))]


def test_ci_runs_make_test_which_runs_the_suite_the_readme_names() -> None:
    # .ci/run -> make test
    assert _commands(REPO / '.ci' / 'run') == ['make test']
    # make test -> set-up, then scripts/run_tests.sh (make -n prints the recipe without running it)
    if shutil.which('make') is None:
        pytest.skip('make is not installed')
    recipe = subprocess.run(['make', '-n', '--no-print-directory', 'test'], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    assert recipe == ['bash scripts/setup_env.sh', 'bash scripts/run_tests.sh']
    # scripts/run_tests.sh -> pytest over tests/ in .venv
    pytest_lines = [line for line in _commands(REPO / 'scripts' / 'run_tests.sh') if ' -m pytest ' in line]
    assert len(pytest_lines) == 1 and pytest_lines[0].startswith('.venv/bin/python -m pytest ')
    assert re.search(r'\stests(\s|$)', pytest_lines[0]), pytest_lines[0]
    # the README's test command is that one, and what it says about it holds
    readme = README.read_text(encoding='utf-8')
    tests_section = readme.split('\n## Tests\n', 1)[1].split('\n## ', 1)[0]
    assert '```bash\nmake test\n```' in tests_section
    assert '`.ci/run` calls exactly this' in tests_section
    quick_start = readme.split('\n## Quick start\n', 1)[1].split('\n## ', 1)[0]
    assert re.search(r'^make test\b', quick_start, re.M) and re.search(r'^make demo\b', quick_start, re.M)
    for variable in set(re.findall(r'\bDASPM_TEST_\w+', tests_section)):
        assert variable in (REPO / 'scripts' / 'run_tests.sh').read_text(encoding='utf-8'), variable


def test_make_demo_runs_the_demo_script_the_docs_describe() -> None:
    if shutil.which('make') is None:
        pytest.skip('make is not installed')
    recipe = subprocess.run(['make', '-n', '--no-print-directory', 'demo'], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    assert recipe == ['bash scripts/setup_env.sh', 'bash scripts/demo.sh']
    assert '`scripts/demo.sh`' in (REPO / 'docs' / 'demo.md').read_text(encoding='utf-8')
