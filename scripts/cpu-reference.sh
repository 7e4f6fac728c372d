#!/usr/bin/env bash
# matbench's CPU backend against numpy + OpenBLAS (`a @ b.T`, a plain GEMM) on this machine,
# alternating so both see the same conditions. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset
# for numpy only (they pin an older kernel on some development machines).
#   bash scripts/cpu-reference.sh [N] [RESULTS_DIR]
set -euo pipefail
n=${1:-4096}
dir=${2:-results}
B=${MATBENCH:-target/release/matbench}
for round in 1 2; do
  for dt in f32 f64; do
    "$B" cpu "$n" --dtype "$dt" --reps 5 --results-dir "$dir" --format json |
      python3 -c "import json,sys; v=json.load(sys.stdin); print(f'round $round matbench cpu $n $dt ({v[\"config\"][\"cpu_engine\"]}, {v[\"config\"][\"threads\"]} threads): median {v[\"matmul\"][\"median_s\"]*1e3:.1f} ms, {v[\"matmul_tflop_per_s\"]*1e3:.0f} GFLOP/s, verify {v[\"verification\"][\"passed\"]}')"
  done
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 - "$n" "$round" <<'PY'
import sys, time, numpy as np, threadpoolctl
n, rnd = int(sys.argv[1]), sys.argv[2]
info = threadpoolctl.threadpool_info()[0]
for dt in (np.float32, np.float64):
    a = np.random.rand(n, n).astype(dt); b = np.random.rand(n, n).astype(dt)
    a @ b.T
    ts = []
    for _ in range(5):
        t = time.perf_counter(); a @ b.T; ts.append(time.perf_counter() - t)
    m = sorted(ts)[2]
    print(f"round {rnd} numpy {np.__version__} {info['internal_api']} {info['version']} ({info['architecture']}, {info['num_threads']} threads) a@b.T n={n} {np.dtype(dt).name}: median {m*1e3:.1f} ms, {2*n**3/m/1e9:.0f} GFLOP/s")
PY
done
