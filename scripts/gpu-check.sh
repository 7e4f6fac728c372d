#!/usr/bin/env bash
# The GPU machine's whole check in one call (device time is scarce): every test executable
# with --include-ignored, then the figures behind docs/performance.md, each next to its
# reference measured in the same call (PyTorch/cuBLAS on the GPU, numpy/OpenBLAS on the CPU).
#
#   on a development machine: build the release binary and test executables into .device/
#   (docs/gpu-testing.md), copy .device/ and scripts/ over;
#   on the GPU machine: bash scripts/gpu-check.sh
#
# Logs and the JSON records go to $OUT (default /tmp/matbench-out).
set -uo pipefail
OUT=${OUT:-/tmp/matbench-out}
mkdir -p "$OUT/records"
B=.device/release/matbench
export MATBENCH_RESULTS_DIR="$OUT/records"
export PYTHONUNBUFFERED=1
log() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

log "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
"$B" info > "$OUT/info.txt" 2>&1; cat "$OUT/info.txt"

# 1. Tests (unit, CLI, GPU) on the GPU machine.
fail=0
for t in .device/release/deps/*; do
  case "$(basename "$t")" in matmul-*) continue ;; esac
  if ! "$t" --include-ignored --test-threads 1 >> "$OUT/tests.log" 2>&1; then fail=1; log "TEST FAILED: $t"; fi
done
log "tests: $(grep -c '^test .* ok$' "$OUT/tests.log") ok, $(grep -c '^test .* FAILED$' "$OUT/tests.log") failed, $(grep -c '^SKIPPED' "$OUT/tests.log") skipped lines"

# Per-kernel device times of one run (Nsight Compute, clocks left alone).
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
if [ -x "$NCU" ]; then
  "$NCU" --clock-control none --metrics gpu__time_duration.sum "$B" gpu 10000 --warmup 0 --reps 1 --no-save > "$OUT/ncu.txt" 2>&1
  grep -E "^  [a-zA-Z_0-9]+.*\(|gpu__time_duration" "$OUT/ncu.txt" | sed 's/, Context.*//; s/ \+/ /g' | paste - - | tee -a "$OUT/summary.txt"
fi

