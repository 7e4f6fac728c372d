//! `cargo bench`: C = A·Aᵀ per backend and dtype over sizes, throughput in FLOP (2·n³,
//! criterion shows it as "elem/s"; group names end in `_flop` to say so). Each measurement is
//! the backend's own matmul timer: `Instant` on the CPU, CUDA events on the GPU (through
//! `iter_custom`), so the GPU figures exclude launch and synchronisation overhead on the host.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use matbench::backend::cuda::{CudaBackend, probe};
use matbench::backend::{Backend, cpu::CpuBackend};
use matbench::model::dtype::DType;
use matbench::model::vocab::{BackendKind, CpuEngine};
use std::io::Write;
use std::time::Duration;

fn bench_backend(
    c: &mut Criterion,
    group_name: &str,
    backend: &mut dyn Backend,
    dtype: DType,
    sizes: &[usize],
) {
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for &n in sizes {
        if let Err(e) = backend
            .prepare(n, dtype)
            .and_then(|_| backend.generate(1).map(|_| ()))
        {
            let _ = writeln!(std::io::stderr(), "SKIPPED {group_name}/{n}: {e}");
            continue;
        }
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let mut total = 0.0;
                for _ in 0..iters {
                    match backend.iterate() {
                        Ok(it) => total += it.matmul_s,
                        Err(e) => panic!("{group_name}/{n} failed: {e}"),
                    }
                }
                Duration::from_secs_f64(total)
            })
        });
    }
    group.finish();
}

fn cpu(c: &mut Criterion) {
    let threads = matbench::host::cpu_threads();
    let Ok(mut backend) = CpuBackend::new(threads, CpuEngine::Faer) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED cpu benches: could not start {threads} threads"
        );
        return;
    };
    for &dtype in BackendKind::Cpu.supported_dtypes() {
        bench_backend(
            c,
            &format!("cpu_faer_{dtype}_flop"),
            &mut backend,
            dtype,
            &[256, 512, 1024],
        );
    }
}

fn gpu(c: &mut Criterion) {
    if let Err(e) = probe::check_index(0) {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED gpu benches: no usable GPU here: {e}"
        );
        return;
    }
    let mut backend = match CudaBackend::new(0) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "SKIPPED gpu benches: {e}");
            return;
        }
    };
    // every dtype the GPU computes, fp8 included (1024, 4096 and 10000 are multiples of 16)
    for &dtype in BackendKind::Cuda.supported_dtypes() {
        bench_backend(
            c,
            &format!("cuda_{dtype}_flop"),
            &mut backend,
            dtype,
            &[1024, 4096, 10000],
        );
    }
}

criterion_group!(benches, cpu, gpu);
criterion_main!(benches);
