//! `matbench report` over several hosts' records, and the host-name override it relies on.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn matbench() -> Command {
    let mut cmd = Command::cargo_bin("matbench").expect("the matbench binary is built for tests");
    cmd.env_remove("MATBENCH_RESULTS_DIR")
        .env_remove("MATBENCH_HOSTNAME");
    cmd
}

/// One real run recorded as `host`, its throughput then set to `tflops` (so the test does not
/// depend on how busy this machine is).
fn node_record(dir: &Path, host: &str, tflops: f64) {
    let out = matbench()
        .env("MATBENCH_HOSTNAME", host)
        .args([
            "cpu",
            "64",
            "--reps",
            "2",
            "--warmup",
            "0",
            "--format",
            "json",
            "--no-save",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["host"]["hostname"], host,
        "MATBENCH_HOSTNAME names the host in the record"
    );
    // A consistent record at that rate: every sample, and so the median, gives it.
    let t = v["flop_per_matmul"].as_f64().unwrap() / (tflops * 1e12);
    v["matmul_tflop_per_s"] = serde_json::json!(tflops);
    v["matmul"] = serde_json::json!({
        "median_s": t, "min_s": t, "max_s": t, "mean_s": t, "stddev_s": 0.0,
        "samples_s": [t, t]
    });
    std::fs::write(
        dir.join(format!("{host}.json")),
        serde_json::to_vec_pretty(&v).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_slow_node_is_named_and_check_fails_on_it() {
    let dir = tempfile::tempdir().unwrap();
    for (host, t) in [
        ("node-a", 1.00),
        ("node-b", 1.02),
        ("node-c", 0.98),
        ("node-d", 0.70),
    ] {
        node_record(dir.path(), host, t);
    }
    matbench()
        .arg("report")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "outliers (more than 10% below the fleet median): node-d",
        ))
        .stdout(predicate::str::contains("OUTLIER"));
    matbench()
        .arg("report")
        .arg(dir.path())
        .arg("--check")
        .assert()
        .code(1);
    matbench()
        .arg("report")
        .arg(dir.path())
        .args(["--check", "--margin", "40"])
        .assert()
        .success();
    let out = matbench()
        .arg("report")
        .arg(dir.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outliers"], serde_json::json!(["node-d"]));
    let md = matbench()
        .arg("report")
        .arg(dir.path())
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&md.stdout).starts_with("**matbench report: outliers"));
}

#[test]
fn report_bad_input_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        vec![empty.path().to_str().unwrap().to_string()],
        vec!["/no/such/dir".into()],
        vec![
            empty.path().to_str().unwrap().to_string(),
            "--margin".into(),
            "150".into(),
        ],
    ] {
        let out = matbench().arg("report").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
}

#[test]
fn the_kubernetes_manifest_passes_the_node_name_to_matbench() {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/k8s/matbench-job.yaml"
    ))
    .unwrap();
    for needle in [
        "completionMode: Indexed",
        "nvidia.com/gpu",
        "name: MATBENCH_HOSTNAME",
        "fieldPath: spec.nodeName",
        "name: MATBENCH_RESULTS_DIR",
        "topologyKey: kubernetes.io/hostname",
    ] {
        assert!(manifest.contains(needle), "{needle}");
    }
}
