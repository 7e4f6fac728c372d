#!/usr/bin/env bash
# Two matbench binaries side by side on one GPU, in one call, interleaved run by run so that
# clocks, temperature and other load fall on both alike: the matmul median of f32 and bf16 at
# n = 10000, and the whole process of the TensorFlow script's job (`gpu 10000 --warmup 0
# --reps 1`, wall clock around the process). A restructuring must cost nothing measurable.
#
#   OLD=path/to/old/matbench NEW=path/to/new/matbench bash scripts/gpu-ab.sh [ROUNDS]
#
# Prints one line per configuration: the median of each binary over ROUNDS (default 7) and
# the relative difference; raw samples go to $OUT/ab.tsv when OUT is set.
set -euo pipefail
OLD=${OLD:?set OLD to the baseline binary}
NEW=${NEW:?set NEW to the candidate binary}
ROUNDS=${1:-7}
python3 - "$OLD" "$NEW" "$ROUNDS" "${OUT:-}" <<'PY'
import json, statistics, subprocess, sys, time
old, new, rounds, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
configs = [
    ("f32 n=10000 matmul median (ms)", ["gpu", "10000"], "matmul"),
    ("bf16 n=10000 matmul median (ms)", ["gpu", "10000", "--dtype", "bf16"], "matmul"),
    ("script's job, whole process (s)", ["gpu", "10000", "--warmup", "0", "--reps", "1"], "wall"),
]
rows = []
for label, args, what in configs:
    samples = {"old": [], "new": []}
    for _ in range(rounds):
        for name, exe in (("old", old), ("new", new)):
            t = time.perf_counter()
            r = subprocess.run([exe, *args, "--no-save", "--format", "json"], capture_output=True, text=True)
            wall = time.perf_counter() - t
            if r.returncode != 0:
                sys.exit(f"{name} {args}: exit {r.returncode}: {r.stderr.strip()}")
            v = json.loads(r.stdout)
            samples[name].append(v["matmul"]["median_s"] * 1e3 if what == "matmul" else wall)
            rows.append((label, name, samples[name][-1]))
    m_old, m_new = statistics.median(samples["old"]), statistics.median(samples["new"])
    print(f"{label:34} old {m_old:9.4f}  new {m_new:9.4f}  new/old {m_new / m_old:6.4f}  "
          f"(n = {rounds} each, interleaved)")
if out:
    with open(f"{out}/ab.tsv", "w") as f:
        f.writelines(f"{a}\t{b}\t{c}\n" for a, b, c in rows)
PY
