//! `matbench report` over several hosts' records, and the host-name override it relies on.

mod common;

use common::matbench_bare as matbench;
use predicates::prelude::*;
use std::path::Path;

/// One real run recorded as `host`, its samples then set so that its throughput is `tflops`
/// (so the test does not depend on how fast or busy this machine is).
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
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["host"]["hostname"], host,
        "MATBENCH_HOSTNAME names the host in the record"
    );
    // A consistent record at that rate: every sample, and so the median, gives it.
    let t = v["flop_per_matmul"].as_f64().unwrap() / (tflops * 1e12);
    let v = common::record_with_samples(&v, &[t, t]);
    assert!((v["matmul_tflop_per_s"].as_f64().unwrap() / tflops - 1.0).abs() < 1e-12);
    common::write_record(dir, &format!("{host}.json"), &v);
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
