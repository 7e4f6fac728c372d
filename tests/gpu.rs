//! GPU tests. They run wherever GPU 0 is usable and say plainly, on stderr, when they skip.
//! On the GPU machine: `../shared/device-pack`, then run every test executable with
//! `--include-ignored` (see docs/gpu-testing.md).

#[macro_use]
mod common;

use matbench::backend::cuda::CudaBackend;
use matbench::backend::{Backend, HostMatrix, cpu::CpuBackend};
use matbench::bench::RunContext;
use matbench::model::dtype::DType;
use matbench::model::job::Job;
use matbench::model::reps::Reps;
use matbench::model::vocab::{CpuEngine, DeviceSelection, MatOp};
use matbench::philox::Uniform;

fn plan(selection: DeviceSelection, n: usize, dtype: DType, seed: u64) -> Job {
    Job {
        selection,
        n,
        dtype,
        op: MatOp::Gemm,
        warmup: matbench::model::reps::Warmup {
            runs: 1,
            min_s: 0.0,
        },
        reps: Reps::Fixed(3),
        seed,
        check: None,
        require_exclusive: false,
        line_sums: Default::default(),
        algo_search: None,
    }
}

fn ctx() -> RunContext {
    RunContext {
        startup_s: 0.0,
        process_start_s: matbench::backend::monotonic_s(),
        args: vec![],
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
            &ctx(),
        )
        .unwrap();
        let c = matbench::bench::run(
            &plan(
                DeviceSelection::Cpu {
                    threads: 4,
                    engine: CpuEngine::Faer,
                    blas_lib: None,
                },
                n,
                dtype,
                5,
            ),
            &mut cpu,
            &ctx(),
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
fn gpu_bad_index_and_too_large_matrix_fail_cleanly() {
    require_gpu!("gpu_bad_index_and_too_large_matrix_fail_cleanly");
    let dir = tempfile::tempdir().unwrap();
    for (args, code, needle) in [
        (&["gpu", "64", "--gpu", "99"][..], 3, "does not exist"),
        (&["gpu", "300000"][..], 4, "is free"),
    ] {
        let out = common::matbench(dir.path()).args(args).output().unwrap();
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

#[test]
fn gpu_half_matrices_are_the_f32_stream_rounded_to_nearest() {
    require_gpu!("gpu_half_matrices_are_the_f32_stream_rounded_to_nearest");
    let mut gpu = CudaBackend::new(0).unwrap();
    for n in [1usize, 3, 1001] {
        for dtype in [DType::Bf16, DType::F16] {
            gpu.prepare(n, dtype).unwrap();
            gpu.generate(77).unwrap();
            let HostMatrix::Bits16(a) = gpu.download_matrix().unwrap() else {
                panic!("16-bit storage expected")
            };
            assert_eq!(a.len(), n * n);
            for (i, bits) in a.iter().enumerate() {
                let x = f32::uniform_at(77, i as u64);
                let want = match dtype {
                    DType::Bf16 => half::bf16::from_f32(x).to_bits(),
                    _ => half::f16::from_f32(x).to_bits(),
                };
                assert_eq!(*bits, want, "{dtype} n={n} element {i} (x = {x})");
            }
        }
    }
}

/// fp8's A is the same f32 stream rounded to nearest even into E4M3 (the `float8` crate's
/// conversion, a port of CUDA's own), byte for byte, including the tail of a length that is
/// not a multiple of four.
#[test]
fn gpu_fp8_matrix_is_the_f32_stream_rounded_to_e4m3() {
    require_gpu!("gpu_fp8_matrix_is_the_f32_stream_rounded_to_e4m3");
    let mut gpu = CudaBackend::new(0).unwrap();
    for n in [16usize, 1008] {
        gpu.prepare(n, DType::Fp8).unwrap();
        gpu.generate(77).unwrap();
        let HostMatrix::Bits8(a) = gpu.download_matrix().unwrap() else {
            panic!("8-bit storage expected")
        };
        assert_eq!(a.len(), n * n);
        let mut seen = std::collections::BTreeSet::new();
        for (i, bits) in a.iter().enumerate() {
            let x = f32::uniform_at(77, i as u64);
            let want = float8::F8E4M3::from_f32(x).to_bits();
            assert_eq!(*bits, want, "n={n} element {i} (x = {x})");
            seen.insert(*bits);
        }
        // subnormals (below 2⁻⁶), normals and 1.0 (0x38) all occur at n = 1008
        if n == 1008 {
            assert!(seen.contains(&1) && seen.contains(&0x38), "{seen:?}");
        }
    }
}

/// fp8 through cuBLASLt: verified at sizes that are multiples of 16, and the record says what
/// was computed.
#[test]
fn gpu_fp8_runs_pass_verification_and_record_what_was_computed() {
    require_gpu!("gpu_fp8_runs_pass_verification_and_record_what_was_computed");
    let mut gpu = CudaBackend::new(0).unwrap();
    for n in [16usize, 1024, 2064] {
        let r = matbench::bench::run(
            &plan(DeviceSelection::Gpu { index: 0 }, n, DType::Fp8, 9),
            &mut gpu,
            &ctx(),
        )
        .unwrap();
        assert!(r.verification.passed, "n={n}: {:?}", r.verification);
        for needle in [
            "CUDA_R_8F_E4M3",
            "CUDA_R_16BF",
            "scale_a = scale_b = 1.0",
            "fast accumulation off",
            "the heuristic's first algorithm: cuBLASLt algo ",
        ] {
            assert!(r.math_mode.contains(needle), "{needle}: {}", r.math_mode);
        }
        assert_eq!(r.config.dtype, DType::Fp8);
    }
    let refused = gpu.prepare(1000, DType::Fp8).unwrap_err();
    assert_eq!(refused.exit_code(), 2, "{refused}");
}

#[test]
fn gpu_tensor_core_dtypes_pass_verification() {
    require_gpu!("gpu_tensor_core_dtypes_pass_verification");
    let mut gpu = CudaBackend::new(0).unwrap();
    for dtype in [DType::Tf32, DType::Bf16, DType::F16] {
        for n in [1usize, 7, 1024, 2049] {
            let r = matbench::bench::run(
                &plan(DeviceSelection::Gpu { index: 0 }, n, dtype, 9),
                &mut gpu,
                &ctx(),
            )
            .unwrap();
            assert!(r.verification.passed, "{dtype} n={n}: {:?}", r.verification);
            assert!(r.math_mode.contains("cublasGemmEx"), "{}", r.math_mode);
            assert_eq!(r.config.dtype, dtype);
        }
    }
}

#[test]
fn gpu_cli_bf16_run_records_its_compute_type() {
    require_gpu!("gpu_cli_bf16_run_records_its_compute_type");
    let out = common::matbench_bare()
        .args([
            "gpu",
            "4096",
            "--dtype",
            "bf16",
            "--format",
            "json",
            "--no-save",
            "--reps",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["dtype"], "bf16");
    assert_eq!(v["verification"]["passed"], true);
    let mode = v["math_mode"].as_str().unwrap();
    assert!(
        mode.contains("CUDA_R_16BF") && mode.contains("CUBLAS_COMPUTE_32F"),
        "{mode}"
    );
}

#[test]
fn gpu_runs_record_telemetry_or_say_why_not() {
    require_gpu!("gpu_runs_record_telemetry_or_say_why_not");
    let out = common::matbench_bare()
        .args([
            "gpu",
            "8192",
            "--format",
            "json",
            "--no-save",
            "--reps",
            "10",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["telemetry"];
    assert!(t.is_object(), "GPU runs carry a telemetry section: {v}");
    if let Some(why) = t["unavailable"].as_str() {
        common::skip("gpu_runs_record_telemetry_or_say_why_not (values)", why);
        return;
    }
    assert!(t["samples"].as_u64().unwrap() >= 2);
    assert!(t["sm_clock_mhz"]["median"].as_f64().unwrap() > 100.0);
    assert!(t["power_w"]["median"].as_f64().unwrap() > 1.0);
    assert!(t["tflop_per_s_per_w"].as_f64().unwrap() > 0.0);
    assert!(t["throttled"].is_boolean());
}

#[test]
fn gpu_soak_reports_burst_sustained_and_every_second_with_telemetry() {
    require_gpu!("gpu_soak_reports_burst_sustained_and_every_second_with_telemetry");
    let dir = tempfile::tempdir().unwrap();
    let out = common::matbench(dir.path())
        .args([
            "gpu",
            "8192",
            "--dtype",
            "bf16",
            "--duration",
            "4",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["reps_mode"], "duration");
    assert_eq!(v["repetitions"]["stop"], "duration");
    let soak = &v["soak"];
    assert!(soak["burst_tflop_per_s"].as_f64().unwrap() > 0.0);
    assert!(soak["sustained_tflop_per_s"].as_f64().unwrap() > 0.0);
    let seconds = soak["seconds"].as_array().unwrap();
    assert!(seconds.len() >= 4, "{soak}");
    if v["telemetry"]["unavailable"].is_null() {
        assert!(
            seconds
                .iter()
                .all(|s| s["sm_clock_mhz"].as_f64().is_some_and(|c| c > 0.0)),
            "{soak}"
        );
    }
    let plots = dir.path().join("plots");
    common::matbench_bare()
        .arg("plot")
        .arg(dir.path())
        .arg("--out")
        .arg(&plots)
        .assert()
        .success();
    assert!(plots.join("soak.svg").exists());
}

#[test]
fn gpu_all_runs_every_gpu_at_the_same_time() {
    require_gpu!("gpu_all_runs_every_gpu_at_the_same_time");
    let count = matbench::backend::cuda::probe::device_count().unwrap();
    if count < 2 {
        common::skip(
            "gpu_all_runs_every_gpu_at_the_same_time",
            "this machine has one GPU (run it on nvidia-h200-x2)",
        );
        return;
    }
    let out = common::matbench_bare()
        .args([
            "gpu",
            "8192",
            "--gpu",
            "all",
            "--format",
            "json",
            "--no-save",
            "--reps",
            "10",
            "--check",
            "--slow-margin",
            "25",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gpus = v["summary"]["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), count);
    assert_eq!(v["runs"].as_array().unwrap().len(), count);
    assert!(
        v["summary"]["overlap_s"].as_f64().unwrap() > 0.0,
        "the GPUs' measured repetitions overlapped"
    );
    let each: f64 = gpus
        .iter()
        .map(|g| g["tflop_per_s"].as_f64().unwrap())
        .sum();
    assert!((v["summary"]["aggregate_tflop_per_s"].as_f64().unwrap() - each).abs() < 1e-9);
    assert!(gpus.iter().all(|g| g["passed"] == true));
    let uuids: std::collections::BTreeSet<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["device"]["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids.len(), count, "every run on its own GPU");
}

#[test]
fn gpu_syrk_matches_the_cpu_and_passes_verification() {
    require_gpu!("gpu_syrk_matches_the_cpu_and_passes_verification");
    for (n, dtype) in [
        (1usize, DType::F32),
        (7, DType::F64),
        (1000, DType::F32),
        (2049, DType::F64),
    ] {
        let mut p = plan(DeviceSelection::Gpu { index: 0 }, n, dtype, 21);
        p.op = MatOp::Syrk;
        let mut gpu = CudaBackend::new(0).unwrap();
        let g = matbench::bench::run(&p, &mut gpu, &ctx()).unwrap();
        let mut q = plan(
            DeviceSelection::Cpu {
                threads: 4,
                engine: CpuEngine::Faer,
                blas_lib: None,
            },
            n,
            dtype,
            21,
        );
        q.op = MatOp::Syrk;
        let mut cpu = CpuBackend::new(4, CpuEngine::Faer).unwrap();
        let c = matbench::bench::run(&q, &mut cpu, &ctx()).unwrap();
        assert!(
            g.verification.passed,
            "gpu syrk n={n} {dtype}: {:?}",
            g.verification
        );
        assert!(
            c.verification.passed,
            "cpu syrk n={n} {dtype}: {:?}",
            c.verification
        );
        assert!(g.math_mode.contains("syrk"), "{}", g.math_mode);
        assert!(
            (g.sum - c.sum).abs() <= 2.0 * g.verification.sum_tolerance * c.sum,
            "n={n} {dtype}"
        );
    }
}

/// Runs `matbench gpu N --dtype D` with the test-only fault `fault` (if any): one warm-up,
/// three measured repetitions, JSON on stdout. Returns the exit code and the record.
fn gpu_fault_run(n: &str, dtype: &str, fault: Option<&str>) -> (Option<i32>, serde_json::Value) {
    let mut cmd = common::matbench_bare();
    if let Some(f) = fault {
        cmd.env("MATBENCH_INJECT_FAULT", f);
    }
    let out = cmd
        .args([
            "gpu",
            n,
            "--dtype",
            dtype,
            "--warmup",
            "1",
            "--warmup-time",
            "0",
        ])
        .args([
            "--reps",
            "3",
            "--format",
            "json",
            "--no-save",
            "--line-sums",
            "all",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{dtype} {fault:?}: no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// Silent data corruption on the GPU: every row and column sum of every repetition, checked on
/// the device against A·(column sums of A) and bit for bit across repetitions. A zeroed 64×64
/// tile is caught and placed in every dtype, a zeroed or doubled element in f32 and f64, and a
/// single zeroed bf16 element (under the bf16 bound) by the bitwise comparison.
#[test]
fn gpu_every_element_of_every_repetition_is_checked_in_every_dtype() {
    require_gpu!("gpu_every_element_of_every_repetition_is_checked_in_every_dtype");
    let ints = |v: &serde_json::Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    for dtype in ["f32", "f64", "tf32", "bf16", "f16", "fp8"] {
        let (code, v) = gpu_fault_run("2048", dtype, None);
        let lines = &v["verification"]["line_sums"];
        assert_eq!(code, Some(0), "{dtype} clean: {lines}");
        assert_eq!(lines["failed_repetitions"], 0, "{dtype}: {lines}");
        assert_eq!(lines["repetitions_checked"], 4, "{dtype}: {lines}");
        // fp8's cuBLASLt algorithm may split K, whose order of addition may vary
        let split_k: u32 = v["math_mode"]
            .as_str()
            .unwrap()
            .split("split-K ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse().ok())
            .unwrap_or(1);
        let bitwise = split_k <= 1;
        assert_eq!(lines["bitwise_compared"], bitwise, "{dtype}: {lines}");
        let spread = lines["spread"].as_f64().unwrap();
        assert!(
            lines["max_spread"].as_f64().unwrap() < spread,
            "{dtype}: {lines}"
        );
        assert!(
            spread <= lines["tolerance"].as_f64().unwrap(),
            "{dtype}: {lines}"
        );
        assert!(lines["share_of_matmul"].as_f64().unwrap() > 0.0, "{lines}");
        common::assert_meets_the_schema(&v);
        let tile_rows: Vec<u64> = (640..656).collect();
        let tile_cols: Vec<u64> = (1030..1046).collect();
        let mut cases = vec![("2:tile:640:1030", 2, tile_rows, tile_cols, false, false)];
        if dtype == "f32" || dtype == "f64" {
            cases.push(("4:zero:17:2000", 4, vec![17], vec![2000], false, false));
            cases.push(("1:double:2047:0", 1, vec![2047], vec![0], true, false));
        }
        if dtype == "bf16" {
            cases.push(("3:zero:5:6", 3, vec![5], vec![6], false, true));
        }
        for (fault, repetition, rows, columns, warmup, expect_bitwise) in cases {
            let (code, v) = gpu_fault_run("2048", dtype, Some(fault));
            let lines = &v["verification"]["line_sums"];
            assert_eq!(code, Some(1), "{dtype} {fault}: {lines}");
            assert_eq!(v["verification"]["passed"], false, "{dtype} {fault}");
            assert_eq!(lines["failed_repetitions"], 1, "{dtype} {fault}: {lines}");
            let f = &lines["failures"][0];
            assert_eq!(f["repetition"], repetition, "{dtype} {fault}: {lines}");
            assert_eq!(f["warmup"], warmup, "{dtype} {fault}: {lines}");
            assert_eq!(
                f["bitwise"],
                bitwise && expect_bitwise,
                "{dtype} {fault}: {lines}"
            );
            assert_eq!(ints(&f["rows"]), rows, "{dtype} {fault}: {lines}");
            assert_eq!(ints(&f["columns"]), columns, "{dtype} {fault}: {lines}");
            assert!(
                lines["injected_fault"]
                    .as_str()
                    .is_some_and(|s| s.contains("test-only")),
                "{lines}"
            );
        }
    }
}

/// `--algo search`: the default path and cuBLASLt's candidates are timed for the exact problem,
/// the record lists them with the default's regret, the answer still verifies, and a second run
/// takes the winner from the cache (never a `.json` file) and says so.
#[test]
fn gpu_algo_search_times_the_candidates_records_the_regret_and_caches_the_winner() {
    require_gpu!("gpu_algo_search_times_the_candidates_records_the_regret_and_caches_the_winner");
    let cache = tempfile::tempdir().unwrap();
    for dtype in ["f32", "bf16", "fp8"] {
        let cache_dir = cache.path().to_str().unwrap();
        let run = || {
            let args = [
                "gpu", "2048", "--dtype", dtype, "--algo", "search", "--reps", "5",
            ];
            common::json_run_in_temp(&[&args[..], &["--cache-dir", cache_dir]].concat()).0
        };
        let first = run();
        let algo = &first["algo"];
        let candidates = algo["candidates"].as_array().unwrap();
        assert!(candidates.len() >= 2, "{dtype}: {algo}");
        assert!(
            candidates[0]["name"]
                .as_str()
                .unwrap()
                .starts_with("default path: "),
            "{algo}"
        );
        let lt_name = candidates[1]["name"].as_str().unwrap();
        assert!(
            lt_name.starts_with("cuBLASLt algo ") && !lt_name.contains('?'),
            "{lt_name}"
        );
        assert!(algo["regret"].as_f64().unwrap() >= 0.0);
        assert_eq!(algo["cached"], false);
        let chosen = algo["chosen"].as_u64().unwrap() as usize;
        assert!(chosen < candidates.len());
        let lt_ran = first["math_mode"]
            .as_str()
            .unwrap()
            .contains("--algo search ran it");
        assert_eq!(lt_ran, chosen > 0, "{}", first["math_mode"]);
        assert_eq!(
            first["verification"]["passed"], true,
            "{}",
            first["verification"]
        );
        assert!(first["phases"]["tune_s"].as_f64().unwrap() > 0.0);
        common::assert_meets_the_schema(&first);
        let second = run();
        assert_eq!(second["algo"]["cached"], true, "{}", second["algo"]);
        assert_eq!(second["algo"]["chosen"], algo["chosen"]);
        assert_eq!(second["verification"]["passed"], true);
        eprintln!(
            "{dtype} n=2048: chose {} of {}, regret {:.3}",
            chosen,
            candidates.len(),
            algo["regret"]
        );
    }
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec!["cublaslt-algos.v1".to_string()]);
}
