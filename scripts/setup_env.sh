#!/usr/bin/env bash
# Create or complete the project-local virtual environment in .venv (idempotent).
# Order matters: torch -> requirements -> OpenMMLab packages -> mmcv -> daspm (editable, no deps).
# Default: mmcv-lite 2.1.0 (pure Python, no compiler) plus a stand-in for mmcv.ops
# (daspm/utils/mmcv_ops_stub.py, activated at interpreter start by a .pth file), because
# mmseg imports mmcv.ops at module level though no model of this project runs a compiled op.
# DASPM_MMCV_OPS=1: mmcv 2.1.0 compiled from source with CPU ops instead (GPUs are hidden
# during the build), for the heads that need them (CCNet, PSANet, PointRend).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DASPM_VENV:-.venv}"
PY_BOOT="${PYTHON:-python3.11}"
command -v "$PY_BOOT" >/dev/null 2>&1 || PY_BOOT=python3
MMCV_OPS="${DASPM_MMCV_OPS:-0}"
if [[ "$MMCV_OPS" != 0 && "$MMCV_OPS" != 1 ]]; then
    echo "error: DASPM_MMCV_OPS must be 0 (mmcv-lite, default) or 1 (compile mmcv's ops), not '$MMCV_OPS'" >&2
    exit 2
fi
STUB_SRC=daspm/utils/mmcv_ops_stub.py  # the stand-in for mmcv.ops; it installs itself
STAMP="$VENV/.daspm-installed"
# The mode is part of the stamp: switching DASPM_MMCV_OPS reinstalls the matching mmcv.
want_stamp="$( { cat requirements.txt requirements-openmmlab.txt pyproject.toml scripts/setup_env.sh "$STUB_SRC"
                 echo "mmcv_ops=$MMCV_OPS"; } | sha256sum | cut -c1-16)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    exit 0  # everything already installed for these requirements and this mode
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "[setup] creating virtual environment $VENV with $PY_BOOT"
    if [[ "${DASPM_SYSTEM_TORCH:-0}" == "1" ]]; then
        # reuse a torch (e.g. a CUDA build) installed in the interpreter's own site-packages
        "$PY_BOOT" -m venv --system-site-packages "$VENV"
    else
        "$PY_BOOT" -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
# --no-compile: byte-compiling every file of torch & co. at install time took most of a fresh
# setup (torch: 69 s vs 15 s); Python compiles the modules it imports on first use instead.
INSTALL=("${PIP[@]}" install --no-compile)
"${INSTALL[@]}" -q --upgrade pip wheel "setuptools>=77.0.3,<82"

TORCH_VERSION="${DASPM_TORCH_VERSION:-2.13.0}"
if "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "[setup] keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif [[ -n "${DASPM_TORCH_INDEX_URL:-}" ]]; then
    echo "[setup] installing torch $TORCH_VERSION from $DASPM_TORCH_INDEX_URL"
    "${INSTALL[@]}" "torch==$TORCH_VERSION" --index-url "$DASPM_TORCH_INDEX_URL"
else
    # The registry's Linux wheels of torch are CUDA builds; a machine with a local CPU wheel
    # (pip's find-links) gets that one. Either way torch comes before everything else.
    echo "[setup] installing torch $TORCH_VERSION"
    "${INSTALL[@]}" "torch==$TORCH_VERSION"
fi

echo "[setup] installing requirements"
"${INSTALL[@]}" -q -r requirements.txt

has_dist() { "$PY" -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' "$1" >/dev/null 2>&1; }
# mmcv and mmcv-lite install the same mmcv/ folder: switching removes both, then installs one.
remove_mmcv() {
    local d dists=()
    for d in mmcv mmcv-lite; do has_dist "$d" && dists+=("$d"); done
    "${PIP[@]}" uninstall -q -y "${dists[@]}"
}
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

if [[ "$MMCV_OPS" == 0 ]]; then
    if has_dist mmcv; then
        echo "[setup] replacing mmcv (compiled ops) by mmcv-lite (DASPM_MMCV_OPS=1 keeps compiled ops)"
        remove_mmcv
    fi
    "${INSTALL[@]}" -q --no-deps -r requirements-openmmlab.txt
    # The stand-in for mmcv.ops: a copy in site-packages and a .pth file that activates it at
    # interpreter start, before anything (mmseg's tools included) imports mmcv.ops.
    "$PY" "$STUB_SRC" install-site "$SITE"
else
    "$PY" "$STUB_SRC" remove-site "$SITE"
    if has_dist mmcv-lite; then
        echo "[setup] removing mmcv-lite for mmcv with compiled ops"
        remove_mmcv
    fi
    # requirements-openmmlab.txt without its mmcv-lite line
    "${INSTALL[@]}" -q --no-deps -r <(grep -v -E '^[[:space:]]*mmcv-lite' requirements-openmmlab.txt)
    if ! "$PY" -c "import importlib.util as u, mmcv, mmcv.ops
assert mmcv.__version__ == '2.1.0' and u.find_spec('mmcv._ext')" >/dev/null 2>&1; then
        echo "[setup] building mmcv 2.1.0 with CPU ops from source (about 11 min on 2 cores; pip caches the wheel)"
        CUDA_VISIBLE_DEVICES="" FORCE_CUDA=0 MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" install --no-build-isolation --no-deps "mmcv==2.1.0"
    fi
fi

# The package itself, editable (code edits need no reinstall) and without dependencies (the
# stack above is pinned and ordered). No build isolation: pip uses the setuptools installed
# above instead of downloading one into a temporary environment, so this also works offline.
echo "[setup] installing daspm (editable) and its commands daspm-train, daspm-test, daspm-map, daspm-convert"
# Its output only on failure: setuptools warns about the package folder in the working
# directory at every editable install, though here that folder is the package itself.
if ! log="$("${INSTALL[@]}" -q --no-deps --no-build-isolation -e . 2>&1)"; then
    echo "$log" >&2
    exit 1
fi

# -P: the current directory is not on the path, so `import daspm` below must come from the install.
"$PY" -P - "$MMCV_OPS" "$PWD" <<'PYCHECK'
import importlib.util, sys
from pathlib import Path
# mmseg first, as mmseg's own tools do: the stand-in must already be active.
import mmseg, mmseg.models, torch, mmcv, mmcv.ops, mmengine, rasterio, kornia
compiled = importlib.util.find_spec('mmcv._ext') is not None
stand_in = getattr(mmcv.ops.__spec__, 'origin', None) == 'daspm-mmcv-ops-stub'
assert compiled == (sys.argv[1] == '1') and stand_in != compiled, (compiled, stand_in)
import daspm, daspm.register  # every component registers; Python caches the bytecode once, here
here = Path(sys.argv[2], 'daspm').resolve()
assert Path(daspm.__file__).resolve().parent == here, f'import daspm finds {daspm.__file__}, not {here}'
ops = 'compiled' if compiled else 'stand-in (mmcv-lite; DASPM_MMCV_OPS=1 make setup compiles them)'
print(f"[setup] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmseg {mmseg.__version__}, rasterio {rasterio.__version__}, kornia {kornia.__version__}; "
      f"mmcv ops: {ops}; daspm {daspm.__version__} from {here.parent}")
PYCHECK
echo "$want_stamp" > "$STAMP"
