#!/usr/bin/env bash
# Count the warning lines of a UDA run's log: 4 iterations of the synthetic UDA config on a tiny
# generated dataset (6 + 6 tiles of 80 x 80), in a temporary folder.
#     bash benchmarks/uda_log_warnings.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
D="$TMP/data"
"$PY" tools/make_synthetic_dataset.py "$D" --tile-size 80 --num-source 6 --num-target 6 --seed 1 --quiet >/dev/null
"$PY" tools/convert_datasets/gaofen2m.py "$D/gaofen" >/dev/null 2>&1
"$PY" tools/convert_datasets/sentinel10m.py "$D/sentinel" >/dev/null 2>&1
options=(train_dataloader.dataset.source.data_root="$D/gaofen_converted"
         train_dataloader.dataset.target.data_root="$D/sentinel_converted"
         val_dataloader.dataset.data_root="$D/sentinel_converted"
         test_dataloader.dataset.data_root="$D/sentinel_converted"
         train_dataloader.dataset.rare_class_sampling.min_pixels=100
         train_cfg.max_iters=4 train_cfg.val_interval=4 default_hooks.checkpoint.interval=4
         default_hooks.logger.interval=1)
for loader in train val; do
    options+=("$loader"_dataloader.num_workers=0 "$loader"_dataloader.persistent_workers=False)
done
"$PY" run_experiments.py --config configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py \
    --work-root "$TMP/runs" --exp-name w --cfg-options "${options[@]}" > "$TMP/console.txt" 2>&1
LOG="$(ls "$TMP"/runs/w/*/*/*.log)"
echo "log lines: $(wc -l < "$LOG")"
echo "WARNING lines: $(grep -c 'WARNING' "$LOG" || true)"
grep 'WARNING' "$LOG" | sed 's/^.* - WARNING - //' | cut -c1-60 | sed 's/[0-9]\+/N/g' | sort | uniq -c | sort -rn | head
