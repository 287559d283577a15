"""Imports inside ``daspm`` run one way (DESIGN.md, "Layers") and no package uses another's private names.

The checker parses every module with ``ast`` (nothing is imported, so the test is fast and cannot
be fooled by import side effects), resolves absolute and relative imports, including those inside
functions, and maps each module to its layer. Self-tests feed hand-written sources through the
same functions so that the check is known to be able to fail.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT_PACKAGE = 'daspm'
PACKAGE_DIR = Path(__file__).resolve().parents[1] / ROOT_PACKAGE

# Layer of each top-level part of daspm ('' is daspm/__init__.py). Lower layers never import higher
# ones; a part missing here fails the test so that a new subpackage gets a place on purpose.
LAYERS: dict[str, int] = {
    '': 0, 'classes': 0, 'utils': 0,
    'datasets': 1, 'models': 1, 'convert': 1, 'synthetic': 1, 'evaluation': 1,
    'engine': 2,
    'register': 3,   # imports datasets/engine/evaluation/models so that they register
    'apis': 4, 'mapping': 4,
    'cli': 5,
}
# Imports between different packages of one layer, each with its reason.
ALLOWED_SAME_LAYER: dict[tuple[str, str], str] = {
    ('mapping', 'apis'): 'the mapper reads the test pipeline of a config as testing does (apis.inference)',
}


@dataclass(frozen=True)
class ImportRef:
    """One imported daspm module (and the names taken from it) at one line of one module."""

    importer: str
    line: int
    target: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    """A rule broken at ``path:line``, described for the failure message."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f'{self.path}:{self.line} {self.message}'


def is_private(name: str) -> bool:
    """``_name`` is private; dunder names (``__version__``) are not."""
    return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """Dotted module name of a file under ``package_dir`` (``__init__.py`` names its package)."""
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix('').parts]
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def package_of(module: str) -> str:
    """Top-level part of daspm that ``module`` belongs to: 'daspm.mapping.inputs' -> 'mapping'."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def layer_of(module: str) -> int | None:
    """Layer of a daspm module; None for a part that LAYERS does not list."""
    return LAYERS.get(package_of(module))


def layer_label(module: str) -> str:
    """'apis [4]': package and layer, for messages."""
    package = package_of(module) or ROOT_PACKAGE
    return f'{package} [{layer_of(module)}]'


def resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """Absolute name of ``from <level dots><module> import ...`` written in ``importer``.

    In a package's ``__init__`` one dot is the package itself; in a plain module it is the
    module's package, as Python resolves ``__package__``.
    """
    if level == 0:
        return module or ''
    parts = importer.split('.') if is_package else importer.split('.')[:-1]
    if level - 1 > len(parts) - 1:
        raise ValueError(f'{importer}: relative import beyond the top-level package (level {level})')
    base = parts[:len(parts) - (level - 1)]
    return '.'.join(base + ([module] if module else []))


def _is_daspm(module: str) -> bool:
    return module == ROOT_PACKAGE or module.startswith(ROOT_PACKAGE + '.')


def collect_imports(source: str, importer: str, is_package: bool, known_modules: set[str]) -> list[ImportRef]:
    """Every daspm module imported anywhere in ``source`` (functions and ``if`` blocks included).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module in
    ``known_modules`` (``from . import datasets``), else of ``pkg`` with ``name`` recorded.
    """
    refs: list[ImportRef] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            refs += [ImportRef(importer, node.lineno, alias.name) for alias in node.names if _is_daspm(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            target = resolve_relative(importer, is_package, node.level, node.module)
            if not _is_daspm(target):
                continue
            for alias in node.names:
                submodule = f'{target}.{alias.name}'
                if submodule in known_modules:
                    refs.append(ImportRef(importer, node.lineno, submodule))
                else:
                    refs.append(ImportRef(importer, node.lineno, target, (alias.name,)))
    return refs


def layer_violations(refs: list[ImportRef], path: str) -> list[Violation]:
    """Imports of a higher layer, of an unlisted part, or of another package of the same layer."""
    out, seen = [], set()
    for ref in refs:
        if (ref.line, ref.target) in seen:
            continue  # one line importing several names from one module is one violation
        seen.add((ref.line, ref.target))
        own, other = layer_of(ref.importer), layer_of(ref.target)
        own_pkg, other_pkg = package_of(ref.importer), package_of(ref.target)
        if own is None or other is None:
            unknown = own_pkg if own is None else other_pkg
            out.append(Violation(path, ref.line, f'imports {ref.target}: daspm part {unknown!r} has no layer '
                                                 '(add it to LAYERS in tests/test_import_layers.py)'))
        elif other > own:
            out.append(Violation(path, ref.line, f'imports {ref.target} (layer {layer_label(ref.importer)} -> '
                                                 f'layer {layer_label(ref.target)}, upwards)'))
        elif other == own and own_pkg != other_pkg and (own_pkg, other_pkg) not in ALLOWED_SAME_LAYER \
                and own > 0:  # layer 0 (utils, classes, daspm/__init__) forms one base
            out.append(Violation(path, ref.line, f'imports {ref.target} (same layer {own}: '
                                                 f'{own_pkg} -> {other_pkg}; move the shared code down)'))
    return out


def private_import_violations(refs: list[ImportRef], path: str) -> list[Violation]:
    """``_private`` names (or modules) imported from another top-level part of daspm."""
    out = []
    for ref in refs:
        if package_of(ref.importer) == package_of(ref.target):
            continue
        private = [n for n in ref.names if is_private(n)]
        private += [p for p in ref.target.split('.') if is_private(p)]
        if private:
            out.append(Violation(path, ref.line, f'imports private {", ".join(private)} from {ref.target} '
                                                 f'({package_of(ref.importer)} -> {package_of(ref.target)})'))
    return out


def defined_private_names(source: str) -> set[str]:
    """Private functions, classes, methods, attributes and constants that ``source`` defines."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)  # self._x = ...
    return {n for n in names if is_private(n)}


