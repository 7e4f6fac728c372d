#!/usr/bin/env bash
# `--algo search` on the GPU machine, in one call: for each dtype and n, the search's candidates,
# the default path's regret, and the matmul median of a run with the search's choice against a
# run with the default path right after it (the search must never be slower beyond the noise).
#
#   bash scripts/gpu-algo-check.sh            (binary: $MATBENCH or .device/release/matbench)
#   DTYPES="tf32 fp8" SIZES="10000" bash scripts/gpu-algo-check.sh     (a part of the table)
set -uo pipefail
B=${MATBENCH:-.device/release/matbench}
CACHE=$(mktemp -d)
python3 - "$B" "$CACHE" "${DTYPES:-f32 tf32 bf16 f16 fp8}" "${SIZES:-4096 10000 16384}" <<'PY'
import json, subprocess, sys
b, cache, dtypes, sizes = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
def run(*args):
    r = subprocess.run([b, *args, "--no-save", "--format", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), None
print("dtype n      candidates regret  chosen                                             default ms  best ms   run: search ms / default ms")
for dt in dtypes:
    for n in sizes:
        s, err = run("gpu", n, "--dtype", dt, "--algo", "search", "--cache-dir", cache)
        if s is None:
            print(f"{dt:5} {n:6} FAILED: {err}")
            continue
        a = s["algo"]
        d, _ = run("gpu", n, "--dtype", dt)
        chosen = a["candidates"][a["chosen"]]["name"][:50]
        print(f"{dt:5} {n:6} {len(a['candidates']):10} {100*a['regret']:5.1f}%  {chosen:50} {1e3*a['default_median_s']:9.3f} {1e3*a['best_median_s']:8.3f}   "
              f"{1e3*s['matmul']['median_s']:.3f} / {1e3*d['matmul']['median_s']:.3f} ({s['matmul_tflop_per_s']:.1f} vs {d['matmul_tflop_per_s']:.1f} TFLOP/s), "
              f"search {s['phases']['tune_s']:.2f} s, verify {s['verification']['passed']}")
PY
rm -rf "$CACHE"
