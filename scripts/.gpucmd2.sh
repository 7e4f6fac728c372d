set -u
OUT=${OUT:-/tmp/out}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/summary.txt
fail=0
for t in .device/release/deps/*; do
  case "$(basename "$t")" in matmul-*) continue ;; esac
  if ! timeout 300 "$t" --include-ignored --test-threads 2 >> $OUT/tests.log 2>&1; then fail=1; echo "TEST FAILED: $t" | tee -a $OUT/summary.txt; fi
done
echo "tests: $(grep -c '^test .* ok$' $OUT/tests.log) ok, $(grep -c '^test .* FAILED$' $OUT/tests.log) failed" | tee -a $OUT/summary.txt
grep '^SKIPPED' $OUT/tests.log | cut -c1-160 | tee -a $OUT/summary.txt
OLD=.device/old/matbench NEW=.device/release/matbench OUT=$OUT bash scripts/gpu-ab.sh 5 2>&1 | tee -a $OUT/summary.txt
.device/release/matbench gpu 10000 --no-save > $OUT/gpu-10000.txt 2>&1; cat $OUT/gpu-10000.txt | tee -a $OUT/summary.txt
L=$(python3 -c "import numpy, pathlib; print(next(pathlib.Path(numpy.__file__).parent.parent.joinpath('numpy.libs').glob('libscipy_openblas*.so')))" 2>&1)
echo "numpy's OpenBLAS: $L" | tee -a $OUT/summary.txt
for th in 2 16; do
 for eng in blas faer; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .device/release/matbench cpu 4096 --threads $th --reps 5 --no-save --cpu-engine $eng --blas-lib "$L" --format json 2>&1 | python3 -c "import json,sys; v=json.load(sys.stdin); print('matbench', v['config']['cpu_engine'], 'threads', v['config']['threads'], 'f32 n=4096', round(v['matmul_tflop_per_s']*1e3,1), 'GFLOP/s', v['verification']['passed'], (v['device'].get('blas_library') or '')[:60])" 2>&1 | tee -a $OUT/summary.txt
 done
 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$th python3 -c "
import numpy as np, time
n=4096; a=np.random.rand(n,n).astype(np.float32); b=np.random.rand(n,n).astype(np.float32); a@b.T
ts=[]
for _ in range(5):
    t=time.perf_counter(); a@b.T; ts.append(time.perf_counter()-t)
m=sorted(ts)[2]; print('numpy a@b.T threads $th f32 n=4096', round(2*n**3/m/1e9,1), 'GFLOP/s')" 2>&1 | tee -a $OUT/summary.txt
done
exit $fail
