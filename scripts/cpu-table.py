#!/usr/bin/env python3
"""matbench's CPU engines beside numpy and PyTorch on this machine: the table of
docs/performance.md ("The CPU side against numpy and PyTorch"), remade.

    python3 scripts/cpu-table.py [--threads 2,16] [--sizes 1024,2048,4096] [--dtypes f32,f64]
                                 [--reps 7] [--matbench target/release/matbench] [--out DIR]

Every cell is one product, C = A·Bᵀ for random n×n matrices (matbench: A·Aᵀ, one buffer), timed
by each tool as a separate process with the same method: at least 0.5 s of warm-up, then `reps`
timed products, the median; with `--rounds R` the grid is run R times and a cell's figure is the
median of its R medians. The tools of a cell run one after the other, so they see the same
machine. Columns:

- matbench, default engine (`auto`: the machine's BLAS unless faer times faster), and which it
  picked;
- matbench `--cpu-engine faer`;
- matbench `--cpu-engine blas --blas-lib <numpy's own OpenBLAS>` (the same library as numpy);
- numpy `a @ b.T` (its bundled OpenBLAS; threads from OPENBLAS_NUM_THREADS);
- PyTorch `a @ b.T` on the CPU (its bundled MKL; torch.set_num_threads), when torch imports.

OPENBLAS_CORETYPE is unset for every tool. The table (Markdown) goes to stdout and, with every
sample, to OUT/cpu-table.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PY_TIMER = r"""
import os, sys, time, statistics, json
lib, dt, n, reps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
import numpy as np
dtype = np.float32 if dt == "f32" else np.float64
rng = np.random.default_rng(1)
a = rng.random((n, n), dtype=dtype); b = rng.random((n, n), dtype=dtype)
if lib == "numpy":
    try:
        import threadpoolctl
        info = threadpoolctl.threadpool_info()
        what = ", ".join(f"numpy {np.__version__}, {i['internal_api']} {i['version']} {i.get('architecture')}, {i['num_threads']} threads" for i in info if i['user_api'] == 'blas')
    except ImportError:
        what = f"numpy {np.__version__}, {threads} threads (OPENBLAS_NUM_THREADS)"
    mm = lambda: a @ b.T
else:
    import torch
    torch.set_num_threads(threads)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    mkl = torch.backends.mkl.is_available()
    what = f"torch {torch.__version__}, {'MKL' if mkl else 'no MKL'}, {torch.get_num_threads()} threads"
    mm = lambda: ta @ tb.T
start = time.perf_counter(); runs = 0
while runs < 2 or time.perf_counter() - start < 0.5:
    mm(); runs += 1
samples = []
for _ in range(reps):
    t = time.perf_counter(); mm(); samples.append(time.perf_counter() - t)
print(json.dumps({"median_s": statistics.median(samples), "samples_s": samples, "what": what}))
"""


def clean_env(threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        env[var] = str(threads)
    return env


def matbench(binary, extra, dt, n, reps, threads):
    cmd = [binary, "cpu", str(n), "--dtype", dt, "--threads", str(threads), "--reps", str(reps),
           "--no-save", "--format", "json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(threads))
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["exit %d" % out.returncode]}
    v = json.loads(out.stdout)
    return {
        "median_s": v["matmul"]["median_s"],
        "samples_s": v["matmul"]["samples_s"],
        "what": v["config"]["cpu_engine"],
        "engine_choice": v["device"].get("engine_choice"),
        "blas_library": v["device"].get("blas_library"),
        "verified": v["verification"]["passed"],
    }


def python_lib(lib, dt, n, reps, threads):
    out = subprocess.run([sys.executable, "-c", PY_TIMER, lib, dt, str(n), str(reps), str(threads)],
                         capture_output=True, text=True, env=clean_env(threads))
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout)


def numpy_openblas():
    """The file of numpy's bundled OpenBLAS (numpy.libs/), or None."""
    try:
        import glob
        import numpy
        root = os.path.dirname(os.path.dirname(numpy.__file__))
        found = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas*.so")))
        return found[0] if found else None
    except Exception:
        return None


