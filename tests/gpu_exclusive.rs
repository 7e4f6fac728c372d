//! GPU tests of `--check` and `--require-exclusive` through the binary alone. They live in a
//! test executable of their own because NVML lists every process holding a CUDA context: the
//! in-process tests of `tests/gpu.rs` hold one, and a child run would (rightly) call its GPU
//! shared with the test harness. Nothing here opens the GPU in the test process. They skip,
//! saying so on stderr, where no GPU is usable.

#[macro_use]
mod common;

/// One test at a time: two runs at once would each (rightly) find the GPU shared.
static GPU: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    GPU.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn gpu_cli_run_records_a_verified_true_fp32_result() {
    require_gpu!("gpu_cli_run_records_a_verified_true_fp32_result");
    let _gpu = alone();
    let dir = tempfile::tempdir().unwrap();
    let out = common::matbench(dir.path())
        .args(["gpu", "4096", "--format", "json", "--reps", "5", "--check"])
        .arg("--require-exclusive")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verification"]["passed"], true);
    assert_eq!(v["check"]["passed"], true, "{}", v["check"]);
    // Alone on its GPU: not shared, and the counters were read beside the work.
    let health = &v["health"];
    assert_eq!(health["shared"], false, "{health}");
    assert!(health["query_s"].as_f64().unwrap() < 1.0, "{health}");
    assert!(
        health["pcie"].is_object() || health["unavailable"].to_string().contains("PCIe"),
        "{health}"
    );
    assert!(v["peak"]["reduce_tbyte_per_s"].as_f64().unwrap() > 0.0);
    if let Some(share) = v["peak"]["matmul_share"].as_f64() {
        assert!((0.05..1.05).contains(&share), "{}", v["peak"]);
        assert_eq!(v["check"]["min_share"], 0.5);
    } else {
        assert!(v["peak"]["unknown"].is_string(), "{}", v["peak"]);
    }
    assert_eq!(v["device"]["kind"], "gpu");
    assert!(v["math_mode"].as_str().unwrap().contains("true FP32"));
    assert!(v["device"]["uuid"].as_str().unwrap().starts_with("GPU-"));
    assert!(v["device"]["cublas_version"].is_string());
    // A shipped architecture loads its CUBIN: no NVRTC call, nothing to wait for.
    let cc = v["device"]["compute_capability"].as_str().unwrap();
    let (major, minor) = cc.split_once('.').unwrap();
    let steps = &v["phases"]["startup_steps_s"];
    if matbench::backend::cuda::kernels::shipped(major.parse().unwrap(), minor.parse().unwrap())
        .is_some()
    {
        assert!(
            v["math_mode"].as_str().unwrap().contains("shipped sm_"),
            "{}",
            v["math_mode"]
        );
        assert!(
            steps["kernels_compile (helper thread)"].is_null(),
            "{steps}"
        );
        assert!(steps["kernels_wait"].as_f64().unwrap() < 0.01, "{steps}");
    }
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn gpu_check_fails_below_a_floor_no_gpu_reaches_and_records_why() {
    let name = "gpu_check_fails_below_a_floor_no_gpu_reaches_and_records_why";
    require_gpu!(name);
    let _gpu = alone();
    let dir = tempfile::tempdir().unwrap();
    let out = common::matbench(dir.path())
        .args([
            "gpu",
            "4096",
            "--reps",
            "3",
            "--check",
            "--min-share",
            "100",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.contains("no share of peak") {
        common::skip(
            name,
            "this GPU model has no datasheet peak in matbench's table",
        );
        return;
    }
    assert_eq!(out.status.code(), Some(7), "{stdout}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("below the 100% floor (--min-share) (--check)"),
        "{err}"
    );
    assert!(stdout.contains("  check     FAIL: GPU 0 ("), "{stdout}");
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(v["check"]["passed"], false);
    assert!(
        v["check"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("of its")
    );
}
