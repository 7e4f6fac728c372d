#!/usr/bin/env bash
# The GPU-health and start-up checks that only a GPU machine can make, in one call (about
# five minutes): share of peak and health counters in the record, a 60 s bf16 soak and its
# chart, a GPU shared with a second process (--check names the sharing, --require-exclusive
# refuses, exit 10), --timeout on the GPU (exit 11), and the shipped CUBINs at start-up (no
# NVRTC call, kernels_wait 0). Each check prints PASS or FAIL; the exit status is the number of
# FAILs.
#
#   on a development machine: ../shared/device-pack (or cargo build --release and copy
#   target/release/matbench to .device/release/), then with the device tool:
#   bash scripts/gpu-health-check.sh        (logs and records in $OUT, default /tmp/matbench-out)
set -uo pipefail
OUT=${OUT:-/tmp/matbench-out}
mkdir -p "$OUT/records" "$OUT/plots"
B=${MATBENCH:-.device/release/matbench}
export MATBENCH_RESULTS_DIR="$OUT/records"
fails=0
verdict() { # name, condition-exit-status
  if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"

# 1. Share of peak, health counters and the check, alone on the GPU.
"$B" gpu 10000 --check --require-exclusive --format json > "$OUT/alone.json" 2> "$OUT/alone.err"
rc=$?
verdict "gpu 10000 --check --require-exclusive alone exits 0 (rc=$rc)" "$([ "$rc" = 0 ]; echo $?)"
field "$OUT/alone.json" "v['peak']" | tee "$OUT/alone.peak"
field "$OUT/alone.json" "v['health']" | tee "$OUT/alone.health"
verdict "the record has a share of peak" "$(field "$OUT/alone.json" "v['peak']['matmul_share'] is not None" | grep -q True; echo $?)"
verdict "the record has health counters, not shared" "$(field "$OUT/alone.json" "v['health']['shared'] is False" | grep -q True; echo $?)"

# 2. A 60 s bf16 soak: burst against sustained, second by second, and its chart.
"$B" gpu 8192 --dtype bf16 --duration 60 --format json > "$OUT/soak.json" 2> "$OUT/soak.err"
rc=$?
verdict "a 60 s bf16 soak exits 0 (rc=$rc)" "$([ "$rc" = 0 ]; echo $?)"
field "$OUT/soak.json" "(v['soak']['burst_tflop_per_s'], v['soak']['sustained_tflop_per_s'], v['soak']['sustained_vs_burst'], len(v['soak']['seconds']))" | tee "$OUT/soak.summary"
"$B" plot "$OUT/records" --out "$OUT/plots" > /dev/null 2>&1
verdict "plot draws soak.svg" "$([ -s "$OUT/plots/soak.svg" ]; echo $?)"

# 3. A GPU shared with another process: --check names the sharing, --require-exclusive refuses.
"$B" gpu 16384 --duration 40 --no-save > /dev/null 2>&1 &
other=$!
sleep 8
"$B" gpu 16384 --check --format json > "$OUT/shared.json" 2> "$OUT/shared.err"
rc=$?
verdict "a shared GPU fails --check with exit 7 (rc=$rc)" "$([ "$rc" = 7 ]; echo $?)"
verdict "the reason is the sharing: $(cat "$OUT/shared.err")" "$(grep -q "another process used this GPU" "$OUT/shared.err"; echo $?)"
"$B" gpu 4096 --require-exclusive --no-save > /dev/null 2> "$OUT/exclusive.err"
rc=$?
verdict "--require-exclusive on a shared GPU exits 10 (rc=$rc): $(cat "$OUT/exclusive.err")" "$([ "$rc" = 10 ]; echo $?)"
wait "$other"

# 4. --timeout on the GPU: one line, exit 11, within the limit plus the driver's exit.
start=$(date +%s.%N)
mkdir -p "$OUT/timeout-records"
"$B" gpu 16384 --reps 1000 --timeout 3 --results-dir "$OUT/timeout-records" > /dev/null 2> "$OUT/timeout.err"
rc=$?
saved=$(ls "$OUT"/timeout-records/*.json 2>/dev/null | head -1)
verdict "the timed-out run left its record: $(field "$saved" "(v['timed_out'], v['config']['reps'], v['verification']['passed'])")" "$(field "$saved" "v['timed_out'] is not None and v['config']['reps'] >= 1 and not v['verification']['passed']" | grep -q True; echo $?)"
took=$(python3 -c "import sys; print(round($(date +%s.%N) - $start, 2))")
verdict "--timeout 3 exits 11 in ${took} s: $(cat "$OUT/timeout.err")" "$([ "$rc" = 11 ] && [ "$(wc -l < "$OUT/timeout.err")" = 1 ]; echo $?)"

# 5. Start-up: the shipped CUBIN loads, nothing is compiled or waited for.
for i in 1 2 3; do
  python3 - "$B" "$OUT/startup-$i.json" <<'PY'
import json, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run([sys.argv[1], "gpu", "10000", "--warmup", "0", "--reps", "1", "--no-save", "--format", "json"], capture_output=True, text=True)
wall = time.perf_counter() - t
open(sys.argv[2], "w").write(r.stdout)
v = json.loads(r.stdout)
steps = v["phases"]["startup_steps_s"]
print(f"startup: wall {wall:.3f} s, script {v['phases']['script_time_taken_s']:.3f} s, "
      + ", ".join(f"{k} {s*1e3:.1f} ms" for k, s in steps.items()) + f"; {v['math_mode'].split('; kernels ')[-1]}")
PY
done
verdict "the shipped CUBIN ran (no kernels_compile step)" "$(field "$OUT/startup-3.json" "'kernels_compile (helper thread)' not in v['phases']['startup_steps_s'] and 'shipped' in v['math_mode']" | grep -q True; echo $?)"

# 6. Checksums of every element of every repetition: margin and cost per dtype and size, and a
#    zeroed 64×64 tile caught at scale in every dtype.
for dt in f32 f64 tf32 bf16 f16; do
  for n in 4096 10000 16384; do
    "$B" gpu "$n" --dtype "$dt" --reps 10 --line-sums all --no-save --format json > "$OUT/lines-$dt-$n.json" 2> /dev/null
    rc=$?
    printf 'lines %-4s n=%-5s rc=%s ' "$dt" "$n" "$rc"
    field "$OUT/lines-$dt-$n.json" "'max {:.2e} bound {:.2e} (margin {:.0f}x) bitwise={} cost {:.2f}% of the matmul ({:.3f} ms vs {:.3f} ms; the reduction {:.3f} ms) failed={}'.format(*(lambda l: (l['max_rel_error'], l['tolerance'], l['tolerance'] / max(l['max_rel_error'], 1e-300), l['bitwise_compared'], 100 * l['share_of_matmul'], 1e3 * l['median_s'], 1e3 * v['matmul']['median_s'], 1e3 * v['reduce']['median_s'], l['failed_repetitions']))(v['verification']['line_sums']))"
    verdict "checksums pass on a healthy card: $dt n=$n" "$([ "$rc" = 0 ]; echo $?)"
  done
  MATBENCH_INJECT_FAULT=5:tile:5000:7000 "$B" gpu 10000 --dtype "$dt" --reps 10 --line-sums all --no-save --format json > "$OUT/fault-$dt.json" 2> /dev/null
  rc=$?
  field "$OUT/fault-$dt.json" "[(f['repetition'], f['rows'][:2], f['columns'][:2], f['rows_failed'], f['bitwise']) for f in v['verification']['line_sums']['failures']]" | cut -c1-200
  "$B" gpu 4096 --dtype "$dt" --reps 20 --no-save --format json > "$OUT/budget-$dt.json" 2> /dev/null
  field "$OUT/budget-$dt.json" "'  --line-sums budget, {} n=4096: checked {} of {} repetitions, every {}, each {:.1f}% of the matmul, rc ok'.format('$dt', v['verification']['line_sums']['repetitions_checked'], v['config']['warmup'] + v['config']['reps'], v['verification']['line_sums']['checked_every'], 100 * v['verification']['line_sums']['share_of_matmul'])"
  verdict "a zeroed tile at n=10000 is caught in $dt (rc=$rc)" "$([ "$rc" = 1 ] && field "$OUT/fault-$dt.json" "v['verification']['line_sums']['failures'][0]['repetition'] == 5 and v['verification']['line_sums']['failures'][0]['rows'][0] == 5000" | grep -q True; echo $?)"
done

# 7. Siblings (two GPUs or more): every GPU at once, alone, then with another process on the
#    last GPU (--check names that GPU and the sharing, not "slow"), and a soak on all of them.
gpus=$(nvidia-smi -L | wc -l)
if [ "$gpus" -ge 2 ]; then
  last=$((gpus - 1))
  "$B" gpu 16384 --gpu all --check > "$OUT/all.txt" 2> "$OUT/all.err"
  rc=$?
  grep -E "GPU [0-9]|check|share" "$OUT/all.txt" | head -12
  verdict "--gpu all --check alone exits 0 (rc=$rc) $(cat "$OUT/all.err")" "$([ "$rc" = 0 ]; echo $?)"
  "$B" gpu 16384 --gpu "$last" --duration 40 --no-save > /dev/null 2>&1 &
  other=$!
  sleep 8
  "$B" gpu 16384 --gpu all --check > "$OUT/all-shared.txt" 2> "$OUT/all-shared.err"
  rc=$?
  grep -E "GPU [0-9]|check|shared|another" "$OUT/all-shared.txt" | head -12
  echo "  stderr: $(cat "$OUT/all-shared.err")"
  verdict "--gpu all --check with GPU $last shared exits 7 and names the sharing (rc=$rc)" "$([ "$rc" = 7 ] && grep -q "GPU $last.*another process used this GPU" "$OUT/all-shared.err"; echo $?)"
  wait "$other"
  "$B" gpu 8192 --gpu all --dtype bf16 --duration 20 > "$OUT/all-soak.txt" 2> "$OUT/all-soak.err"
  rc=$?
  grep -iE "burst|sustained" "$OUT/all-soak.txt" | head -6
  verdict "--gpu all --duration 20 exits 0 (rc=$rc)" "$([ "$rc" = 0 ]; echo $?)"
fi

# 8. Start-up and exit against the previous binary (OLD), interleaved.
if [ -n "${OLD:-}" ] && [ -x "$OLD" ]; then
  python3 - "$OLD" "$B" <<'PY'
import json, statistics, subprocess, sys, time
old, new = sys.argv[1], sys.argv[2]
for label, args in (("seed job --warmup 0 --reps 1", ["gpu", "10000", "--warmup", "0", "--reps", "1"]), ("defaults", ["gpu", "10000"])):
    walls = {"old": [], "new": []}
    after = {"old": [], "new": []}
    for _ in range(7):
        for name, exe in (("old", old), ("new", new)):
            t = time.perf_counter()
            r = subprocess.run([exe, *args, "--no-save", "--format", "json"], capture_output=True, text=True)
            wall = time.perf_counter() - t
            v = json.loads(r.stdout)
            walls[name].append(wall)
            p = v["phases"]
            after[name].append(wall - p["process_s"])
            if len(walls[name]) <= 2:
                print(f"  {name} {label}: wall {wall:.3f} s, process_s {p['process_s']:.3f} (after main {wall - p['process_s']:.3f}), first matmul {v['matmul']['samples_s'][0]*1e3:.1f} ms, "
                      + ", ".join(f"{k} {s*1e3:.1f}" for k, s in p['startup_steps_s'].items()))
    if label.startswith("seed"):
        # The floor of any CUDA process here: cuInit, the primary context, cuBLAS loaded and a
        # handle made, then exit (a C-level program through python's ctypes; python's own
        # start-up, about 20 ms, is in it).
        floor = []
        code = ("import ctypes; c = ctypes.CDLL('libcuda.so.1'); c.cuInit(0); ctx = ctypes.c_void_p(); "
                "c.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0); c.cuCtxSetCurrent(ctx); "
                "import glob; b = ctypes.CDLL((glob.glob('/usr/local/cuda*/lib64/libcublas.so.1*') + glob.glob('/usr/lib/x86_64-linux-gnu/libcublas.so.1*') + ['libcublas.so'])[0]); "
                "h = ctypes.c_void_p(); b.cublasCreate_v2(ctypes.byref(h))")
        for _ in range(5):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            floor.append(time.perf_counter() - t)
        print(f"  floor (bare CUDA process, cuInit + context + cuBLAS handle, rc={r.returncode} {r.stderr.strip()[-120:]}): median {statistics.median(floor):.3f} s of {', '.join(f'{x:.3f}' for x in floor)}")
    if label == "defaults":
        v = json.loads(subprocess.run([new, *args, "--no-save", "--format", "json"], capture_output=True, text=True).stdout)
        p, m = v["phases"], v["matmul"]
        print(f"  new defaults, where the time goes: startup {p['startup_s']:.3f} s, generate {p['generate_s']*1e3:.1f} ms, "
              f"{v['config']['warmup']} warm-up + {v['config']['reps']} measured repetitions ({sum(m['samples_s']):.3f} s measured), "
              f"verify {p['verify_s']*1e3:.1f} ms ({', '.join(f'{k} {x*1e3:.1f}' for k, x in p['verify_steps_s'].items())}), process {p['process_s']:.3f} s")
        import os
        for n in ("1024", "10000", "16384"):
            rss = {}
            for name, exe in (("old", old), ("new", new)):
                proc = subprocess.Popen([exe, "gpu", n, "--no-save"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _, status, usage = os.wait4(proc.pid, 0)
                rss[name] = usage.ru_maxrss / 1024
            print(f"  host RSS gpu {n}: old {rss['old']:.0f} MB, new {rss['new']:.0f} MB")
    print(f"{label}: wall median old {statistics.median(walls['old']):.3f} s, new {statistics.median(walls['new']):.3f} s; outside main's clock (exec, loading, exit) old {statistics.median(after['old']):.3f} s, new {statistics.median(after['new']):.3f} s (7 each, interleaved)")
PY
fi

echo "== $fails FAIL(s)"
exit "$fails"
