#!/usr/bin/env bash
# End-to-end demo on the embedded synthetic data: generate -> convert -> train -> test -> map.
# Every step is skipped when its output already exists, so an interrupted demo can be re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CONFIG=configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py
DATA=data/synthetic

if [[ ! -f $DATA/synthetic_dataset.json ]]; then
    $PY tools/make_synthetic_dataset.py $DATA
fi
$PY tools/convert_datasets/gaofen2m.py $DATA/gaofen --nproc 2
$PY tools/convert_datasets/sentinel10m.py $DATA/sentinel --nproc 2

RUN=$(ls -1d work_dirs/demo/*_"$(basename $CONFIG .py)"_* 2>/dev/null | tail -n 1 || true)
if [[ -z $RUN ]]; then
    $PY run_experiments.py --config $CONFIG --exp-name demo
    RUN=$(ls -1d work_dirs/demo/*_"$(basename $CONFIG .py)"_* | tail -n 1)
else
    echo "continuing run $RUN (returns at once when it has finished)"
    $PY run_experiments.py --resume "$RUN"
fi
bash test.sh "$RUN"

IMAGE=$DATA/sentinel/images/$(head -n 1 $DATA/sentinel/splits/test.txt).tif
$PY -m demo.image_demo "$IMAGE" "$RUN/config.py" "$(cat "$RUN/last_checkpoint")" --out-dir "$RUN/demo"
# the real Sentinel-2 patch shipped in demo/ (a synthetic-data model: its classes mean little there)
$PY -m demo.image_demo demo/demo_s2_10m.tif "$RUN/config.py" "$(cat "$RUN/last_checkpoint")" --out-dir "$RUN/demo"
echo "demo outputs in $RUN/demo and $RUN/preds; metrics in $RUN/metrics.json"
