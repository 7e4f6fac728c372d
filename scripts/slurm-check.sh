#!/usr/bin/env bash
# A real Slurm cluster on this machine, and the fleet check of deploy/slurm/ run on it.
#
#   bash scripts/slurm-check.sh [MATBENCH_BINARY]     (as root; .ci/run calls it)
#
# Installs Slurm and munge from the distribution's packages when missing, starts munged, a
# controller and one slurmd per node (NODES, default 3) — each with its own node name, port and
# spool directory — from a configuration generated in a scratch directory, submits the fleet
# script in its CPU form as an array job and the report job after it, waits for both, checks
# every record and the report, and stops the daemons it started by their pids.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath "${1:-$top/target/debug/matbench}")
NODES=${NODES:-3}
[ "$(id -u)" = 0 ] || { echo "slurm-check: needs root (munge and slurmd run as root here)" >&2; exit 1; }
[ -x "$B" ] || { echo "slurm-check: no matbench binary at $B (cargo build first)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge) >/dev/null
fi

scratch=$(mktemp -d /var/tmp/matbench-slurm.XXXXXX)
chmod 755 "$scratch"
pids=()
stop() {
  for f in "$scratch"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$scratch"
}
trap stop EXIT

# munge: its own key, socket and files in the scratch directory.
dd if=/dev/urandom of="$scratch/munge.key" bs=1024 count=1 status=none
chmod 400 "$scratch/munge.key"
munged --force --key-file="$scratch/munge.key" --socket="$scratch/munge.socket" \
  --pid-file="$scratch/munged.pid" --log-file="$scratch/munged.log" --seed-file="$scratch/munged.seed"
munge --socket="$scratch/munge.socket" -n | unmunge --socket="$scratch/munge.socket" >/dev/null

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / (NODES + 1) ))
export SLURM_CONF="$scratch/slurm.conf"
{
  echo "ClusterName=matbench-ci"
  echo "SlurmctldHost=$host(127.0.0.1)"
  echo "SlurmctldPort=16817"
  echo "AuthType=auth/munge"
  echo "CredType=cred/munge"
  echo "AuthInfo=socket=$scratch/munge.socket"
  echo "ProctrackType=proctrack/linuxproc"
  echo "TaskPlugin=task/none"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_Core"
  echo "SchedulerType=sched/backfill"
  echo "MpiDefault=none"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "ReturnToService=2"
  echo "StateSaveLocation=$scratch/state"
  echo "SlurmdSpoolDir=$scratch/spool-%n"
  echo "SlurmctldPidFile=$scratch/slurmctld.pid"
  echo "SlurmdPidFile=$scratch/slurmd-%n.pid"
  echo "SlurmctldLogFile=$scratch/slurmctld.log"
  echo "SlurmdLogFile=$scratch/slurmd-%n.log"
  echo "JobCompType=jobcomp/none"
  echo "AccountingStorageType=accounting_storage/none"
  echo "NodeName=node[1-$NODES] NodeHostname=$host NodeAddr=127.0.0.1 Port=17001-$((17000 + NODES)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
  echo "PartitionName=fleet Nodes=node[1-$NODES] Default=YES MaxTime=60 State=UP OverSubscribe=YES"
} > "$SLURM_CONF"
mkdir -p "$scratch/state"
slurmctld
for i in $(seq 1 "$NODES"); do slurmd -N "node$i"; done
for _ in $(seq 1 60); do
  idle=$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -c ' idle' || true)
  [ "$idle" -ge "$NODES" ] && break
  sleep 1
done
[ "$idle" -ge "$NODES" ] || { sinfo -N >&2; tail -5 "$scratch"/slurm*.log >&2; echo "slurm-check: the nodes did not come up" >&2; exit 1; }
echo "slurm-check: $NODES nodes idle (one slurmd each, slurm $(slurmd -V | awk '{print $2}'))"
cd "$scratch"
export MATBENCH="$B" MATBENCH_ARGS="cpu 128 --reps 3 --threads 1"

# 1. One task per node, then the report, in one job.
export MATBENCH_RESULTS_DIR="$scratch/per-node"
if ! sbatch --wait --quiet --nodes="$NODES" "$top/deploy/slurm/matbench-fleet.sbatch"; then
  cat "$scratch"/matbench-fleet-*.out >&2
  echo "slurm-check: the per-node fleet job failed" >&2
  exit 1
fi
sed -n '/^matbench report/,$p' "$scratch"/matbench-fleet-*.out

# 2. The array form, and the report job after it.
export MATBENCH_RESULTS_DIR="$scratch/array"
read -r array report < <("$top/deploy/slurm/submit-array.sh" "$NODES")
for _ in $(seq 1 120); do
  state=$(scontrol show job "$report" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
  case "$state" in JobState=COMPLETED|JobState=FAILED|JobState=CANCELLED|JobState=TIMEOUT) break ;; esac
  sleep 1
done
exitcode=$(scontrol show job "$report" | grep -o ' ExitCode=[0-9:]*' | tr -d ' ')
cat "$scratch"/matbench-report-"$report".out
[ "$state $exitcode" = "JobState=COMPLETED ExitCode=0:0" ] \
  || { cat "$scratch"/matbench-array-*.out >&2; echo "slurm-check: the report job ended $state $exitcode" >&2; exit 1; }

# 3. Every record: verified, named after its node, with its job's ids; the report saw them all.
python3 - "$NODES" "$scratch" "$array" <<'PY'
import json, pathlib, sys
nodes, scratch, array = int(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
for form in ("per-node", "array"):
    records = [json.loads(p.read_text()) for p in sorted((scratch / form).glob("*.json"))]
    assert len(records) == nodes, f"{form}: {len(records)} records for {nodes} tasks"
    ids = set()
    for r in records:
        job = r["host"]["job"]
        assert r["verification"]["passed"], f"{form}: a run failed verification"
        assert job["scheduler"] == "slurm" and job["node"] == r["host"]["hostname"], job
        assert r["host"]["hostname"].startswith("node"), r["host"]["hostname"]
        ids.add(job["task_id"] if form == "per-node" else job["array_task_id"])
        if form == "array":
            assert job["array_job_id"] == array, (job, array)
    assert ids == {str(i) for i in range(nodes)}, f"{form}: task ids {sorted(ids)}"
    if form == "per-node":
        hosts = {r["host"]["hostname"] for r in records}
        assert len(hosts) == nodes, f"one task per node, got {sorted(hosts)}"
out = (scratch / next(p.name for p in scratch.glob("matbench-fleet-*.out"))).read_text()
assert out.count("[slurm job") == nodes, out
print(f"slurm-check: {nodes} nodes, per-node and array forms: {2 * nodes} records verified, named "
      "after their nodes, with their job ids; both reports passed")
PY