def private_attribute_violations(source: str, importer: str, path: str,
                                 private_by_package: dict[str, set[str]]) -> list[Violation]:
    """``obj._name`` where ``_name`` is defined only in other daspm parts (e.g. ``spec.loader._scale_for``).

    A heuristic: the object's type is unknown, so a private name counts as foreign when this
    module's own part does not define it but another part does; ``self._x`` and ``cls._x`` are
    always the object's own.
    """
    own = package_of(importer)
    foreign = set().union(*(names for pkg, names in private_by_package.items() if pkg != own))
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ('self', 'cls'):
            continue
        if node.attr in foreign and node.attr not in private_by_package.get(own, set()):
            owners = sorted(pkg for pkg, names in private_by_package.items() if node.attr in names and pkg != own)
            out.append(Violation(path, node.lineno, f'uses private {ast.unparse(node)} defined in '
                                                    f'{", ".join(owners)} ({own} -> {", ".join(owners)})'))
    return out


def package_sources(package_dir: Path = PACKAGE_DIR) -> dict[Path, str]:
    """Source text of every .py file under the package."""
    return {p: p.read_text(encoding='utf-8') for p in sorted(package_dir.rglob('*.py'))}


def check_package(package_dir: Path = PACKAGE_DIR) -> dict[str, list[Violation]]:
    """All violations under ``package_dir``, by rule: 'layers', 'private imports', 'private attributes'."""
    sources = package_sources(package_dir)
    modules = {p: module_name(p, package_dir) for p in sources}
    known = set(modules.values())
    private_by_package: dict[str, set[str]] = {}
    for p, text in sources.items():
        private_by_package.setdefault(package_of(modules[p]), set()).update(defined_private_names(text))
    result: dict[str, list[Violation]] = {'layers': [], 'private imports': [], 'private attributes': []}
    for p, text in sources.items():
        rel = p.relative_to(package_dir.parent).as_posix()
        refs = collect_imports(text, modules[p], p.name == '__init__.py', known)
        result['layers'] += layer_violations(refs, rel)
        result['private imports'] += private_import_violations(refs, rel)
        result['private attributes'] += private_attribute_violations(text, modules[p], rel, private_by_package)
    return result


# -- the rules on daspm/ ----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def violations() -> dict[str, list[Violation]]:
    return check_package()


@pytest.mark.parametrize('rule', ['layers', 'private imports', 'private attributes'])
def test_daspm_follows_the_rule(violations, rule):
    found = violations[rule]
    assert not found, f'{len(found)} {rule} violation(s):\n' + '\n'.join(map(str, found))


def test_every_part_of_daspm_has_a_layer():
    parts = {package_of(module_name(p)) for p in PACKAGE_DIR.rglob('*.py')}
    assert parts <= set(LAYERS), f'parts without a layer: {sorted(parts - set(LAYERS))}'


# -- self-tests: the checker can fail ----------------------------------------------------------------

