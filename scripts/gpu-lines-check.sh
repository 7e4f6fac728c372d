#!/usr/bin/env bash
# The checksums' two bounds on the GPU machine (verify::line_bounds): every row and column sum
# within the tolerance, and within the spread of its repetition's median error. Healthy runs in
# every dtype at several n (how close each comes to each bound), then a zeroed 64x64 tile at
# n where the tensor cores' common share hides it under the tolerance: the spread must catch it.
#
#   with the device tool, carry [".device"]: bash scripts/gpu-lines-check.sh
set -uo pipefail
B=${MATBENCH:-.device/release/matbench}
OUT=${OUT:-/tmp/lines-check}
mkdir -p "$OUT"
cat > "$OUT/lines.py" <<'PY'
import json, sys
v = json.load(sys.stdin)
l = v["verification"]["line_sums"]
f = (l.get("failures") or [{}])[0]
print(f"{sys.argv[1]}: exit {sys.argv[2]}, {v['matmul_tflop_per_s']:.1f} TFLOP/s, lines {l['max_rel_error']:.2e}/{l['tolerance']:.2e}"
      f" spread {l['max_spread']:.2e}/{l['spread']:.2e}, failed {l['failed_repetitions']}"
      + (f": rep {f['repetition']} rows {f['rows'][:2]}..({f['rows_failed']}) cols ({f['columns_failed']})"
         f" max_rel {f['max_rel_error']:.2e} max_spread {f.get('max_spread')} bitwise={f['bitwise']}" if f else ""))
PY
run() { # label, then matbench arguments
  local label=$1; shift
  "$B" "$@" --line-sums all --format json --no-save > "$OUT/run.json" 2>"$OUT/run.err"
  local code=$?
  python3 "$OUT/lines.py" "$label" "$code" < "$OUT/run.json" 2>/dev/null || { echo "$label: exit $code"; head -2 "$OUT/run.err"; }
}
echo "== healthy runs"
for d in f32 f64 tf32 bf16 f16 fp8; do
  for n in 4096 16384; do run "$d n=$n" gpu $n --dtype $d --reps 5; done
done
for d in tf32 bf16 f16 fp8; do run "$d n=32768" gpu 32768 --dtype $d --reps 3 --warmup 1; done
for d in tf32 bf16 f16 fp8; do run "$d n=65536" gpu 65536 --dtype $d --reps 2 --warmup 1; done
echo "== a zeroed 64x64 tile in repetition 2 (the first measured)"
for d in tf32 f16; do
  for n in 32768 65536; do
    MATBENCH_INJECT_FAULT=2:tile:5000:7000 run "$d n=$n tile" gpu $n --dtype $d --reps 2 --warmup 1
  done
done
MATBENCH_INJECT_FAULT=2:tile:5000:7000 run "bf16 n=16384 tile" gpu 16384 --dtype bf16 --reps 2 --warmup 1
MATBENCH_INJECT_FAULT=2:tile:5000:7000 run "fp8 n=8192 tile" gpu 8192 --dtype fp8 --reps 2 --warmup 1
