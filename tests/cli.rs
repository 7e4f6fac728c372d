//! The binary as a user meets it: output, records, and every kind of bad input.

mod common;

use predicates::prelude::*;

use common::{files_in, matbench};

fn json_run(args: &[&str]) -> serde_json::Value {
    common::json_run_in_temp(args).0
}

#[test]
fn cpu_run_prints_the_seed_lines_and_a_verified_report() {
    let dir = tempfile::tempdir().unwrap();
    matbench(dir.path())
        .args(["cpu", "128", "--no-save", "--reps", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Shape: (128, 128) Device: /cpu:0"))
        .stdout(predicate::str::is_match(r"Time taken: 0:00:\d\d\.\d{6}").unwrap())
        .stdout(predicate::str::contains("verify    PASS"))
        .stdout(predicate::str::contains("TFLOP/s"));
    assert!(files_in(dir.path()).is_empty(), "--no-save wrote a file");
}

#[test]
fn json_output_is_the_record_with_every_phase() {
    let v = json_run(&["cpu", "96", "--seed", "7", "--reps", "4", "--warmup", "1"]);
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["config"]["n"], 96);
    assert_eq!(v["config"]["seed"], 7);
    assert_eq!(v["config"]["backend"], "cpu");
    assert_eq!(v["matmul"]["samples_s"].as_array().unwrap().len(), 4);
    assert_eq!(v["reduce"]["samples_s"].as_array().unwrap().len(), 4);
    assert_eq!(v["verification"]["passed"], true);
    for phase in [
        "startup_s",
        "generate_s",
        "verify_s",
        "script_time_taken_s",
        "process_s",
    ] {
        assert!(v["phases"][phase].as_f64().unwrap() >= 0.0, "{phase}");
    }
    assert!(v["matmul_tflop_per_s"].as_f64().unwrap() > 0.0);
    // The math mode names the library of the engine that ran (auto: the machine's BLAS or faer).
    let call = match v["config"]["cpu_engine"].as_str().unwrap() {
        "blas" => "cblas_sgemm",
        _ => "faer",
    };
    assert!(v["math_mode"].as_str().unwrap().contains(call), "{v}");
    assert!(!v["git_commit"].as_str().unwrap().is_empty());
}

#[test]
fn same_seed_gives_the_same_matrix_on_both_cpu_engines_and_dtypes_run() {
    let a = json_run(&["cpu", "80", "--seed", "3", "--reps", "1"]);
    let b = json_run(&[
        "cpu",
        "80",
        "--seed",
        "3",
        "--reps",
        "1",
        "--cpu-engine",
        "matrixmultiply",
        "--threads",
        "1",
    ]);
    assert_eq!(
        a["verification"]["sum_reference"],
        b["verification"]["sum_reference"]
    );
    assert_eq!(b["config"]["cpu_engine"], "matrixmultiply");
    assert_eq!(b["device"]["threads"], 1);
    let d = json_run(&[
        "cpu", "80", "--seed", "3", "--reps", "1", "--dtype", "f64", "--warmup", "0",
    ]);
    assert_eq!(d["config"]["dtype"], "f64");
    assert_eq!(d["verification"]["passed"], true);
    assert!(d["verification"]["sum_rel_error"].as_f64().unwrap() < 1e-12);
}

#[test]
fn a_record_is_saved_atomically_under_a_unique_name() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        matbench(dir.path())
            .args(["cpu", "64", "--reps", "1"])
            .assert()
            .success()
            .stdout(predicate::str::contains("record    "));
    }
    let files = files_in(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.ends_with("_f32_n64.json") && name.contains("_cpu-"),
            "{name}"
        );
        let record = matbench::record::read::read(f).expect("the record reads back");
        assert!(record.verification.passed);
    }
}

