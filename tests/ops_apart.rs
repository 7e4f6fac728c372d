//! GEMM and SYRK are different benchmarks everywhere a record is read: `compare`, `report`,
//! `export` and `plot` never pool, pair or name them as one. Checked on the committed H200
//! records: `h200-2026-11-28` (GEMM, with f32 n = 10000) and `h200-syrk-2026-11-28` (SYRK
//! f32 and f64 n = 10000, and one CPU SYRK and one CPU GEMM run of n = 4096).
//!
//! The old bug these guard against: a SYRK run keyed like a GEMM run of the same n, so that
//! `compare` called the SYRK run 49.6% "faster" than the GEMM one (it does half the FLOP).

mod common;

use matbench::error::Exit;
use matbench::record::RunRecord;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn reference(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/reference")
        .join(dir)
}

fn gemm_dir() -> PathBuf {
    reference("h200-2026-11-28")
}

fn syrk_dir() -> PathBuf {
    reference("h200-syrk-2026-11-28")
}

fn records(dir: &Path) -> Vec<(PathBuf, RunRecord)> {
    matbench::record::read::read_all(&[dir.to_path_buf()]).expect("the reference records read")
}

fn op_of(path: &str) -> String {
    let r = matbench::record::read::read(Path::new(path)).expect("a record the report names");
    r.config.op.name().to_string()
}

fn code(exit: Exit) -> i32 {
    i32::from(exit.code())
}

/// The fixture is what this file relies on: GEMM f32 n = 10000 on one side, SYRK f32
/// n = 10000 on the other, on the same device.
#[test]
fn the_reference_records_hold_both_ops_at_n_10000() {
    let has = |dir: &Path, op: &str| {
        records(dir).iter().any(|(_, r)| {
            r.config.op.name() == op
                && r.config.n == 10000
                && r.config.dtype.to_string() == "f32"
                && r.device.name == "NVIDIA H200"
        })
    };
    assert!(has(&gemm_dir(), "gemm"));
    assert!(has(&syrk_dir(), "syrk"));
    assert!(!has(&gemm_dir(), "syrk"));
}

#[test]
fn compare_never_pairs_a_gemm_run_with_a_syrk_run() {
    for (baseline, candidate) in [(gemm_dir(), syrk_dir()), (syrk_dir(), gemm_dir())] {
        let out = common::matbench_bare()
            .arg("compare")
            .arg(&baseline)
            .arg(&candidate)
            .args(["--format", "json"])
            .output()
            .expect("matbench runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status = out.status.code().expect("an exit code");
        if status == code(Exit::BadInput) {
            assert!(stderr.contains("nothing to compare"), "{stderr}");
            assert!(stdout.is_empty(), "{stdout}");
            continue;
        }
        assert!(
            status == code(Exit::Success) || status == code(Exit::Regression),
            "exit {status}: {stderr}"
        );
        let v: Value = serde_json::from_str(&stdout).expect("one JSON document");
        for c in v["comparisons"].as_array().expect("a list of comparisons") {
            let op = c["op"].as_str().expect("each comparison names its op");
            for side in ["baseline", "candidate"] {
                for file in c[side]["files"].as_array().unwrap() {
                    let file = file.as_str().unwrap();
                    assert_eq!(op_of(file), op, "{side} {file} in {}", c["name"]);
                }
            }
            // The old bug: SYRK f32 n=10000 (19.1 ms) against GEMM f32 n=10000 (37.9 ms).
            let change = c["change_percent"].as_f64().unwrap();
            assert!(
                !(c["n"] == 10000 && c["backend"] == "cuda"),
                "no CUDA n=10000 benchmark is on both sides: {c}"
            );
            assert!((change + 49.6).abs() > 0.5, "the old -49.6% verdict: {c}");
        }
        assert!(!stdout.contains("-49.6"), "{stdout}");
        // The SYRK runs are listed on their own side, as SYRK, never dropped.
        let syrk_side = if baseline == syrk_dir() {
            "only_in_baseline"
        } else {
            "only_in_candidate"
        };
        let syrk_only: Vec<&Value> = v[syrk_side]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["op"] == "syrk")
            .collect();
        assert!(
            syrk_only
                .iter()
                .any(|u| u["n"] == 10000 && u["dtype"] == "f32" && u["backend"] == "cuda"),
            "{v:#}"
        );
        for u in &syrk_only {
            assert!(u["name"].as_str().unwrap().contains("syrk"), "{u}");
        }
        let gemm_side = if syrk_side == "only_in_baseline" {
            "only_in_candidate"
        } else {
            "only_in_baseline"
        };
        assert!(
            v[gemm_side]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["op"] == "gemm"
                    && u["n"] == 10000
                    && u["dtype"] == "f32"
                    && u["backend"] == "cuda"
                    && u["name"] == "cuda NVIDIA H200 f32 n=10000"),
            "the GEMM run is listed on its own side: {v:#}"
        );
        // And the text report says the same, without a verdict on the pair.
        let text = common::matbench_bare()
            .arg("compare")
            .arg(&baseline)
            .arg(&candidate)
            .output()
            .expect("matbench runs");
        assert_eq!(text.status.code(), Some(status));
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(!text.contains("-49.6%"), "{text}");
        assert!(text.contains("syrk n=10000"), "{text}");
    }
}

