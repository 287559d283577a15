#!/usr/bin/env bash
# End-to-end demo: a labelled synthetic source -> a real, unlabelled Sentinel-2 patch.
#   generate (calibrated, false-colour source) -> convert -> cut the real patch into a target set
#   -> train source-only -> adapt with the recommended recipe to the real patch -> test both on the
#   synthetic target tiles -> map the real patch with both -> score both against its land-cover mask.
# Every step is skipped when its output already exists, so an interrupted demo can be re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # no spinning OpenMP threads on shared cores
SOURCE_ONLY=configs/daspm/synthetic_nir_source-only_daformer_mitb0.py
DASPM=configs/daspm/synthetic_nir_to_real_uda_warm_mic_daformer_mitb0.py
DATA=data/synthetic_nir          # the configs' data roots
REAL=demo/real_target            # eo-learn patch (MIT licence, see its README) and its land-cover mask
SOURCE_ONLY_ITERS=${SOURCE_ONLY_ITERS:-400}
DASPM_ITERS=${DASPM_ITERS:-200}

# the benchmark's data size (18 synthetic target test tiles); the source as NIR/red/green, because
# at 10 m forest and water look alike in RGB (docs/synthetic_dataset.md, profile sentinel2-nir)
if [[ ! -f $DATA/synthetic_dataset.json ]]; then
    $PY tools/make_synthetic_dataset.py $DATA --num-source 32 --num-target 48 --splits 0.5,0.125,0.375 \
        --spectra sentinel2-nir
fi
$PY tools/convert_datasets/gaofen2m.py $DATA/gaofen --nproc 2
$PY tools/convert_datasets/sentinel10m.py $DATA/sentinel --nproc 2
$PY tools/make_real_target.py $REAL/s2_b2_b3_b4_b8_10m.tif -o data/real_target

schedule() {  # cfg-options of a run of $1 iterations (validated and saved at its end)
    echo "train_cfg.max_iters=$1 train_cfg.val_interval=$1 param_scheduler.1.end=$1 default_hooks.checkpoint.interval=$1"
}

train() {  # train CONFIG [cfg-options...] once into work_dirs/demo; print its run directory
    local config=$1 run
    shift
    run=$(ls -1d work_dirs/demo/*_"$(basename "$config" .py)"_* 2>/dev/null | tail -n 1 || true)
    if [[ -z $run ]]; then
        $PY run_experiments.py --config "$config" --exp-name demo --cfg-options "$@" >&2
        run=$(ls -1d work_dirs/demo/*_"$(basename "$config" .py)"_* | tail -n 1)
    else
        echo "continuing run $run (returns at once when it has finished)" >&2
        $PY run_experiments.py --resume "$run" >&2
    fi
    echo "$run"
}

echo "== 1/2 source-only: $SOURCE_ONLY_ITERS iterations on the labelled synthetic source"
SO_RUN=$(train $SOURCE_ONLY $(schedule "$SOURCE_ONLY_ITERS"))
bash test.sh "$SO_RUN"

echo "== 2/2 DASPM (warm start, MIC): $DASPM_ITERS UDA iterations from the source-only model, target: the real patch"
UDA_RUN=$(train $DASPM $(schedule "$DASPM_ITERS") "model.model.init_cfg.checkpoint=$(cat "$SO_RUN/last_checkpoint")")
bash test.sh "$UDA_RUN"

echo
echo "== the synthetic target's $(wc -l < $DATA/sentinel/splits/test.txt) test tiles (DASPM adapted to the real patch, not to these)"
$PY tools/compare_runs.py "$SO_RUN" "$UDA_RUN" --names source-only DASPM
echo
echo "== the real Sentinel-2 patch against its land-cover mask ($REAL/lulc_10m.tif)"
$PY tools/eval_landcover.py --mask $REAL/lulc_10m.tif --runs source-only="$SO_RUN" DASPM="$UDA_RUN" \
    --out-dir work_dirs/demo/real_patch
$PY -m demo.image_demo $REAL/s2_b2_b3_b4_b8_10m.tif "$UDA_RUN/config.py" "$(cat "$UDA_RUN/last_checkpoint")" \
    --out-dir "$UDA_RUN/demo"
echo "demo outputs in work_dirs/demo/real_patch (maps, landcover_eval.md) and $UDA_RUN/demo; metrics in $SO_RUN/metrics.json and $UDA_RUN/metrics.json"