#[test]
fn results_dir_flag_beats_the_environment() {
    let env_dir = tempfile::tempdir().unwrap();
    let flag_dir = tempfile::tempdir().unwrap();
    matbench(env_dir.path())
        .args([
            "cpu",
            "32",
            "--reps",
            "1",
            "--format",
            "json",
            "--results-dir",
        ])
        .arg(flag_dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("record saved as"));
    assert!(files_in(env_dir.path()).is_empty());
    assert_eq!(files_in(flag_dir.path()).len(), 1);
}

#[test]
fn an_unwritable_results_dir_still_prints_the_result_and_exits_6() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let out = matbench(dir.path())
        .args(["cpu", "32", "--reps", "1"])
        .arg("--results-dir")
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Shape: (32, 32)"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("could not save the record in"), "{err}");
    assert_eq!(files_in(dir.path()).len(), 1, "only the blocker file");
}

/// `--timeout`: one line saying where the run was, exit 11, and the repetitions measured until
/// then saved as a record marked `timed_out` that no reader takes for a result.
#[test]
fn a_run_past_its_timeout_is_stopped_with_one_line_saying_where_and_exits_11() {
    let dir = tempfile::tempdir().unwrap();
    // A few ms per product: many finish in 1.5 s, 100000 of them cannot.
    let started = std::time::Instant::now();
    let out = matbench(dir.path())
        .args(["cpu", "400", "--cpu-engine", "faer", "--threads", "1"])
        .args(["--warmup", "0", "--reps", "100000", "--timeout", "1.5"])
        .output()
        .unwrap();
    assert!(
        started.elapsed().as_secs() < 60,
        "the watchdog stopped the run"
    );
    assert_eq!(out.status.code(), Some(11));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("matbench: error: the run did not finish within --timeout 1.5 s and was stopped; it was at CPU: measured repetition "),
        "{err}"
    );
    let files = files_in(dir.path());
    assert_eq!(files.len(), 1, "the record of what was measured: {files:?}");
    let path = dir.path().join(&files[0]);
    assert!(
        err.trim_end()
            .ends_with(&format!("marked timed out, in {}", path.display())),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["timed_out"]["limit_s"], 1.5);
    assert!(
        v["timed_out"]["at"]
            .as_str()
            .unwrap()
            .starts_with("CPU: measured repetition "),
        "{v}"
    );
    assert_eq!(v["verification"]["passed"], false);
    let reps = v["config"]["reps"].as_u64().unwrap();
    assert!((1..100_000).contains(&reps));
    assert_eq!(
        v["matmul"]["samples_s"].as_array().unwrap().len() as u64,
        reps
    );
    common::assert_meets_the_schema(&v);
    // Readers take it for what it is: a run without a verified answer.
    let report = matbench(dir.path())
        .args(["report"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(8), "{report:?}");
    // A run that finishes in time is not touched by it.
    matbench(dir.path())
        .args(["cpu", "64", "--reps", "2", "--timeout", "120"])
        .assert()
        .success();
}

