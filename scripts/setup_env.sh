#!/usr/bin/env bash
# Create or complete the project-local virtual environment in .venv (idempotent).
# Order matters: torch -> requirements -> OpenMMLab packages -> mmcv 2.1.0 compiled from
# source against that torch (CPU ops only: GPUs are hidden during the build).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DASPM_VENV:-.venv}"
PY_BOOT="${PYTHON:-python3.11}"
command -v "$PY_BOOT" >/dev/null 2>&1 || PY_BOOT=python3
STAMP="$VENV/.daspm-installed"
want_stamp="$(cat requirements.txt requirements-openmmlab.txt scripts/setup_env.sh | sha256sum | cut -c1-16)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    exit 0  # everything already installed for these requirements
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
"${PIP[@]}" install -q --upgrade pip wheel "setuptools>=77.0.3,<82"

TORCH_VERSION="${DASPM_TORCH_VERSION:-2.13.0}"
if "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "[setup] keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif [[ -n "${DASPM_TORCH_INDEX_URL:-}" ]]; then
    echo "[setup] installing torch $TORCH_VERSION from $DASPM_TORCH_INDEX_URL"
    "${PIP[@]}" install "torch==$TORCH_VERSION" --index-url "$DASPM_TORCH_INDEX_URL"
else
    # The registry's Linux wheels of torch are CUDA builds; a machine with a local CPU wheel
    # (pip's find-links) gets that one. Either way torch comes before everything else.
    echo "[setup] installing torch $TORCH_VERSION"
    "${PIP[@]}" install "torch==$TORCH_VERSION"
fi

echo "[setup] installing requirements"
"${PIP[@]}" install -q -r requirements.txt
"${PIP[@]}" install -q --no-deps -r requirements-openmmlab.txt

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" >/dev/null 2>&1; then
    echo "[setup] building mmcv 2.1.0 with CPU ops from source (about 11 min on 2 cores; pip caches the wheel)"
    CUDA_VISIBLE_DEVICES="" FORCE_CUDA=0 MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "${PIP[@]}" install --no-build-isolation --no-deps "mmcv==2.1.0"
fi

"$PY" - <<'PYCHECK'
import torch, mmcv, mmcv.ops, mmengine, mmseg, rasterio, kornia
print(f"[setup] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmseg {mmseg.__version__}, rasterio {rasterio.__version__}, kornia {kornia.__version__}")
PYCHECK
echo "$want_stamp" > "$STAMP"
