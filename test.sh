#!/usr/bin/env bash
# Evaluate a run: sh test.sh work_dirs/<exp>/<run> [extra tools/test.py arguments]
# Finds the run's resolved config and latest checkpoint, prints mIoU and per-class IoU/accuracy,
# writes <run>/metrics.json and coloured predictions (PNG + GeoTIFF) to <run>/preds/.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: sh test.sh work_dirs/<exp>/<run> [tools/test.py options]" >&2
    [ $# -ge 1 ] && echo "error: run directory '$1' not found" >&2
    exit 2
fi
RUN_DIR="${1%/}"
shift
CONFIG="$RUN_DIR/config.py"
if [ ! -f "$CONFIG" ]; then
    echo "error: $CONFIG not found: give a run directory made by run_experiments.py" >&2
    exit 2
fi
if [ -f "$RUN_DIR/last_checkpoint" ]; then
    CHECKPOINT="$(cat "$RUN_DIR/last_checkpoint")"
    # the pointer may be absolute from another machine: fall back to the file in the run dir
    [ -f "$CHECKPOINT" ] || CHECKPOINT="$RUN_DIR/$(basename "$CHECKPOINT")"
else
    CHECKPOINT="$(ls -1v "$RUN_DIR"/iter_*.pth 2>/dev/null | tail -n 1 || true)"
fi
if [ -z "$CHECKPOINT" ] || [ ! -f "$CHECKPOINT" ]; then
    echo "error: no checkpoint (iter_N.pth) in $RUN_DIR: train first or resume the run" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python}"
[ -x "$HERE/.venv/bin/python" ] && PYTHON="$HERE/.venv/bin/python"
echo "config: $CONFIG"
echo "checkpoint: $CHECKPOINT"
exec "$PYTHON" "$HERE/tools/test.py" "$CONFIG" "$CHECKPOINT" \
    --work-dir "$RUN_DIR/test" --show-dir "$RUN_DIR/preds" --metrics-json "$RUN_DIR/metrics.json" "$@"
