//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// Returns from the test, saying so on stderr, where GPU 0 is not usable.
#[allow(unused_macros)]
macro_rules! require_gpu {
    ($name:expr) => {
        if let Some(why) = common::gpu_unavailable() {
            common::skip($name, &format!("no usable GPU here: {why}"));
            return;
        }
    };
}

/// Says plainly, on the real stderr (libtest does not capture direct writes), that a test
/// did not run here and why.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// `Err(reason)` when GPU 0 cannot be used on this machine.
pub fn gpu_unavailable() -> Option<String> {
    matbench::backend::cuda::probe::check_index(0)
        .err()
        .map(|e| e.to_string())
}

/// The matbench binary with nothing from the caller's environment that changes what it does:
/// no results directory (`MATBENCH_RESULTS_DIR`), no host-name override (`MATBENCH_HOSTNAME`),
/// no backtrace variable. For commands that only read records, print with `--no-save`, or
/// are given `--results-dir`.
pub fn matbench_bare() -> assert_cmd::Command {
    let mut cmd =
        assert_cmd::Command::cargo_bin("matbench").expect("the matbench binary is built for tests");
    cmd.env_remove("MATBENCH_RESULTS_DIR")
        .env_remove("MATBENCH_HOSTNAME")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// The matbench binary, saving into `results`, without a backtrace variable from the caller.
pub fn matbench(results: &Path) -> assert_cmd::Command {
    let mut cmd = matbench_bare();
    cmd.env("MATBENCH_RESULTS_DIR", results);
    cmd
}

/// Checks `value` against the committed JSON Schema of a record (`docs/record.schema.json`),
/// when it is a record (it has a `schema_version`): every record a test sees or writes meets it.
pub fn assert_meets_the_schema(value: &serde_json::Value) {
    use std::sync::OnceLock;
    if value.get("schema_version").is_none() {
        return;
    }
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/record.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the schema is committed"))
                .expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    });
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "the record does not meet its schema: {errors:?}"
    );
}

/// The entries of `dir` (none when it does not exist). Every record among them is checked
/// against the schema ([`assert_meets_the_schema`]).
pub fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
    {
        if let Some(v) = std::fs::read(f)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        {
            assert_meets_the_schema(&v);
        }
    }
    files
}

/// Runs `matbench ARGS --format json --no-save` in a fresh results directory; returns the JSON
/// document on stdout and that directory's entries afterwards.
pub fn json_run_in_temp(args: &[&str]) -> (serde_json::Value, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let out = matbench(dir.path())
        .args(args)
        .args(["--format", "json", "--no-save"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_meets_the_schema(&value);
    (value, files_in(dir.path()))
}

/// `real` (a record as matbench wrote it) with its matmul timings replaced by `samples_s`,
/// chosen by the test: the one place a test makes up timings, so that no test depends on how
/// fast or busy the machine is. Everything the reader's validator ties to the samples is made
/// to agree: `config.reps` is the sample count, `matmul` is the [`Summary`] of the samples
/// (median, min, max, mean, stddev), `matmul_tflop_per_s` is `flop_per_matmul / median`, and
/// the GEMM-equivalent rate and the measured time follow. The result reads back with
/// `matbench::record::read` (this is checked here).
///
/// [`Summary`]: matbench::model::stats::Summary
pub fn record_with_samples(real: &serde_json::Value, samples_s: &[f64]) -> serde_json::Value {
    use serde_json::json;
    let summary = matbench::model::stats::Summary::from_samples(samples_s)
        .expect("at least one finite sample");
    let mut v = real.clone();
    v["config"]["reps"] = json!(samples_s.len());
    v["matmul"] = serde_json::to_value(&summary).expect("a summary is JSON");
    let flop = v["flop_per_matmul"]
        .as_f64()
        .expect("the record has flop_per_matmul");
    v["matmul_tflop_per_s"] = json!(flop / summary.median_s / 1e12);
    if v.get("matmul_gemm_equivalent_tflop_per_s").is_some() {
        let n = v["config"]["n"].as_f64().expect("the record has config.n");
        v["matmul_gemm_equivalent_tflop_per_s"] = json!(2.0 * n * n * n / summary.median_s / 1e12);
    }
    if v["repetitions"].get("measured_s").is_some() {
        v["repetitions"]["measured_s"] = json!(samples_s.iter().sum::<f64>());
    }
    let record: matbench::record::RunRecord =
        serde_json::from_value(v.clone()).expect("still a record");
    if let Err(why) = matbench::record::read::validate(&record) {
        panic!("the made-up record does not validate: {why}");
    }
    assert_meets_the_schema(&v);
    v
}

/// `count` samples centred on `centre_s`, spread evenly over ±`spread` (a fraction: 0.002 for
/// ±0.2%), lowest and highest alternating (not sorted, as real repetitions are not).
pub fn samples_around(centre_s: f64, spread: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| {
            let step = if i % 2 == 0 { i / 2 } else { count - 1 - i / 2 };
            let x = if count > 1 {
                step as f64 / (count - 1) as f64 * 2.0 - 1.0
            } else {
                0.0
            };
            centre_s * (1.0 + spread * x)
        })
        .collect()
}

/// Writes `record` as pretty JSON to `dir/name` (creating `dir`); returns the path.
pub fn write_record(dir: &Path, name: &str, record: &serde_json::Value) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).expect("the directory can be made");
    let path = dir.join(name);
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(record).expect("a record is JSON"),
    )
    .expect("the record is written");
    path
}

/// A failed run said what it should: exit `exit`, exactly one line on stderr, containing
/// `needle`, and no panic.
pub fn assert_fails_with(out: &std::process::Output, exit: matbench::error::Exit, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(i32::from(exit.code())), "{err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
