#!/usr/bin/env bash
# Download, here, the wheels that benchmarks/gpu_check.sh installs on a GPU machine that cannot reach
# a package index: the packages DASPM needs beyond a CUDA torch, for CPython 3.12 on x86-64 Linux,
# into .whl/ (ignored by git; about 50 MB). Then carry .whl with the working tree.
#     bash benchmarks/gpu_wheels.sh            # PYTHON=... picks the pip that downloads (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
DEST=.whl
PY_VERSION="${GPU_PYTHON_VERSION:-3.12}"
mkdir -p "$DEST"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
# The pins of requirements-openmmlab.txt, and requirements.txt's packages that a machine with a
# scientific Python image usually lacks (numpy, scipy, OpenCV, matplotlib, pytest are there).
packages=(
    $(grep -E '^[a-z]' requirements-openmmlab.txt | cut -d' ' -f1)
    'setuptools>=77.0.3,<82' 'rasterio>=1.4' affine cligj click-plugins 'kornia>=0.7' kornia_rs
    addict yapf platformdirs termcolor prettytable ftfy wcwidth
)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
    "${platforms[@]}" -d "$DEST" "${packages[@]}"
echo "wheels in $DEST: $(ls "$DEST" | wc -l) files, $(du -sh "$DEST" | cut -f1); carry .whl to the GPU machine"