/// Each bad input: one line on stderr, the documented exit code, no panic, no file written.
#[test]
fn bad_input_gets_one_line_and_a_documented_exit_code() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["cpu", "0"], 2, "at least 1"),
        (
            &["gpu", "64", "--algo", "search", "--op", "syrk"],
            2,
            "SYRK is not searched",
        ),
        (
            &["gpu", "64", "--algo", "default", "--cache-dir", "c"],
            2,
            "--cache-dir is for --algo search",
        ),
        (
            &[
                "gpu",
                "64",
                "--algo",
                "search",
                "--cache-dir",
                "same",
                "--results-dir",
                "same",
            ],
            2,
            "is the results directory",
        ),
        (&["cpu", "-3"], 2, "at least 1"),
        (&["cpu", "ten"], 2, "positive whole number"),
        (&["cpu", "3.5"], 2, "positive whole number"),
        (&["cpu", "99999999999"], 2, "too large"),
        (
            &["cpu", "64", "--reps", "0"],
            2,
            "--reps must be at least 1",
        ),
        (&["cpu", "64", "--reps", "999999999"], 2, "too many"),
        (&["cpu", "64", "--reps", "-1"], 2, "'-1'"),
        (&["cpu", "64", "--warmup", "50000"], 2, "too many"),
        (
            &["cpu", "64", "--threads", "0"],
            2,
            "--threads must be at least 1",
        ),
        (&["cpu", "64", "--threads", "999999"], 2, "too many"),
        (
            &["cpu", "64", "--dtype", "bf16"],
            2,
            "does not support --dtype bf16",
        ),
        (
            &["cpu", "64", "--dtype", "f16"],
            2,
            "does not support --dtype f16",
        ),
        (&["cpu", "64", "--dtype", "f8"], 2, "invalid value 'f8'"),
        (
            &["cpu", "64", "--dtype", "fp8"],
            2,
            "does not support --dtype fp8",
        ),
        // refused before any GPU is opened, so on any machine
        (
            &["gpu", "1000", "--dtype", "fp8"],
            2,
            "multiple of 16 (cuBLASLt's FP8 kernels read A's rows 16-byte aligned); n = 1000 is not: try 992 or 1008",
        ),
        (&["gpu", "8", "--dtype", "fp8"], 2, "n = 8 is not: try 16"),
        (&["tpu", "64"], 2, "unrecognized subcommand 'tpu'"),
        (&["cpu"], 2, "not provided: <N> (usage: matbench cpu"),
        (&["export", "results"], 2, "not provided: --to <TO>"),
        (&["cpu", "64", "--gpu", "1"], 2, "unexpected argument"),
        (&["cpu", "1000000", "--dtype", "f64"], 4, "is available"),
    ];
    for (args, code, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = matbench(dir.path()).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?}: one line expected, got: {err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{args:?}: {err}"
        );
        assert!(files_in(dir.path()).is_empty(), "{args:?} left a file");
    }
}

