#!/usr/bin/env bash
# Distributed testing on one or several nodes with torchrun.
#
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
#
# Environment: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR
# (127.0.0.1), PYTHON (python). GPUS is the number of processes per node;
# on a machine without CUDA they run on the CPU with gloo.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args]" >&2
    exit 2
fi

CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${GPUS}" \
    --master_port="${PORT}" \
    "${REPO_ROOT}/tools/test.py" \
    "${CONFIG}" \
    "${CHECKPOINT}" \
    --launcher pytorch "${@:4}"
