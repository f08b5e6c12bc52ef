#!/usr/bin/env bash
# Distributed training on one or several nodes with torchrun.
#
#   tools/dist_train.sh CONFIG GPUS [train.py args]
#
# Environment: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR
# (127.0.0.1), PYTHON (python). GPUS is the number of processes per node;
# on a machine without CUDA they run on the CPU with gloo. A rank that
# waits for a stuck one longer than env_cfg.dist_cfg.timeout seconds (300
# by default) fails instead of hanging; torchrun sets
# TORCH_NCCL_ASYNC_ERROR_HANDLING=1, which NCCL needs for that.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args]" >&2
    exit 2
fi

CONFIG=$1
GPUS=$2
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
    "${REPO_ROOT}/tools/train.py" \
    "${CONFIG}" \
    --launcher pytorch "${@:3}"