def gflops(cell, n):
    if "median_s" not in cell:
        return None
    return 2 * n ** 3 / cell["median_s"] / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="2,16")
    p.add_argument("--sizes", default="1024,2048,4096")
    p.add_argument("--dtypes", default="f32,f64")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat the whole grid; a cell's figure is the median of its rounds")
    p.add_argument("--matbench", default="target/release/matbench")
    p.add_argument("--out", default=".")
    args = p.parse_args()
    np_lib = numpy_openblas()
    try:
        import torch  # noqa: F401
        have_torch = True
    except Exception:
        have_torch = False
    columns = ["default", "faer"] + (["blas_numpy_lib"] if np_lib else []) + ["numpy"] + (
        ["torch"] if have_torch else [])
    rows = []
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    grid = [(t, dt, n) for t in map(int, args.threads.split(",")) for dt in args.dtypes.split(",")
            for n in map(int, args.sizes.split(","))]
    runs = {cell: {col: [] for col in columns} for cell in grid}
    for rnd in range(args.rounds):
        for threads, dt, n in grid:
            for col in columns:
                if col == "default":
                    r = matbench(args.matbench, [], dt, n, args.reps, threads)
                elif col == "faer":
                    r = matbench(args.matbench, ["--cpu-engine", "faer"], dt, n, args.reps, threads)
                elif col == "blas_numpy_lib":
                    r = matbench(args.matbench, ["--cpu-engine", "blas", "--blas-lib", np_lib],
                                 dt, n, args.reps, threads)
                else:
                    r = python_lib(col, dt, n, args.reps, threads)
                r["gflop_s"] = gflops(r, n)
                runs[(threads, dt, n)][col].append(r)
            print(f"# round {rnd + 1}, {threads} threads {dt} n={n}: " + ", ".join(
                f"{c} {v[-1]['gflop_s']:.0f}" + (f" ({v[-1]['what']})" if c == "default" else "")
                if v[-1]["gflop_s"] else f"{c} {v[-1].get('error')}"
                for c, v in runs[(threads, dt, n)].items()), file=sys.stderr, flush=True)
    for threads, dt, n in grid:
        cell = {"threads": threads, "dtype": dt, "n": n}
        for col, rs in runs[(threads, dt, n)].items():
            figures = [r["gflop_s"] for r in rs if r["gflop_s"]]
            cell[col] = {"gflop_s": statistics.median(figures) if figures else None,
                         "engines": sorted({str(r.get("what")) for r in rs}), "rounds": rs}
        refs = [cell[c]["gflop_s"] for c in ("numpy", "torch") if c in cell and cell[c]["gflop_s"]]
        best = max(refs) if refs else None
        d = cell["default"]["gflop_s"]
        cell["default_over_best"] = d / best if d and best else None
        rows.append(cell)
    fmt = lambda v: f"{v:.0f}" if v else "–"
    head = ["threads", "dtype", "n", "matbench default (engine)", "matbench faer"]
    if np_lib:
        head.append("matbench blas, numpy's OpenBLAS")
    head += ["numpy"] + (["PyTorch"] if have_torch else []) + ["default / best"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for c in rows:
        line = [str(c["threads"]), c["dtype"], str(c["n"]),
                f"{fmt(c['default']['gflop_s'])} ({'/'.join(c['default']['engines'])})", fmt(c["faer"]["gflop_s"])]
        if np_lib:
            line.append(fmt(c["blas_numpy_lib"]["gflop_s"]))
        line.append(fmt(c["numpy"]["gflop_s"]))
        if have_torch:
            line.append(fmt(c["torch"]["gflop_s"]))
        ratio = c["default_over_best"]
        line.append(f"{ratio:.2f}" if ratio else "–")
        print("| " + " | ".join(line) + " |")
    print()
    for col in columns:
        seen = [r for row in rows for r in row[col]["rounds"]]
        libraries = sorted({r["blas_library"] for r in seen if r.get("blas_library")})
        whats = sorted({str(r.get("what")) for r in seen})
        print(f"- {col}: " + "; ".join(libraries or whats))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cpu-table.json"), "w") as f:
        json.dump({"started_utc": started, "numpy_openblas": np_lib, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
