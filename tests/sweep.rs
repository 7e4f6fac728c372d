//! `matbench sweep` and `matbench plot` as a user meets them.

mod common;

use common::matbench_bare as matbench;
use predicates::prelude::*;
use std::path::Path;

fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cpu_sweep_saves_every_run_prints_a_table_and_draws_a_chart() {
    let results = tempfile::tempdir().unwrap();
    let plots = tempfile::tempdir().unwrap();
    matbench()
        .args([
            "sweep",
            "--sizes",
            "48,96",
            "--devices",
            "cpu",
            "--dtypes",
            "f32,f64",
            "--reps",
            "2",
            "--warmup",
            "0",
        ])
        .arg("--results-dir")
        .arg(results.path())
        .arg("--plot-dir")
        .arg(plots.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("cpu TFLOP/s"))
        .stdout(predicate::str::contains("4 runs in"))
        .stdout(predicate::str::contains("tflops.svg"));
    let files = json_files(results.path());
    assert_eq!(files.len(), 4, "{files:?}");
    for f in &files {
        assert!(matbench::record::read::read(f).unwrap().verification.passed);
    }
    let svg = std::fs::read_to_string(plots.path().join("tflops.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("f64") && svg.contains("TFLOP/s"));
    assert!(
        !plots.path().join("speedup.svg").exists(),
        "no GPU runs, so no speed-up chart"
    );
    let frontier = std::fs::read_to_string(plots.path().join("accuracy.svg")).unwrap();
    assert!(
        frontier.contains("f32") && frontier.contains("f64"),
        "two dtypes, one frontier"
    );
}

#[test]
fn sweep_json_summary_lists_runs_in_order() {
    let results = tempfile::tempdir().unwrap();
    let out = matbench()
        .args([
            "sweep",
            "--sizes",
            "32..128",
            "--devices",
            "cpu",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--format",
            "json",
            "--quiet",
        ])
        .arg("--results-dir")
        .arg(results.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ns: Vec<u64> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, vec![32, 64, 128]);
    assert!(v["runs"].as_array().unwrap().iter().all(|r| {
        r["passed"] == true
            && r["record"].is_string()
            && r["max_element_rel_error"]
                .as_f64()
                .is_some_and(|e| e < 1e-4)
    }));
}

#[test]
fn sweep_bad_input_exits_2_before_any_run() {
    for args in [
        &["--sizes", "0,64"][..],
        &["--sizes", "128..64"],
        &["--sizes", "64", "--devices", "tpu"],
        &["--sizes", "64", "--devices", "cpu", "--dtypes", "bf16"],
        &["--sizes", "64", "--devices", "cpu", "--reps", "0"],
        &["--sizes", "64", "--devices", "cpu", "--dtypes", "f32,fp16"],
        &["--sizes", "64,100", "--devices", "gpu", "--dtypes", "fp8"],
        &[
            "--sizes",
            "1..1048576",
            "--devices",
            "cpu,gpu",
            "--dtypes",
            "f32,f64,tf32,bf16,f16",
        ],
    ] {
        let results = tempfile::tempdir().unwrap();
        let out = matbench()
            .arg("sweep")
            .args(args)
            .arg("--results-dir")
            .arg(results.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(json_files(results.path()).is_empty());
    }
}

#[test]
fn sweep_with_an_unusable_gpu_stops_before_running_anything() {
    if common::gpu_unavailable().is_none() {
        common::skip(
            "sweep_with_an_unusable_gpu_stops_before_running_anything",
            "this machine has a GPU",
        );
        return;
    }
    let results = tempfile::tempdir().unwrap();
    let out = matbench()
        .args(["sweep", "--sizes", "64", "--devices", "cpu,gpu"])
        .arg("--results-dir")
        .arg(results.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass --devices cpu"), "{err}");
    assert!(json_files(results.path()).is_empty());
}

#[test]
fn plot_draws_charts_from_the_h200_reference_records() {
    let plots = tempfile::tempdir().unwrap();
    let reference = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/results/reference/h200-2026-11-28"
    );
    matbench()
        .args(["plot", reference, "--out"])
        .arg(plots.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("speedup.svg"));
    let svg = std::fs::read_to_string(plots.path().join("speedup.svg")).unwrap();
    assert!(svg.contains("GPU / CPU (f32)"));
}

#[test]
fn plot_refuses_a_directory_without_records() {
    let empty = tempfile::tempdir().unwrap();
    let plots = tempfile::tempdir().unwrap();
    let out = matbench()
        .arg("plot")
        .arg(empty.path())
        .arg("--out")
        .arg(plots.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
