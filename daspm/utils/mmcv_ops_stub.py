"""Stand-in for ``mmcv.ops`` where mmcv has no compiled ops (mmcv-lite).

mmsegmentation 1.2.2 imports ``point_sample`` and ``sigmoid_focal_loss`` from ``mmcv.ops`` at
module level, but mmcv-lite ships ``mmcv/ops`` without its compiled extension ``mmcv._ext``,
so ``import mmseg.models`` fails although no model of this project runs a compiled op. The
finder installed here serves a stand-in ``mmcv.ops`` only while ``mmcv._ext`` cannot be found:
every name resolves, and calling or instantiating one raises a RuntimeError that names the
switch for a build with compiled ops. With compiled ops installed it steps aside.

``scripts/setup_env.sh`` runs this file (``python mmcv_ops_stub.py install-site SITE_DIR``) to
copy it into the environment's site-packages as ``daspm_mmcv_ops_stub`` beside a ``.pth`` file
that calls :func:`install` at interpreter start, so the import order of mmseg and daspm does
not matter. ``import daspm`` calls :func:`install` too, for environments set up without it.
It runs at every interpreter start, so it imports only light standard-library modules
(no typing, no importlib.abc: the import protocol needs the methods, not the base classes).
"""
from __future__ import annotations

import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Sequence  # light; typing is not

SITE_MODULE = 'daspm_mmcv_ops_stub'  # the name of the copy in site-packages
PTH_LINE = f'import {SITE_MODULE}; {SITE_MODULE}.install()'
OPS_PACKAGE = 'mmcv.ops'
EXT_MODULE = 'mmcv._ext'
# The spec origin marks a stand-in module; compared by value because the site-packages copy and
# daspm.utils.mmcv_ops_stub are separate modules with separate classes.
STUB_ORIGIN = 'daspm-mmcv-ops-stub'
SWITCH = 'DASPM_MMCV_OPS=1 make setup'
# mmcv's own environment report (mmcv.utils.collect_env) calls these; they describe the build
# rather than compute anything, so the stand-in answers them instead of failing the report.
_INFO_FUNCTIONS = ('get_compiler_version', 'get_compiling_cuda_version')


def missing_ops_message(name: str) -> str:
    """The one error message for a compiled op used in an install without compiled ops."""
    return (f"{name} needs mmcv's compiled ops, which this install does not have (mmcv-lite). "
            f'Reinstall with compiled ops: {SWITCH}')


def _make_stand_in(module_name: str, attr: str) -> object:
    """A class named like the op whose construction (= call of a function op) raises the error."""
    if attr in _INFO_FUNCTIONS:
        def info() -> str:
            return 'n/a (mmcv-lite: no compiled ops)'
        info.__name__ = info.__qualname__ = attr
        info.__module__ = module_name
        return info

    qualified = f'{module_name}.{attr}'

    def __new__(cls: type, *args: object, **kwargs: object) -> object:
        raise RuntimeError(missing_ops_message(qualified))

    # A class, not a function, so that the name also works as a base class or in isinstance()
    # (mmengine checks isinstance(m, mmcv.ops.DeformConv2d)); calling it always raises.
    doc = f'Stand-in for {qualified}: {missing_ops_message(qualified)}'
    return type(attr, (), {'__new__': __new__, '__module__': module_name, '__doc__': doc})


class StubModule(types.ModuleType):
    """A module whose every public attribute is a stand-in for a compiled op."""

    def __getattr__(self, attr: str) -> object:
        # Private and dunder names stay missing so that introspection (__file__, __all__,
        # __wrapped__, ...) sees an ordinary module instead of stand-ins.
        if attr.startswith('_'):
            raise AttributeError(f'module {self.__name__!r} has no attribute {attr!r}')
        value = _make_stand_in(self.__name__, attr)
        setattr(self, attr, value)  # one object per name: `a is b` holds across imports
        return value


class _StubLoader:
    """Creates stand-in modules; there is no code to execute."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """A fresh stand-in module for ``spec.name``."""
        return StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: attributes are made on access."""