# 2. Whole-process wall time and peak RSS (python's rusage: no /usr/bin/time there).
proc() { # label, args...
  local label=$1; shift
  python3 - "$label" "${B}" "$@" <<'PY' | tee -a "$OUT/summary.txt"
import resource, subprocess, sys, time, json
label, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
r = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
try:
    v = json.loads(r.stdout)
    p = v["phases"]
    print(f"{label}: rc={r.returncode} wall={wall:.3f}s rss={rss:.0f}MB startup={p['startup_s']*1e3:.1f}ms "
          f"generate={p['generate_s']*1e3:.3f}ms matmul_median={v['matmul']['median_s']*1e3:.3f}ms "
          f"({v['matmul_tflop_per_s']:.1f} TFLOP/s, GEMM-equiv {v.get('matmul_gemm_equivalent_tflop_per_s', 0):.1f}) reduce_median={v['reduce']['median_s']*1e3:.4f}ms "
          f"verify={p['verify_s']*1e3:.3f}ms script_time={p['script_time_taken_s']:.4f}s process={p['process_s']:.3f}s "
          f"pass={v['verification']['passed']} sum_err={v['verification']['sum_rel_error']:.2e} elem_err={v['verification']['max_element_rel_error']:.2e}")
    steps = p.get("startup_steps_s") or {}
    if steps:
        print("    startup steps: " + ", ".join(f"{k}={s*1e3:.1f}ms" for k, s in steps.items()) + f"; first matmul {v['matmul']['samples_s'][0]*1e3:.1f}ms")
    t = v.get("telemetry")
    if t:
        if t.get("unavailable"):
            print("    telemetry: " + t["unavailable"])
        else:
            print(f"    telemetry: SM {t['sm_clock_mhz']['median']:.0f} MHz (min {t['sm_clock_mhz']['min']:.0f}), {t['temperature_c']['max']:.0f} C max, {t['power_w']['median']:.0f} W median, energy {t.get('energy_j')} J, {t.get('tflop_per_s_per_w') or 0:.3f} TFLOP/s/W, throttled={t['throttled']} {t['throttle_reasons']}")
    vsteps = p.get("verify_steps_s") or {}
    print("    verify steps: " + ", ".join(f"{k}={s*1e3:.3f}ms" for k, s in vsteps.items()))
except Exception as e:
    print(f"{label}: rc={r.returncode} wall={wall:.3f}s rss={rss:.0f}MB (no JSON: {e}) {r.stderr.strip()[:300]}")
PY
}
for i in 1 2 3; do proc "gpu 10000 f32 default #$i" gpu 10000; done
for i in 1 2 3; do proc "gpu 10000 f32 --warmup 0 --reps 1 #$i" gpu 10000 --warmup 0 --reps 1; done
proc "gpu 1024 f32 (rss)" gpu 1024
proc "gpu 16384 f32 (rss)" gpu 16384
proc "gpu 4096 f32" gpu 4096
proc "gpu 10000 f64" gpu 10000 --dtype f64
for dt in tf32 bf16 f16; do proc "gpu 10000 $dt" gpu 10000 --dtype $dt; done
proc "gpu 16384 bf16" gpu 16384 --dtype bf16
proc "gpu 16384 f16" gpu 16384 --dtype f16
proc "gpu 10000 f32 syrk" gpu 10000 --op syrk
proc "gpu 10000 f64 syrk" gpu 10000 --op syrk --dtype f64
numpy_ref() { python3 - <<'PY' 2>&1 | tee -a "$OUT/summary.txt"
import time, numpy as np
try:
    import threadpoolctl; info = threadpoolctl.threadpool_info()
    print("numpy BLAS:", [(i.get("internal_api"), i.get("version"), i.get("num_threads"), i.get("architecture")) for i in info])
except Exception as e:
    print("threadpoolctl:", e)
for dt in (np.float32, np.float64):
    n = 4096
    a = np.random.rand(n, n).astype(dt); b = np.random.rand(n, n).astype(dt)
    a @ b.T
    ts = []
    for _ in range(5):
        t = time.perf_counter(); a @ b.T; ts.append(time.perf_counter() - t)
    m = sorted(ts)[2]
    print(f"numpy a@b.T n={n} {np.dtype(dt).name}: median {m*1e3:.1f} ms, {2*n**3/m/1e9:.0f} GFLOP/s")
PY
}
numpy_ref
proc "cpu 4096 f32 faer" cpu 4096 --reps 5
proc "cpu 4096 f64 faer" cpu 4096 --reps 5 --dtype f64
proc "cpu 4096 f32 faer syrk" cpu 4096 --reps 5 --op syrk
proc "cpu 4096 f32 matrixmultiply" cpu 4096 --reps 3 --cpu-engine matrixmultiply
proc "cpu 4096 f32 faer #2" cpu 4096 --reps 5
proc "cpu 4096 f64 faer #2" cpu 4096 --reps 5 --dtype f64
numpy_ref
proc "cpu 10000 f32 faer (seed job)" cpu 10000 --reps 3
gpus=$(nvidia-smi -L | wc -l)
if [ "$gpus" -ge 2 ]; then
  for dt in f32 bf16; do
    log "all $gpus GPUs, $dt, n = 16384:"
    "$B" gpu 16384 --gpu all --dtype "$dt" --check 2>&1 | tee -a "$OUT/summary.txt"
    "$B" gpu 16384 --gpu 0 --dtype "$dt" --no-save | grep -E "matmul +[0-9]|TFLOP/s|telemetry" | tee -a "$OUT/summary.txt"
  done
fi
log "sweep for the README chart (records in records.tgz under records/sweep):"
"$B" sweep --sizes 1024..16384 --devices cpu,gpu --dtypes f32 --reps 3 --warmup 1 --quiet \
  --results-dir "$OUT/records/sweep" 2>&1 | tee -a "$OUT/summary.txt"
"$B" gpu 10000 --no-save > "$OUT/example-gpu.txt" 2>&1
"$B" cpu 4096 --no-save > "$OUT/example-cpu.txt" 2>&1

# 3. References in the same call.
python3 - <<'PY' 2>&1 | tee -a "$OUT/summary.txt"
try:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    for dt, name, n, tf32 in ((torch.float32, "f32", 10000, False), (torch.float64, "f64", 10000, False),
                              (torch.float32, "tf32", 10000, True), (torch.bfloat16, "bf16", 10000, False),
                              (torch.float16, "f16", 10000, False), (torch.bfloat16, "bf16", 16384, False),
                              (torch.float16, "f16", 16384, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.rand(n, n, device="cuda", dtype=dt)
        for _ in range(3): c = a @ a.T
        torch.cuda.synchronize()
        ms = []
        for _ in range(10):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); c = a @ a.T; e.record(); torch.cuda.synchronize(); ms.append(s.elapsed_time(e))
        rs = []
        for _ in range(10):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); x = c.sum(dtype=torch.float64); e.record(); torch.cuda.synchronize(); rs.append(s.elapsed_time(e))
        m = sorted(ms)[5]; r = sorted(rs)[5]
        print(f"torch {name} n={n} a@a.T: median {m:.2f} ms, {2*n**3/m/1e9:.1f} TFLOP/s; sum(float64) median {r:.3f} ms")
except Exception as e:
    print("torch reference failed:", e)
PY
ls "$OUT/records" > "$OUT/records.txt"; tar -czf "$OUT/records.tgz" -C "$OUT" records && rm -rf "$OUT/records"
exit $fail
