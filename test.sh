#!/usr/bin/env bash
# Evaluate a run: sh test.sh work_dirs/<exp>/<run> [extra tools/test.py options]
# Same as `daspm-test work_dirs/<exp>/<run>` (daspm/cli/test.py): finds the run's resolved config
# and latest checkpoint, prints mIoU and per-class IoU/accuracy, writes <run>/metrics.json and
# coloured predictions (PNG + GeoTIFF) to <run>/preds/.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: sh test.sh work_dirs/<exp>/<run> [tools/test.py options]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python}"
[ -x "$HERE/.venv/bin/python" ] && PYTHON="$HERE/.venv/bin/python"
exec "$PYTHON" "$HERE/tools/test.py" "$@"