def _find_compiled_ext(path: Sequence[str] | None) -> importlib.machinery.ModuleSpec | None:
    """The spec of mmcv's compiled extension in the mmcv package folders, or None."""
    if path is None:
        mmcv = sys.modules.get('mmcv')
        path = getattr(mmcv, '__path__', None)
        if path is None:
            return None
    # PathFinder directly (not importlib.util.find_spec): no import, no recursion into this
    # finder; it is the test mmengine's mmcv_full_available() makes as well.
    return importlib.machinery.PathFinder.find_spec(EXT_MODULE, list(path))


def is_stub(module: object) -> bool:
    """Whether ``module`` is a stand-in served by this finder (or by another copy of it)."""
    spec = getattr(module, '__spec__', None)
    return spec is not None and spec.origin == STUB_ORIGIN


def should_serve(fullname: str, compiled_ext_found: Callable[[], bool],
                 parent_is_stub: bool) -> bool:
    """Whether the stand-in answers the import of ``fullname``.

    ``mmcv.ops`` gets the stand-in only when the compiled extension is missing; its submodules
    (e.g. ``mmcv.ops.multi_scale_deform_attn``, imported by mmcv.cnn) only under a stand-in
    parent. ``compiled_ext_found`` is called only for ``mmcv.ops`` (it searches the disk).
    """
    if fullname == OPS_PACKAGE:
        return not compiled_ext_found()
    if fullname.startswith(OPS_PACKAGE + '.'):
        return parent_is_stub
    return False


class MmcvOpsStubFinder:
    """Serves ``mmcv.ops`` (and its submodules) as stand-ins while ``mmcv._ext`` is missing."""

    daspm_mmcv_ops_stub = True  # marker for install()'s idempotence across module copies

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """A stand-in spec for ``mmcv.ops[.*]`` when compiled ops are missing, else None."""
        if fullname != OPS_PACKAGE and not fullname.startswith(OPS_PACKAGE + '.'):
            return None  # fast path: every other import in the process passes through here
        parent = sys.modules.get(fullname.rpartition('.')[0])
        if not should_serve(fullname, lambda: _find_compiled_ext(path) is not None,
                            is_stub(parent)):
            return None
        # A package (empty __path__), so that submodule imports come back here.
        return importlib.machinery.ModuleSpec(fullname, _StubLoader(), origin=STUB_ORIGIN,
                                              is_package=True)


def installed_finder() -> MmcvOpsStubFinder | None:
    """The stand-in finder on ``sys.meta_path`` (from any copy of this module), or None."""
    for finder in sys.meta_path:
        if getattr(finder, 'daspm_mmcv_ops_stub', False):
            return finder
    return None


def install() -> bool:
    """Put the finder first on ``sys.meta_path`` once; True if this call added it."""
    if installed_finder() is not None:
        return False
    # First, so that it decides before PathFinder imports mmcv-lite's mmcv/ops/__init__.py,
    # which fails on the missing mmcv._ext.
    sys.meta_path.insert(0, MmcvOpsStubFinder())
    return True


def uninstall() -> None:
    """Remove every stand-in finder from ``sys.meta_path`` (tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, 'daspm_mmcv_ops_stub', False)]


def write_site_files(site_dir: str) -> None:
    """Copy this module into ``site_dir`` with the .pth file that installs it at start-up."""
    import shutil  # here, not at module level: the .pth import at start-up stays light

    shutil.copyfile(__file__, os.path.join(site_dir, SITE_MODULE + '.py'))
    with open(os.path.join(site_dir, SITE_MODULE + '.pth'), 'w', encoding='utf-8') as f:
        f.write(PTH_LINE + '\n')


def remove_site_files(site_dir: str) -> None:
    """Remove what :func:`write_site_files` put into ``site_dir`` (install with compiled ops)."""
    for name in (SITE_MODULE + '.pth', SITE_MODULE + '.py'):
        path = os.path.join(site_dir, name)
        if os.path.exists(path):
            os.remove(path)


def main(argv: list[str]) -> int:
    """Command line of scripts/setup_env.sh: ``install-site DIR`` or ``remove-site DIR``."""
    if len(argv) != 2 or argv[0] not in ('install-site', 'remove-site'):
        print('usage: mmcv_ops_stub.py {install-site|remove-site} SITE_PACKAGES_DIR',
              file=sys.stderr)
        return 2
    (write_site_files if argv[0] == 'install-site' else remove_site_files)(argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
