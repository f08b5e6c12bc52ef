#!/usr/bin/env bash
# Testing on a Slurm cluster.
#
#   [GPUS=4] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
#
# PYTHON selects the interpreter (default: python).
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]" >&2
    exit 2
fi

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-4}
if [ -z "${GPUS_PER_NODE:-}" ]; then
    GPUS_PER_NODE=$(( GPUS < 8 ? GPUS : 8 ))
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# SRUN_ARGS is split into words on purpose (e.g. "--qos=high --time=1:00:00").
# shellcheck disable=SC2086
PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON:-python}" -u "${REPO_ROOT}/tools/test.py" "${CONFIG}" \
    "${CHECKPOINT}" --launcher slurm "${@:5}"
