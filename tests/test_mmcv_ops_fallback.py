"""The stand-in for mmcv.ops (daspm/utils/mmcv_ops_stub.py): active only without compiled ops.

The suite runs in both kinds of environment: with mmcv-lite (the default set-up) the stand-in
serves mmcv.ops, with compiled mmcv (DASPM_MMCV_OPS=1) the real ops stay. Tests that need one
kind skip in the other; the finder's decisions are tested in-process in both by simulating a
missing compiled extension.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmseg.registry import MODELS

from conftest import REPO
from daspm.utils import mmcv_ops_stub as stub

COMPILED_OPS = importlib.util.find_spec('mmcv._ext') is not None
needs_stand_in = pytest.mark.skipif(COMPILED_OPS, reason='compiled mmcv ops installed: no stand-in')
needs_compiled = pytest.mark.skipif(not COMPILED_OPS, reason='mmcv-lite: no compiled ops')
SWITCH = 'DASPM_MMCV_OPS=1 make setup'
OPS_HEADS = {  # heads whose construction needs a compiled op class
    'PSAHead': dict(type='PSAHead', in_channels=8, channels=4, num_classes=3, mask_size=(8, 8)),
    'CCHead': dict(type='CCHead', in_channels=8, channels=16, num_classes=3),
}


def _run(code: str, cwd: Path, pythonpath: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter of this environment; its stdout."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath)) if pythonpath else None
    proc = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture
def simulated_lite(monkeypatch: pytest.MonkeyPatch):
    """mmcv.ops re-imported in this process as if mmcv._ext were missing; restored afterwards."""
    import mmcv
    import mmcv.ops  # noqa: F401  (so that monkeypatch records and restores the current one)

    for name in [n for n in sys.modules if n == 'mmcv.ops' or n.startswith('mmcv.ops.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(mmcv, 'ops')
    monkeypatch.setattr(stub, '_find_compiled_ext', lambda path: None)
    monkeypatch.setattr(sys, 'meta_path', [stub.MmcvOpsStubFinder()] + [
        f for f in sys.meta_path if not getattr(f, 'daspm_mmcv_ops_stub', False)])
    before = set(sys.modules)
    yield importlib.import_module('mmcv.ops')
    for name in set(sys.modules) - before:  # stand-ins imported by the test; monkeypatch
        if name.startswith('mmcv.ops'):      # then restores the modules it removed
            del sys.modules[name]


# --- the decision and the stand-ins, in every environment ---------------------------------

def test_should_serve_decides_by_compiled_extension_and_parent() -> None:
    assert stub.should_serve('mmcv.ops', lambda: False, parent_is_stub=False)
    assert not stub.should_serve('mmcv.ops', lambda: True, parent_is_stub=False)
    assert stub.should_serve('mmcv.ops.point_sample', lambda: True, parent_is_stub=True)
    assert not stub.should_serve('mmcv.ops.point_sample', lambda: False, parent_is_stub=False)
    for other in ('mmcv', 'mmcv._ext', 'mmcv.cnn', 'mmcv.opsx', 'mmseg.ops'):
        assert not stub.should_serve(other, lambda: False, parent_is_stub=True)


def test_finder_serves_only_without_compiled_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    finder = stub.MmcvOpsStubFinder()
    found = importlib.machinery.ModuleSpec('mmcv._ext', None)
    monkeypatch.setattr(stub, '_find_compiled_ext', lambda path: found)
    assert finder.find_spec('mmcv.ops', ['somewhere']) is None
    monkeypatch.setattr(stub, '_find_compiled_ext', lambda path: None)
    spec = finder.find_spec('mmcv.ops', ['somewhere'])
    assert spec is not None and spec.origin == stub.STUB_ORIGIN
    module = importlib.util.module_from_spec(spec)
    assert stub.is_stub(module) and module.__path__ == []
    assert finder.find_spec('mmcv.cnn', None) is None and finder.find_spec('torch', None) is None


def test_finder_serves_submodules_only_under_a_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    finder = stub.MmcvOpsStubFinder()
    monkeypatch.setattr(stub, '_find_compiled_ext', lambda path: None)
    parent = importlib.util.module_from_spec(finder.find_spec('mmcv.ops', []))
    monkeypatch.setitem(sys.modules, 'mmcv.ops', parent)
    assert finder.find_spec('mmcv.ops.multi_scale_deform_attn', []).origin == stub.STUB_ORIGIN
    monkeypatch.setitem(sys.modules, 'mmcv.ops', object())  # a real (non-stand-in) mmcv.ops
    assert finder.find_spec('mmcv.ops.multi_scale_deform_attn', []) is None


def test_compiled_extension_lookup_matches_this_install() -> None:
    import mmcv
    assert (stub._find_compiled_ext(mmcv.__path__) is not None) == COMPILED_OPS


def test_stand_ins_resolve_every_name_and_raise_one_clear_error() -> None:
    module = stub.StubModule('mmcv.ops')
    assert module.point_sample is module.point_sample  # one object per name
    for name in ('point_sample', 'sigmoid_focal_loss', 'CrissCrossAttention', 'PSAMask', 'nms'):
        with pytest.raises(RuntimeError) as err:
            getattr(module, name)(torch.zeros(1), size=3)
        assert str(err.value) == (f"mmcv.ops.{name} needs mmcv's compiled ops, which this install "
                                  f'does not have (mmcv-lite). Reinstall with compiled ops: {SWITCH}')
    # classes: isinstance() works (mmengine's DCN check) and a subclass cannot be built either
    assert not isinstance(torch.nn.Linear(1, 1), module.DeformConv2d)
    sub = type('MyDeformConv', (module.DeformConv2d,), {})
    with pytest.raises(RuntimeError, match='mmcv.ops.DeformConv2d needs'):
        sub(4, 4, 3)
    with pytest.raises(AttributeError):
        module.__file__  # noqa: B018  (introspection sees no stand-ins)
    with pytest.raises(AttributeError):
        module._private  # noqa: B018
    # mmcv.utils.collect_env calls these: answered, not failed
    assert module.get_compiler_version().startswith('n/a')


def test_install_is_idempotent_across_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, 'meta_path', [f for f in sys.meta_path
                                           if not getattr(f, 'daspm_mmcv_ops_stub', False)])
    assert stub.installed_finder() is None
    assert stub.install() and not stub.install()
    assert sum(getattr(f, 'daspm_mmcv_ops_stub', False) for f in sys.meta_path) == 1
    assert isinstance(sys.meta_path[0], stub.MmcvOpsStubFinder)
    stub.uninstall()

    class OtherCopy:  # the finder of the site-packages copy is a different class
        daspm_mmcv_ops_stub = True
    sys.meta_path.insert(0, OtherCopy())
    assert not stub.install() and stub.installed_finder().__class__ is OtherCopy


def test_simulated_missing_ops_serve_the_stand_in(simulated_lite) -> None:
    import mmcv
    assert stub.is_stub(simulated_lite) and mmcv.ops is simulated_lite
    from mmcv.ops import point_sample, sigmoid_focal_loss  # noqa: F401
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
    with pytest.raises(RuntimeError, match='DASPM_MMCV_OPS=1 make setup'):
        point_sample(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2))
    with pytest.raises(RuntimeError, match='multi_scale_deform_attn.MultiScaleDeformableAttention'):
        MultiScaleDeformableAttention()


def test_site_files_activate_the_stand_in_at_interpreter_start(tmp_path: Path) -> None:
    """What setup_env.sh writes into site-packages installs the finder before any import."""
    site_dir = tmp_path / 'site'
    site_dir.mkdir()
    stub.write_site_files(str(site_dir))
    assert (site_dir / f'{stub.SITE_MODULE}.pth').read_text().strip() == stub.PTH_LINE
    out = _run(f'import site, sys\nsys.meta_path[:] = [f for f in sys.meta_path if not getattr('
               f'f, "daspm_mmcv_ops_stub", False)]\nsite.addsitedir({str(site_dir)!r})\n'
               'print(sum(getattr(f, "daspm_mmcv_ops_stub", False) for f in sys.meta_path), '
               'type(sys.meta_path[0]).__module__, "daspm" in sys.modules)', cwd=tmp_path)
    assert out.split() == ['1', stub.SITE_MODULE, 'False']
    stub.remove_site_files(str(site_dir))
    assert list(site_dir.iterdir()) == []


# --- this environment, end to end ---------------------------------------------------------

def test_mmseg_imported_first_registers_models(tmp_path: Path) -> None:
    """mmseg first, nothing of ours imported explicitly (as mmseg's tools/train.py does)."""
    out = _run('import sys, mmseg.models, mmcv.ops\n'
               'from mmseg.registry import MODELS\n'
               'print(all(n in MODELS.module_dict for n in ("PSPHead", "PointHead", "PSAHead")), '
               'mmcv.ops.__spec__.origin == "daspm-mmcv-ops-stub", '
               'any(m == "daspm" or m.startswith("daspm.") for m in sys.modules))', cwd=tmp_path)
    assert out.split() == ['True', str(not COMPILED_OPS), 'False']


def test_daspm_imported_first_without_site_files(tmp_path: Path) -> None:
    """The fallback: no finder from a .pth, then ``import daspm``, then mmseg."""
    out = _run('import sys\nsys.meta_path[:] = [f for f in sys.meta_path if not getattr('
               'f, "daspm_mmcv_ops_stub", False)]\n'
               'import daspm, mmseg.models\nfrom mmseg.registry import MODELS\n'
               'print("PointHead" in MODELS.module_dict)', cwd=tmp_path, pythonpath=REPO)
    assert out.split() == ['True']


@needs_stand_in
def test_stand_in_point_sample_raises_the_clear_error() -> None:
    import mmcv.ops
    assert stub.is_stub(mmcv.ops)
    from mmcv.ops import point_sample
    with pytest.raises(RuntimeError) as err:
        point_sample(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2))
    assert 'mmcv.ops.point_sample' in str(err.value) and SWITCH in str(err.value)