#[test]
fn report_names_syrk_benchmarks_apart() {
    let out = common::matbench_bare()
        .arg("report")
        .arg(gemm_dir())
        .arg(syrk_dir())
        .args(["--format", "json"])
        .output()
        .expect("matbench runs");
    assert!(
        out.status.code() == Some(code(Exit::Success))
            || out.status.code() == Some(code(Exit::Regression)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let benchmarks = v["benchmarks"].as_array().expect("a list of benchmarks");
    let names: Vec<&str> = benchmarks
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.contains("syrk")).count(),
        3,
        "{names:?}"
    );
    assert!(
        names.contains(&"cuda NVIDIA H200 f32 syrk n=10000"),
        "{names:?}"
    );
    assert!(names.contains(&"cuda NVIDIA H200 f32 n=10000"), "{names:?}");
    // The SYRK benchmark's rate is the SYRK record's, not pooled with any GEMM run.
    let syrk_rate = records(&syrk_dir())
        .iter()
        .find(|(_, r)| {
            r.config.op.name() == "syrk"
                && r.config.n == 10000
                && r.config.dtype.to_string() == "f32"
        })
        .map(|(_, r)| r.matmul_tflop_per_s)
        .unwrap();
    let b = benchmarks
        .iter()
        .find(|b| b["name"] == "cuda NVIDIA H200 f32 syrk n=10000")
        .unwrap();
    let fleet = b["fleet_median_tflop_per_s"].as_f64().unwrap();
    assert!(
        (fleet / syrk_rate - 1.0).abs() < 1e-9,
        "{fleet} vs {syrk_rate}"
    );
    // And the GEMM benchmark's rate is far above it (GEMM counts 2n³, SYRK n²(n + 1)).
    let g = benchmarks
        .iter()
        .find(|b| b["name"] == "cuda NVIDIA H200 f32 n=10000")
        .unwrap();
    let gemm_rates: Vec<f64> = records(&gemm_dir())
        .iter()
        .filter(|(_, r)| {
            r.config.n == 10000
                && r.config.dtype.to_string() == "f32"
                && r.device.name == "NVIDIA H200"
        })
        .map(|(_, r)| r.matmul_tflop_per_s)
        .collect();
    let gemm_fleet = g["fleet_median_tflop_per_s"].as_f64().unwrap();
    let (lo, hi) = gemm_rates
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    assert!(
        (lo..=hi).contains(&gemm_fleet),
        "{gemm_fleet} within the GEMM records' rates {lo}..{hi}"
    );
}

/// `n` from a benchmark name (`... n=10000 matmul (...)`).
fn n_of(name: &str) -> f64 {
    name.split_whitespace()
        .find_map(|w| w.strip_prefix("n="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no n= in {name}"))
}

#[test]
fn export_names_syrk_apart_and_counts_its_flop() {
    let out = common::matbench_bare()
        .arg("export")
        .arg(gemm_dir())
        .arg(syrk_dir())
        .args(["--to", "bencher"])
        .output()
        .expect("matbench runs");
    assert_eq!(
        out.status.code(),
        Some(code(Exit::Success)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let map = v.as_object().expect("an object keyed by benchmark");
    let syrk_name = map
        .keys()
        .find(|k| k.starts_with("cuda NVIDIA H200 f32 syrk n=10000 matmul ("))
        .unwrap_or_else(|| panic!("a SYRK f32 n=10000 benchmark in {v:#}"));
    let gemm_names: Vec<&String> = map
        .keys()
        .filter(|k| k.starts_with("cuda NVIDIA H200 f32 n=10000 matmul ("))
        .collect();
    assert!(!gemm_names.is_empty(), "{v:#}");
    assert!(!gemm_names.contains(&syrk_name));
    // SYRK throughput: n²(n + 1) FLOP over the median of the SYRK record's samples.
    let syrk = records(&syrk_dir())
        .into_iter()
        .find(|(_, r)| {
            r.config.op.name() == "syrk"
                && r.config.n == 10000
                && r.config.dtype.to_string() == "f32"
        })
        .unwrap()
        .1;
    let median = matbench::model::stats::Summary::from_samples(&syrk.matmul.samples_s)
        .unwrap()
        .median_s;
    let n = 10000f64;
    let thr = map[syrk_name]["throughput"]["value"].as_f64().unwrap();
    assert!(
        (thr / (n * n * (n + 1.0) / median) - 1.0).abs() < 1e-9,
        "{thr}"
    );
    assert!(
        (thr / (2.0 * n * n * n / median) - 0.5).abs() < 1e-3,
        "not 2n³: {thr}"
    );
    // Every benchmark: throughput × latency is its op's FLOP count.
    for (name, b) in map {
        let n = n_of(name);
        let flop = b["throughput"]["value"].as_f64().unwrap()
            * b["latency"]["value"].as_f64().unwrap()
            / 1e9;
        let want = if name.contains(" syrk ") {
            n * n * (n + 1.0)
        } else {
            2.0 * n * n * n
        };
        assert!((flop / want - 1.0).abs() < 1e-6, "{name}: {flop} FLOP");
    }
}

#[test]
fn plot_draws_syrk_as_its_own_series() {
    let plots = tempfile::tempdir().unwrap();
    let out = common::matbench_bare()
        .arg("plot")
        .arg(gemm_dir())
        .arg(syrk_dir())
        .arg("--out")
        .arg(plots.path())
        .output()
        .expect("matbench runs");
    assert_eq!(
        out.status.code(),
        Some(code(Exit::Success)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(plots.path().join("tflops.svg")).expect("tflops.svg");
    assert!(svg.contains("syrk"), "the legend names the SYRK series");
    assert!(
        svg.contains("NVIDIA H200 (f32)"),
        "and the GEMM series apart"
    );
    assert!(svg.contains("NVIDIA H200 (f32 syrk)"), "{}", svg.len());
}