#[test]
fn gpu_without_a_usable_gpu_says_why_and_exits_3() {
    if common::gpu_unavailable().is_none() {
        common::skip(
            "gpu_without_a_usable_gpu_says_why_and_exits_3",
            "this machine has a GPU",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = matbench(dir.path()).args(["gpu", "256"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("NVIDIA") || err.contains("GPU"), "{err}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn info_lists_the_cpu_and_explains_a_missing_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = matbench(dir.path())
        .args(["info", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["host"]["cpu_threads"].as_u64().unwrap() >= 1);
    assert!(v["host"]["memory_total_byte"].as_u64().unwrap() > 0);
    let gpus = v["gpus"].as_array().unwrap();
    assert!(!gpus.is_empty() || v["gpu_unavailable"].is_string());
    matbench(dir.path())
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::contains("cpu "));
}

#[test]
fn help_and_version_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    matbench(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("gpu"));
    matbench(dir.path())
        .args(["cpu", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--cpu-engine"));
    matbench(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn syrk_computes_one_triangle_and_reports_both_rates() {
    let gemm = json_run(&["cpu", "96", "--seed", "4", "--reps", "2"]);
    let syrk = json_run(&["cpu", "96", "--seed", "4", "--reps", "2", "--op", "syrk"]);
    assert_eq!(syrk["config"]["op"], "syrk");
    assert_eq!(gemm["config"]["op"], "gemm");
    assert_eq!(syrk["verification"]["passed"], true);
    assert_eq!(
        syrk["verification"]["sum_reference"],
        gemm["verification"]["sum_reference"]
    );
    let real = syrk["matmul_tflop_per_s"].as_f64().unwrap();
    let equivalent = syrk["matmul_gemm_equivalent_tflop_per_s"].as_f64().unwrap();
    assert!(
        (equivalent / real - 2.0 * 96.0 / 97.0).abs() < 1e-9,
        "{equivalent} / {real}"
    );
    assert_eq!(
        syrk["flop_per_matmul"].as_f64().unwrap(),
        96.0 * 96.0 * 97.0
    );
    assert!(syrk["math_mode"].as_str().unwrap().contains("SYRK"));
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &[
                "cpu",
                "64",
                "--op",
                "syrk",
                "--cpu-engine",
                "matrixmultiply",
            ][..],
            "needs --cpu-engine faer",
        ),
        (
            &["gpu", "64", "--op", "syrk", "--dtype", "bf16"][..],
            "runs in f32 or f64",
        ),
    ] {
        let out = matbench(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.lines().count() == 1, "{err}");
    }
}

/// `--cpu-engine blas` on the machine's CBLAS (CI installs the distribution's OpenBLAS and sets
/// `MATBENCH_REQUIRE_BLAS=1`), and `auto` choosing it and saying why; a library that is not
/// a CBLAS is refused with exit 3.
#[test]
fn the_blas_engine_runs_the_machines_library_and_auto_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = matbench(dir.path())
        .args(["cpu", "96", "--reps", "2", "--no-save", "--format", "json"])
        .args(["--cpu-engine", "blas"])
        .output()
        .unwrap();
    if out.status.code() == Some(3) && std::env::var_os("MATBENCH_REQUIRE_BLAS").is_none() {
        common::skip(
            "the_blas_engine_runs_the_machines_library_and_auto_says_why",
            &String::from_utf8_lossy(&out.stderr),
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_meets_the_schema(&v);
    assert_eq!(v["config"]["cpu_engine"], "blas");
    assert_eq!(v["verification"]["passed"], true);
    assert!(
        v["math_mode"].as_str().unwrap().contains("cblas_sgemm"),
        "{v}"
    );
    assert!(
        v["device"]["blas_library"]
            .as_str()
            .unwrap()
            .contains("threads")
    );
    // An OpenBLAS older than its CPU runs the kernel the CPU deserves, not a generic one.
    let library = v["device"]["blas_library"].as_str().unwrap();
    let build = library.split(" [").next().unwrap();
    #[cfg(target_arch = "x86_64")]
    if library.contains("DYNAMIC_ARCH")
        && std::env::var_os("OPENBLAS_CORETYPE").is_none()
        && std::arch::is_x86_feature_detected!("avx2")
    {
        for generic in [
            "Prescott",
            "Core2",
            "Penryn",
            "Dunnington",
            "Nehalem",
            "Atom",
        ] {
            assert!(!build.contains(&format!(" {generic} ")), "{library}");
        }
    }
    // `auto` times the BLAS against faer on the problem and says which it kept and why.
    let auto = common::json_run_in_temp(&["cpu", "96", "--reps", "2", "--cpu-engine", "auto"]).0;
    let why = auto["device"]["engine_choice"].as_str().unwrap();
    assert!(auto["phases"]["tune_s"].as_f64().unwrap() >= 0.0, "{auto}");
    // Whichever engine it kept, the reason names the library it timed (the image check
    // relies on it).
    assert!(why.contains(build), "{why} does not name {build}");
    match auto["config"]["cpu_engine"].as_str().unwrap() {
        "blas" => {
            assert!(why.starts_with("auto: the machine's BLAS"), "{why}");
            assert!(auto["device"]["blas_library"].is_string(), "{auto}");
        }
        "faer" => {
            assert!(
                why.starts_with("auto: faer") && why.contains("faster"),
                "{why}"
            );
            assert!(auto["device"]["blas_library"].is_null(), "{auto}");
        }
        other => panic!("auto ran {other}"),
    }
    assert!(why.contains("at n = 96"), "{why}");
    let out = matbench(dir.path())
        .args([
            "cpu",
            "96",
            "--no-save",
            "--cpu-engine",
            "auto",
            "--blas-lib",
            "libm.so.6",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a CBLAS library"), "{err}");
}
