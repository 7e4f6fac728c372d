//! `matbench export` on real records with timings chosen by the test: both formats parse, name
//! every benchmark once, and carry the pooled statistics in the units their dashboards expect.

mod common;

use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// Real records of n = 64 and n = 96, 4 repetitions each (made once per test process; their
/// timings are replaced).
fn real() -> &'static (Value, Value) {
    static REAL: OnceLock<(Value, Value)> = OnceLock::new();
    REAL.get_or_init(|| {
        // faer, named: the setup in the names the tests look for is faer's.
        let run = |n: &str| {
            common::json_run_in_temp(&[
                "cpu",
                n,
                "--reps",
                "4",
                "--warmup",
                "1",
                "--cpu-engine",
                "faer",
            ])
            .0
        };
        (run("64"), run("96"))
    })
}

/// Two runs of n = 64 (around 1.0 and 1.002 ms, ±0.2%) and one of n = 96 (around 3 ms) in
/// `dir`, with timings chosen here; returns the CPU model the records name.
fn record_runs(dir: &Path) -> String {
    let (n64, n96) = real();
    for (name, real, centre_s) in [
        ("a-64.json", n64, 1.0e-3),
        ("b-64.json", n64, 1.002e-3),
        ("c-96.json", n96, 3.0e-3),
    ] {
        let samples = common::samples_around(centre_s, 0.002, 4);
        common::write_record(dir, name, &common::record_with_samples(real, &samples));
    }
    n64["device"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Every matmul sample of the n = 64 records in `dir`.
fn samples_64(dir: &Path) -> Vec<f64> {
    let records = matbench::record::read::read_all(&[dir.to_path_buf()]).expect("records read");
    records
        .iter()
        .filter(|(_, r)| r.config.n == 64)
        .flat_map(|(_, r)| r.matmul.samples_s.clone())
        .collect()
}

fn export(dir: &Path, to: &str) -> Value {
    let out = common::matbench_bare()
        .arg("export")
        .arg(dir)
        .args(["--to", to])
        .output()
        .expect("matbench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn github_action_benchmark_lists_each_benchmark_once_in_ms() {
    let dir = tempfile::tempdir().unwrap();
    let device = record_runs(dir.path());
    let v = export(dir.path(), "github-action-benchmark");
    let list = v.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{v:#}");
    // Named by key and setup: `cpu <model> f32 n=64 matmul (faer, <threads> threads)`.
    let name = format!("cpu {device} f32 n=64 matmul (faer, ");
    let e = list
        .iter()
        .find(|e| e["name"].as_str().is_some_and(|n| n.starts_with(&name)))
        .unwrap_or_else(|| panic!("{name} in {v:#}"));
    assert_eq!(e["unit"], "ms");
    let summary = matbench::model::stats::Summary::from_samples(&samples_64(dir.path())).unwrap();
    let value = e["value"].as_f64().unwrap();
    assert!((value - summary.median_s * 1e3).abs() < 1e-9, "{value}");
    assert!(
        (value - 1.001).abs() < 0.002,
        "the chosen timings, in ms: {value}"
    );
    let range = e["range"].as_str().unwrap();
    assert!(range.starts_with("± ") && range.ends_with(" ms"), "{range}");
    let extra = e["extra"].as_str().unwrap();
    assert!(extra.contains("FLOP/s"), "{extra}");
    assert!(extra.contains("2 runs, 8 samples"), "{extra}");
    assert!(extra.contains("host: "), "{extra}");
    for e in list {
        for field in ["name", "unit", "value", "range", "extra"] {
            assert!(!e[field].is_null(), "{field} in {e}");
        }
    }
}

#[test]
fn bencher_has_latency_in_ns_and_throughput_in_flop_per_s() {
    let dir = tempfile::tempdir().unwrap();
    let device = record_runs(dir.path());
    let v = export(dir.path(), "bencher");
    let map = v.as_object().expect("an object keyed by benchmark");
    assert_eq!(map.len(), 2, "{v:#}");
    let prefix = format!("cpu {device} f32 n=64 matmul (faer, ");
    let b = map
        .iter()
        .find(|(k, _)| k.starts_with(&prefix))
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("{prefix} in {v:#}"));
    let summary = matbench::model::stats::Summary::from_samples(&samples_64(dir.path())).unwrap();
    let lat = &b["latency"];
    assert!(
        (summary.median_s - 1.001e-3).abs() < 2e-6,
        "the chosen timings"
    );
    assert!((lat["value"].as_f64().unwrap() - summary.median_s * 1e9).abs() < 1e-3);
    assert!((lat["lower_value"].as_f64().unwrap() - summary.min_s * 1e9).abs() < 1e-3);
    assert!((lat["upper_value"].as_f64().unwrap() - summary.max_s * 1e9).abs() < 1e-3);
    let flop = 2.0 * 64f64.powi(3);
    let thr = &b["throughput"];
    let value = thr["value"].as_f64().unwrap();
    assert!(
        (value / (flop / summary.median_s) - 1.0).abs() < 1e-9,
        "{value}"
    );
    assert!(thr["lower_value"].as_f64().unwrap() <= value);
    assert!(thr["upper_value"].as_f64().unwrap() >= value);
    for (name, bench) in map {
        let measures: Vec<&String> = bench.as_object().unwrap().keys().collect();
        assert_eq!(measures, ["latency", "throughput"], "{name}");
    }
}

#[test]
fn export_of_bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, "{\"a\":1}").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (path, needle) in [
        (dir.path().join("missing.json"), "No such file"),
        (foreign, "no schema_version"),
        (empty, "no matbench records"),
    ] {
        for to in ["github-action-benchmark", "bencher"] {
            let out = common::matbench_bare()
                .arg("export")
                .arg(&path)
                .args(["--to", to])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(needle), "{err}");
            assert!(out.stdout.is_empty());
        }
    }
    let out = common::matbench_bare()
        .args(["export", "x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--to is required");
}
