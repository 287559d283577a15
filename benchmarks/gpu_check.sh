#!/usr/bin/env bash
# The GPU checks of distributed training / GPU steps on a fresh GPU machine, in one command that
# prints one table (targets: MiT-B5 UDA+FD step at crop 512, batch 2+2 <= 0.45 s on an H100-class
# GPU; GPU kernels >= 70 % of the step; bf16 faster than fp32; scene mapping >= 1.5x mmseg's slide
# inference at the same window and stride). About 6-8 minutes on an H100/H200.
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]      # OUT_DIR default: $OUT, else work_dirs/gpu_check
#
# GPU_CHECK_BUDGET_S (default 480) bounds the whole run: each step's time limit is cut to what is
# left, so the table is printed even when a step hangs. GPU_CHECK_ARCHIVE=FILE.tar.gz also packs
# OUT_DIR into one file after every step (for machines that return only a few files).
# GPU_CHECK_ONLY="scene_fp32 step_bf16 ..." runs only the named steps (default: all).
# Compiling MiT-B5 with inductor needs minutes on a fresh machine, more than one 8-minute run leaves
# it: with about 15 minutes of device time, run the check twice, back to back (the second finds
# the packages installed while the machine is warm):
#     GPU_CHECK_ONLY="cuda_tests step_fp32 step_bf16 scene_fp32 scene_bf16 attention" GPU_CHECK_BUDGET_S=380 bash benchmarks/gpu_check.sh
#     GPU_CHECK_ONLY=step_bf16_compiled GPU_CHECK_BUDGET_S=420 bash benchmarks/gpu_check.sh
# GPU_CHECK_COMPILE_MODE=reduce-overhead (or another torch.compile mode) compiles in that mode.
#
# Set-up: a python3 with a CUDA build of torch (PYTHON=... to choose it). The other packages come
# from the machine's package index, or, without one, from the wheels in .whl/ that
# benchmarks/gpu_wheels.sh downloads on a machine with one. They are installed into a folder of
# their own (work_dirs/gpu_site or GPU_CHECK_SITE, put on PYTHONPATH; a venv over a python that is itself a venv
# would not see its torch); daspm is used from this working tree.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-work_dirs/gpu_check}}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
SITE="${GPU_CHECK_SITE:-$PWD/work_dirs/gpu_site}"  # absolute: PYTHONPATH and the sitecustomize outlive the cd
B5=configs/daspm/gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py
export PYTHONUNBUFFERED=1 PYTHONPATH="$SITE:$PWD"
log() { echo "[gpu_check $(date +%H:%M:%S)] $*"; }
DEADLINE=$((SECONDS + ${GPU_CHECK_BUDGET_S:-480} - 15))  # 15 s kept for the summary
archive() { [[ -z "${GPU_CHECK_ARCHIVE:-}" ]] || tar czf "$GPU_CHECK_ARCHIVE" -C "$OUT_DIR" . 2>/dev/null; }

log "set-up"
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA GPU visible to torch"' || exit 2
mkdir -p "$SITE"
pip_install=("$PY" -m pip install -q --no-compile --disable-pip-version-check --upgrade --target "$SITE")
# A second run on a machine still warm from the first finds the packages installed from the same
# wheels or requirements: it skips the install (about 30 s of the device time).
wanted=$(cat requirements.txt requirements-openmmlab.txt; ls .whl 2>/dev/null)
if [[ -f "$SITE/.installed" && "$(cat "$SITE/.installed")" == "$wanted" ]]; then
    log "packages already installed in $SITE"
