#!/usr/bin/env bash
# fp8 on the GPU machine, in one call: its GPU tests, the errors it measures against its
# tolerances at every size of the issue, a same-call comparison with torch._scaled_mm, and
# --algo search's regret for fp8.
#
#   on a development machine: build the release binary and the `gpu` test executable into
#   .device/release/ (docs/gpu-testing.md), then with the device tool, carry [".device"]:
#   bash scripts/gpu-fp8-check.sh
#
# Prints one line per figure; the records are left in $OUT (or /tmp/fp8-check).
set -uo pipefail
B=${MATBENCH:-.device/release/matbench}
OUT=${OUT:-/tmp/fp8-check}
SIZES=${SIZES:-8192 10000 12288 16384 20480}
mkdir -p "$OUT"
XDG_CACHE_HOME=$(mktemp -d)
export XDG_CACHE_HOME
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader

cat > "$OUT/summary.py" <<'EOF'
import json, sys
v = json.load(sys.stdin)
ver = v["verification"]
l = ver.get("line_sums") or {}
mm = v["math_mode"]
algo = mm.split("first algorithm: ")[-1].split(";")[0] if "first algorithm" in mm else ""
nan = float("nan")
print(f"{sys.argv[1]}: {v['matmul_tflop_per_s']:.1f} TFLOP/s (median {v['matmul']['median_s'] * 1e3:.3f} ms)"
      f" passed={ver['passed']} sum {ver['sum_rel_error']:.2e}/{ver['sum_tolerance']:.2e}"
      f" elements {ver['max_element_rel_error']:.2e}/{ver['element_tolerance']:.2e}"
      f" lines {l.get('max_rel_error') or nan:.2e}/{l.get('tolerance') or nan:.2e}"
      f" bitwise={l.get('bitwise_compared')} every={l.get('checked_every')} share={l.get('share_of_matmul')} [{algo}]")
EOF
cat > "$OUT/search.py" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
a = v["algo"]
c = a["candidates"]
print(f"search fp8 n={sys.argv[2]}: exit {sys.argv[3]}, {len(c)} candidates, chosen {a['chosen']} ({c[a['chosen']]['name'][:70]}), "
      f"default {a['default_median_s'] * 1e3:.3f} ms, best {a['best_median_s'] * 1e3:.3f} ms, regret {100 * a['regret']:.1f}%, "
      f"run {v['matmul_tflop_per_s']:.1f} TFLOP/s passed={v['verification']['passed']}")
EOF
summary() { python3 "$OUT/summary.py" "$1" 2>&1 | tail -1; }

echo "== 0. one small fp8 run, with cuBLASLt's errors and hints (CUBLASLT_LOG_MASK=5)"
CUBLASLT_LOG_MASK=5 "$B" gpu 1024 --dtype fp8 --reps 3 --no-save 2>&1 | tail -n 25

echo "== 1. GPU tests (fp8, the checksums in every dtype, --algo search, tensor-core dtypes)"
for t in .device/release/deps/gpu-*; do
  "$t" --include-ignored --test-threads 1 fp8 every_element algo_search tensor_core half_matrices \
    > "$OUT/tests.log" 2>&1
  echo "exit $? $(grep -E '^test result' "$OUT/tests.log")"
  grep -E 'FAILED|panicked' "$OUT/tests.log" | head -20
done

echo "== 2. errors against the tolerances, --line-sums all (every repetition), 10 repetitions"
for n in 2048 4096 $SIZES; do
  "$B" gpu "$n" --dtype fp8 --line-sums all --reps 10 --format json --no-save > "$OUT/err-$n.json" 2>"$OUT/err-$n.err"
  echo "exit $? $(summary "fp8 n=$n" < "$OUT/err-$n.json")"
done
for n in 10000 16384; do
  "$B" gpu "$n" --dtype bf16 --line-sums all --reps 10 --format json --no-save > "$OUT/bf16-$n.json" 2>/dev/null
  echo "exit $? $(summary "bf16 n=$n" < "$OUT/bf16-$n.json")"
done

echo "== 3. matbench and torch._scaled_mm, same call, two interleaved rounds"
cat > "$OUT/torch_fp8.py" <<'EOF'
import statistics, sys, torch
one = torch.ones((), device="cuda")
for n in map(int, sys.argv[1:]):
    a = torch.rand(n, n, device="cuda").to(torch.float8_e4m3fn)
    for fast in (False, True):
        f = lambda: torch._scaled_mm(a, a.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=fast)
        for _ in range(5):
            f()
        torch.cuda.synchronize()
        ms = []
        for _ in range(30):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); f(); e.record(); torch.cuda.synchronize(); ms.append(s.elapsed_time(e))
        m = statistics.median(ms)
        print(f"torch._scaled_mm n={n} use_fast_accum={fast}: {2*n**3/m/1e9:.1f} TFLOP/s (median {m:.3f} ms, best {2*n**3/min(ms)/1e9:.1f})", flush=True)
    del a
EOF
for round in 1 2; do
  for n in $SIZES; do
    "$B" gpu "$n" --dtype fp8 --reps 30 --format json --no-save > "$OUT/run-$round-$n.json" 2>/dev/null
    echo "exit $? $(summary "round $round matbench fp8 n=$n" < "$OUT/run-$round-$n.json")"
  done
  python3 "$OUT/torch_fp8.py" $SIZES 2>&1 | grep -v Warning
done

echo "== 4. --algo search for fp8, then --algo default, n = 4096, 10000, 16384"
for n in 4096 10000 16384; do
  "$B" gpu "$n" --dtype fp8 --algo search --reps 20 --format json --no-save > "$OUT/search-$n.json" 2>"$OUT/search-$n.err"
  code=$?
  python3 "$OUT/search.py" "$OUT/search-$n.json" "$n" "$code" || head -3 "$OUT/search-$n.err"
  "$B" gpu "$n" --dtype fp8 --reps 20 --format json --no-save > "$OUT/default-$n.json" 2>/dev/null
  echo "exit $? $(summary "default fp8 n=$n" < "$OUT/default-$n.json")"
done

echo "== 5. the existing figures with --algo default"
for d in f32 bf16; do
  "$B" gpu 10000 --dtype "$d" --format json --no-save > "$OUT/base-$d.json" 2>/dev/null
  echo "exit $? $(summary "$d n=10000" < "$OUT/base-$d.json")"
done
