#!/usr/bin/env bash
# Submits the array form of the fleet check and the report after it; prints both job ids
# ("ARRAY_ID REPORT_ID"). Extra arguments go to the array job's sbatch (e.g. --gpus-per-node=8).
#
#   deploy/slurm/submit-array.sh NODES [sbatch options…]
#
# MATBENCH_RESULTS_DIR (default: ./results/fleet-<date>) must be a directory every node sees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nodes=${1:?how many nodes (array tasks)}
shift
export MATBENCH_RESULTS_DIR=${MATBENCH_RESULTS_DIR:-$PWD/results/fleet-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$MATBENCH_RESULTS_DIR"
array=$(sbatch --parsable --export=ALL --array="0-$((nodes - 1))" "$@" "$here/matbench-array.sbatch")
array=${array%%;*}
report=$(sbatch --parsable --export=ALL --dependency="afterany:$array" "$here/matbench-report.sbatch")
echo "$array ${report%%;*}"
