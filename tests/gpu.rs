//! GPU tests. They run wherever GPU 0 is usable and say plainly, on stderr, when they skip.
//! On the GPU machine: `../shared/device-pack`, then run every test executable with
//! `--include-ignored` (see docs/gpu-testing.md).

mod common;

use assert_cmd::Command;
use matbench::backend::cuda::CudaBackend;
use matbench::backend::{Backend, CpuEngine, DeviceSelection, HostMatrix, cpu::CpuBackend};
use matbench::cli::Format;
use matbench::dtype::DType;
use matbench::philox::Uniform;
use matbench::plan::Plan;
use std::time::Instant;

macro_rules! require_gpu {
    ($name:expr) => {
        if let Some(why) = common::gpu_unavailable() {
            common::skip($name, &format!("no usable GPU here: {why}"));
            return;
        }
    };
}

fn plan(selection: DeviceSelection, n: usize, dtype: DType, seed: u64) -> Plan {
    Plan {
        selection,
        n,
        dtype,
        warmup: 1,
        reps: 3,
        seed,
        format: Format::Json,
        results_dir: None,
    }
}

#[test]
fn gpu_matrix_is_bit_identical_to_the_cpu_generator() {
    require_gpu!("gpu_matrix_is_bit_identical_to_the_cpu_generator");
    let mut gpu = CudaBackend::new(0).unwrap();
    for n in [1usize, 3, 1001] {
        gpu.prepare(n, DType::F32).unwrap();
        gpu.generate(99).unwrap();
        let HostMatrix::F32(a) = gpu.download_matrix().unwrap() else {
            panic!("f32 expected")
        };
        let mut want = vec![0f32; n * n];
        f32::fill(99, 0, &mut want);
        assert!(
            a.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
            "f32 n={n}"
        );
        gpu.prepare(n, DType::F64).unwrap();
        gpu.generate(99).unwrap();
        let HostMatrix::F64(a) = gpu.download_matrix().unwrap() else {
            panic!("f64 expected")
        };
        let mut want = vec![0f64; n * n];
        f64::fill(99, 0, &mut want);
        assert!(
            a.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
            "f64 n={n}"
        );
    }
}

#[test]
fn gpu_and_cpu_agree_on_the_same_seed() {
    require_gpu!("gpu_and_cpu_agree_on_the_same_seed");
    for (n, dtype) in [
        (1usize, DType::F32),
        (7, DType::F64),
        (513, DType::F32),
        (1000, DType::F64),
        (2049, DType::F32),
    ] {
        let mut gpu = CudaBackend::new(0).unwrap();
        let mut cpu = CpuBackend::new(4, CpuEngine::Faer).unwrap();
        let g = matbench::bench::run(
            &plan(DeviceSelection::Gpu { index: 0 }, n, dtype, 5),
            &mut gpu,
            0.0,
            Instant::now(),
            vec![],
        )
        .unwrap();
        let c = matbench::bench::run(
            &plan(
                DeviceSelection::Cpu {
                    threads: 4,
                    engine: CpuEngine::Faer,
                },
                n,
                dtype,
                5,
            ),
            &mut cpu,
            0.0,
            Instant::now(),
            vec![],
        )
        .unwrap();
        assert!(
            g.verification.passed,
            "gpu n={n} {dtype}: {:?}",
            g.verification
        );
        assert!(
            c.verification.passed,
            "cpu n={n} {dtype}: {:?}",
            c.verification
        );
        let refs = (g.verification.sum_reference - c.verification.sum_reference).abs()
            / c.verification.sum_reference;
        assert!(refs < 1e-13, "n={n} {dtype}: references differ by {refs}");
        let sums = (g.sum - c.sum).abs() / c.sum;
        assert!(
            sums <= 2.0 * g.verification.sum_tolerance,
            "n={n} {dtype}: sums differ by {sums}"
        );
        assert!(g.matmul.median_s > 0.0 && g.reduce.median_s > 0.0);
        assert!(g.math_mode.contains(if dtype == DType::F32 {
            "cublasSgemm"
        } else {
            "cublasDgemm"
        }));
    }
}

#[test]
fn gpu_cli_run_records_a_verified_true_fp32_result() {
    require_gpu!("gpu_cli_run_records_a_verified_true_fp32_result");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("matbench")
        .unwrap()
        .env("MATBENCH_RESULTS_DIR", dir.path())
        .args(["gpu", "4096", "--format", "json", "--reps", "5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verification"]["passed"], true);
    assert_eq!(v["device"]["kind"], "gpu");
    assert!(v["math_mode"].as_str().unwrap().contains("true FP32"));
    assert!(v["device"]["uuid"].as_str().unwrap().starts_with("GPU-"));
    assert!(v["device"]["cublas_version"].is_string());
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn gpu_bad_index_and_too_large_matrix_fail_cleanly() {
    require_gpu!("gpu_bad_index_and_too_large_matrix_fail_cleanly");
    let dir = tempfile::tempdir().unwrap();
    for (args, code, needle) in [
        (&["gpu", "64", "--gpu", "99"][..], 3, "does not exist"),
        (&["gpu", "300000"][..], 4, "is free"),
    ] {
        let out = Command::cargo_bin("matbench")
            .unwrap()
            .env("MATBENCH_RESULTS_DIR", dir.path())
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}
