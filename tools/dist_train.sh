#!/usr/bin/env sh
# Distributed training with tools/train.py: NPROC processes on this machine (one per GPU; CPU
# processes with the gloo backend on a machine without CUDA), started by torchrun.
#
#   tools/dist_train.sh CONFIG NPROC [tools/train.py options, e.g. --work-dir DIR --resume]
#
# Several machines: NNODES, NODE_RANK, MASTER_ADDR and PORT as torchrun's --nnodes, --node-rank,
# --master-addr and --master-port (same command on every machine). On one machine torchrun picks
# a free port itself unless PORT is set. PYTHON: the interpreter (default: python).
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
PYTHON=${PYTHON:-python}
TRAIN="$(dirname "$0")/train.py"
NNODES=${NNODES:-1}
if [ "$NNODES" -gt 1 ] || [ -n "${PORT:-}" ]; then
    RENDEZVOUS="--nnodes=$NNODES --node-rank=${NODE_RANK:-0} --master-addr=${MASTER_ADDR:-127.0.0.1} --master-port=${PORT:-29500}"
else
    RENDEZVOUS="--standalone"
fi
# shellcheck disable=SC2086  # RENDEZVOUS holds several options
exec "$PYTHON" -m torch.distributed.run $RENDEZVOUS --nproc-per-node="$NPROC" \
    "$TRAIN" "$CONFIG" --launcher pytorch "$@"