else
    if compgen -G '.whl/*.whl' >/dev/null; then
        "${pip_install[@]}" --no-index --no-deps .whl/*.whl || exit 2
    else
        "${pip_install[@]}" -r <(grep -v -E '^(setuptools|pytest)' requirements.txt) 'setuptools>=77.0.3,<82' || exit 2
        "${pip_install[@]}" --no-deps -r requirements-openmmlab.txt || exit 2
    fi
    # The mmcv.ops stand-in is activated by a .pth file, which Python reads only in site directories:
    # a sitecustomize on PYTHONPATH makes the folder one.
    "$PY" daspm/utils/mmcv_ops_stub.py install-site "$SITE" || exit 2
    echo "import site; site.addsitedir('$SITE')" > "$SITE/sitecustomize.py"
    printf '%s' "$wanted" > "$SITE/.installed"
fi
"$PY" -c 'import mmseg, mmseg.models, torch, mmengine, mmcv.ops, daspm.register
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}, "
      f"mmseg {mmseg.__version__}, mmengine {mmengine.__version__}")' | tee "$OUT_DIR/versions.txt" || exit 2
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$OUT_DIR/versions.txt"
log "set-up done in ${SECONDS}s"

selected() { [[ -z "${GPU_CHECK_ONLY:-}" || " $GPU_CHECK_ONLY " == *" $1 "* ]]; }

step() {  # name, seconds, command...: run with a time limit, log to OUT_DIR/name.log, never stop the script
    local name="$1" limit="$2"; shift 2
    selected "$name" || return 0
    local left=$((DEADLINE - SECONDS))
    (( left < limit )) && limit=$left
    if (( limit < 20 )); then
        echo "$name: skipped, the run's time budget is spent" | tee -a "$OUT_DIR/failures.txt"
        return
    fi
    log "$name (limit ${limit}s)"
    timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    local rc=$?
    [[ $rc == 0 ]] || echo "$name: exit $rc (124: over ${limit}s); see $OUT_DIR/$name.log" | tee -a "$OUT_DIR/failures.txt"
    grep -v -E 'Warning|warn\(|^\s*$' "$OUT_DIR/$name.log" | tail -8
    archive
}

step cuda_tests 120 "$PY" -m pytest -q -p no:cacheprovider -x tests/test_cuda_path.py tests/test_optimizer_groups.py
common=(benchmarks/uda_step_cost.py --config "$B5" --device cuda --crop 512 --batch 2 --iters 5 --rounds 2
        --variants 'uda (with FD)' --profile --no-memory)
step step_fp32 120 "$PY" "${common[@]}" --json "$OUT_DIR/step_fp32.json"
step step_bf16 120 "$PY" "${common[@]}" --amp --json "$OUT_DIR/step_bf16.json"
# compiling takes the longest (MiT-B5 block by block: a graph per stage shape, with and without
# gradients): it gets what is left after the share of the later steps that are to run
later_share=0
selected scene_fp32 && later_share=$((later_share + 70))
selected scene_bf16 && later_share=$((later_share + 70))
selected attention && later_share=$((later_share + 45))
compile_mode=()
[[ -n "${GPU_CHECK_COMPILE_MODE:-}" ]] && compile_mode=(--compile-mode "$GPU_CHECK_COMPILE_MODE")
step step_bf16_compiled $((DEADLINE - SECONDS - later_share)) "$PY" "${common[@]}" --amp --compile "${compile_mode[@]}" \
    --json "$OUT_DIR/step_bf16_compiled.json"
scene=(benchmarks/scene_throughput.py --device cuda --model synthetic --size 4096 --window-size 512 --overlap 128
       --batch-size 8 --repeats 3 --work-dir work_dirs/gpu_check_scene --profile --forward-only)
step scene_fp32 90 "$PY" "${scene[@]}" --json "$OUT_DIR/scene_fp32.json" --profile-table "$OUT_DIR/scene_fp32_ops.txt"
step scene_bf16 90 "$PY" "${scene[@]}" --amp bf16 --json "$OUT_DIR/scene_bf16.json" \
    --profile-table "$OUT_DIR/scene_bf16_ops.txt"
# last: the MiT-B5 encoder with mmseg's attention vs the fused one (the configs' encoder), bf16
step attention 45 "$PY" benchmarks/attention_cost.py --variant b5 --crop 512 --batch 2 --amp --iters 5 --rounds 3 \
    --device cuda --json "$OUT_DIR/attention_bf16.json"

log "summary"
"$PY" benchmarks/gpu_summary.py "$OUT_DIR" | tee "$OUT_DIR/summary.txt"
archive
log "done in ${SECONDS}s"