@needs_stand_in
@pytest.mark.parametrize('head', sorted(OPS_HEADS))
def test_heads_that_need_ops_fail_with_the_clear_error(head: str) -> None:
    with pytest.raises(RuntimeError, match=SWITCH):
        MODELS.build(OPS_HEADS[head])([torch.rand(1, 8, 8, 8)])


@needs_stand_in
def test_point_head_fails_at_forward_with_the_clear_error() -> None:
    point_head = MODELS.build(dict(type='PointHead', in_channels=[8], in_index=[0], channels=4,
                                   num_classes=3))  # builds: point_sample is only called
    with pytest.raises(RuntimeError, match='mmcv.ops.point_sample needs .*' + SWITCH):
        point_head._get_coarse_point_feats(torch.rand(1, 3, 8, 8), torch.rand(1, 5, 2))


@needs_compiled
def test_compiled_ops_are_not_replaced() -> None:
    import mmcv.ops
    assert not stub.is_stub(mmcv.ops)
    assert mmcv.ops.point_sample.__module__ == 'mmcv.ops.point_sample'
    mmcv_path = list(sys.modules['mmcv'].__path__)
    assert stub.MmcvOpsStubFinder().find_spec('mmcv.ops', mmcv_path) is None
    head = MODELS.build(OPS_HEADS['PSAHead'])  # a compiled CPU op runs
    assert head([torch.rand(1, 8, 8, 8)]).shape == (1, 3, 8, 8)