KNOWN = {'daspm', 'daspm.classes', 'daspm.utils', 'daspm.utils.checkpoint', 'daspm.datasets', 'daspm.models',
         'daspm.models.backbones', 'daspm.models.backbones.fake', 'daspm.apis', 'daspm.apis.checkpoint',
         'daspm.mapping', 'daspm.mapping.inputs', 'daspm.register', 'daspm.engine', 'daspm.cli'}


def _violations(source: str, importer: str, is_package: bool = False) -> list[Violation]:
    refs = collect_imports(source, importer, is_package, KNOWN)
    return layer_violations(refs, 'fake.py') + private_import_violations(refs, 'fake.py')


def test_relative_imports_resolve_like_python():
    assert resolve_relative('daspm.mapping.inputs', False, 1, 'spec') == 'daspm.mapping.spec'
    assert resolve_relative('daspm.mapping.inputs', False, 2, 'datasets.transforms') == 'daspm.datasets.transforms'
    assert resolve_relative('daspm.models.backbones.fake', False, 2, None) == 'daspm.models'
    # In __init__.py one dot is the package itself.
    assert resolve_relative('daspm.mapping', True, 1, 'grid') == 'daspm.mapping.grid'
    assert resolve_relative('daspm', True, 1, 'utils.errors') == 'daspm.utils.errors'
    assert resolve_relative('daspm.x', False, 0, 'numpy') == 'numpy'
    with pytest.raises(ValueError):
        resolve_relative('daspm.classes', False, 3, 'x')


def test_from_dot_import_module_names_the_submodule():
    refs = collect_imports('from . import datasets, engine\n', 'daspm.register', False, KNOWN)
    assert [r.target for r in refs] == ['daspm.datasets', 'daspm.engine']
    refs = collect_imports('from ..utils.checkpoint import read_checkpoint\n', 'daspm.models.x', False, KNOWN)
    assert refs == [ImportRef('daspm.models.x', 1, 'daspm.utils.checkpoint', ('read_checkpoint',))]


def test_upward_imports_are_reported_relative_absolute_and_inside_functions():
    source = ('import numpy\n'
              'from ...apis.checkpoint import read_checkpoint\n'
              'def load():\n'
              '    import daspm.mapping.inputs\n'
              '    from daspm.engine import hooks\n'
              '    from ...utils.checkpoint import read_checkpoint\n')
    found = _violations(source, 'daspm.models.backbones.fake')
    assert [(v.line, 'upwards' in v.message) for v in found] == [(2, True), (4, True), (5, True)]
    assert 'imports daspm.apis.checkpoint (layer models [1] -> layer apis [4], upwards)' in str(found[0])


def test_downward_imports_pass_and_same_layer_imports_are_reported():
    assert _violations('from ..datasets.transforms import x\nfrom daspm.models import y\n',
                       'daspm.mapping.inputs') == []
    found = _violations('from ..models import y\n', 'daspm.datasets.fake')
    assert len(found) == 1 and 'same layer 1' in found[0].message
    # mapping may read apis (listed in ALLOWED_SAME_LAYER with its reason), not the other way round
    assert _violations('from ..apis.checkpoint import x\n', 'daspm.mapping.inputs') == []
    found = _violations('from ..mapping.inputs import x\n', 'daspm.apis.fake')
    assert len(found) == 1 and 'same layer 4' in found[0].message
    found = _violations('from ..cli import x\n', 'daspm.mapping.inputs')
    assert len(found) == 1 and 'upwards' in found[0].message


def test_unlisted_part_is_reported():
    found = _violations('from ..newpart import y\n', 'daspm.apis.fake')
    assert len(found) == 1 and "'newpart' has no layer" in found[0].message


def test_private_names_across_packages_are_reported_but_not_within_one():
    source = 'from ..utils.raster import _process_alive, normalize_band_name\n'
    found = _violations(source, 'daspm.mapping.inputs')
    assert len(found) == 1 and 'private _process_alive' in found[0].message
    assert _violations('from .inputs import _band_sort_key\n', 'daspm.mapping.grid') == []
    assert _violations('from .. import __version__\n', 'daspm.utils.fake') == []


def test_private_attribute_of_another_package_is_reported():
    defined = {'datasets': defined_private_names('class L:\n    def _scale_for(self): ...\n'),
               'mapping': defined_private_names('def _own(): ...\n')}
    source = 'def f(spec, x):\n    x._own()\n    self._scale_for()\n    return spec.loader._scale_for("uint8")\n'
    found = private_attribute_violations(source, 'daspm.mapping.spec', 'fake.py', defined)
    assert [(v.line, v.message.split(' defined')[0]) for v in found] == [(4, 'uses private spec.loader._scale_for')]
