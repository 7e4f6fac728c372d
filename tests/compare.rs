//! `matbench compare` on records whose timings the tests choose, and on every kind of bad input.
//!
//! The records are real ones (one small run of the binary per test process, [`real`]) with
//! their matmul samples replaced through [`common::record_with_samples`]: a baseline centred on
//! 1.0 ms with ±0.2% spread, a candidate twice as slow, one 0.1% slower (the same, within any
//! threshold above 0.2%), and one with ±30% spread (unclear). So every verdict below is the
//! one the samples call for, however fast or busy the machine running the tests is, and the
//! same files always give the same report.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Matrix size of the runs compared.
const N: u64 = 64;
/// Matrix size of the one run nothing else matches.
const OTHER_N: u64 = 32;
/// Runs per side, and samples per run.
const RUNS: usize = 3;
const REPS: usize = 10;

/// Real records as `matbench cpu` writes them: n = [`N`] with [`REPS`] repetitions, and
/// n = [`OTHER_N`] with 3 (made once per test process; their timings are never used).
fn real() -> &'static (Value, Value) {
    static REAL: OnceLock<(Value, Value)> = OnceLock::new();
    REAL.get_or_init(|| {
        let reps = REPS.to_string();
        let (main, _) = common::json_run_in_temp(&["cpu", &N.to_string(), "--reps", &reps]);
        let (other, _) = common::json_run_in_temp(&["cpu", &OTHER_N.to_string(), "--reps", "3"]);
        (main, other)
    })
}

/// `real` run with `threads` CPU threads (what `compare` notes as a differing setup).
fn with_threads(real: &Value, threads: u64) -> Value {
    let mut v = real.clone();
    v["config"]["threads"] = threads.into();
    v["device"]["threads"] = threads.into();
    v
}

struct Fixtures {
    _dir: tempfile::TempDir,
    /// [`RUNS`] runs centred on 1.0 ms, ±0.2%, 2 threads.
    baseline: PathBuf,
    /// [`RUNS`] runs centred on 2.0 ms, ±0.2%, 1 thread: twice as slow.
    slower: PathBuf,
    /// [`RUNS`] runs centred on 1.001 ms, ±0.2%, 2 threads: the same within 5%.
    same: PathBuf,
    /// [`RUNS`] runs centred on 1.0 ms, ±30%, 2 threads: too noisy to tell.
    noisy: PathBuf,
    /// One run of n = [`OTHER_N`], 3 samples (nothing in the other directories matches it).
    other_n: PathBuf,
}

/// Writes [`RUNS`] records of `real` into `dir`, run `i` centred on `centre_s` shifted by
/// a hair per run (as real runs differ a little).
fn write_runs(dir: &Path, real: &Value, centre_s: f64, spread: f64) {
    for run in 0..RUNS {
        let centre = centre_s * (1.0 + 0.0005 * (run as f64 - 1.0));
        let samples = common::samples_around(centre, spread, REPS);
        let record = common::record_with_samples(real, &samples);
        common::write_record(dir, &format!("run-{run}.json"), &record);
    }
}

/// A fresh set of fixture directories for one test.
fn fixtures() -> Fixtures {
    let (main, other) = real();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let f = Fixtures {
        baseline: dir.path().join("baseline"),
        slower: dir.path().join("slower"),
        same: dir.path().join("same"),
        noisy: dir.path().join("noisy"),
        other_n: dir.path().join("other-n"),
        _dir: dir,
    };
    let two = with_threads(main, 2);
    write_runs(&f.baseline, &two, 1.0e-3, 0.002);
    write_runs(&f.slower, &with_threads(main, 1), 2.0e-3, 0.002);
    write_runs(&f.same, &two, 1.001e-3, 0.002);
    write_runs(&f.noisy, &two, 1.0e-3, 0.3);
    let other = common::record_with_samples(other, &common::samples_around(0.5e-3, 0.002, 3));
    common::write_record(&f.other_n, "other.json", &other);
    f
}

/// `dir`'s first `*.json`, for tests that need one record.
fn first_record(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = common::files_in(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.remove(0)
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn compare(baseline: &Path, candidate: &Path, extra: &[&str]) -> Outcome {
    let out = common::matbench_bare()
        .arg("compare")
        .arg(baseline)
        .arg(candidate)
        .args(extra)
        .output()
        .expect("matbench runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(o: &Outcome) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.stdout))
}

#[test]
fn the_fixtures_are_what_the_tests_say() {
    let f = fixtures();
    for (dir, median_ms) in [
        (&f.baseline, 1.0),
        (&f.slower, 2.0),
        (&f.same, 1.001),
        (&f.noisy, 1.0),
    ] {
        let records = matbench::record::read::read_all(std::slice::from_ref(dir))
            .expect("the fixtures read back");
        assert_eq!(records.len(), RUNS);
        let samples: Vec<f64> = records
            .iter()
            .flat_map(|(_, r)| r.matmul.samples_s.clone())
            .collect();
        let s = matbench::model::stats::Summary::from_samples(&samples).unwrap();
        assert!(
            (s.median_s * 1e3 / median_ms - 1.0).abs() < 1e-3,
            "{}: {}",
            dir.display(),
            s.median_s
        );
    }
}

#[test]
fn a_candidate_twice_as_slow_is_slower_and_exits_1() {
    let f = fixtures();
    let o = compare(&f.baseline, &f.slower, &[]);
    assert_eq!(o.code, Some(1), "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    assert!(o.stdout.starts_with("matbench compare:"), "{}", o.stdout);
    assert!(o.stdout.contains("regression: 1 slower"), "{}", o.stdout);
    assert!(o.stdout.contains(&format!("f32 n={N}")), "{}", o.stdout);
    assert!(
        o.stdout.contains("3×30 → 3×30"),
        "runs and samples: {}",
        o.stdout
    );
    assert!(o.stdout.contains("+100.0%"), "{}", o.stdout);
    assert!(o.stdout.contains("GFLOP/s"), "{}", o.stdout);
    assert!(
        o.stdout.contains("1 thread"),
        "the differing setup is noted: {}",
        o.stdout
    );
}

#[test]
fn a_candidate_twice_as_fast_is_faster_and_exits_0() {
    let f = fixtures();
    let o = compare(&f.slower, &f.baseline, &["--format", "json"]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = json(&o);
    let c = &v["comparisons"][0];
    assert_eq!(c["verdict"], "faster", "{c}");
    let change = c["change_percent"].as_f64().unwrap();
    assert!((change + 50.0).abs() < 1e-6, "{c}");
    assert!(c["ratio_high"].as_f64().unwrap() < 0.95, "{c}");
    assert_eq!(v["counts"]["faster"], 1);
    assert_eq!(v["exit_code"], 0);
}

#[test]
fn the_same_speed_twice_is_same_and_the_report_is_deterministic() {
    let f = fixtures();
    let o = compare(&f.baseline, &f.same, &["--format", "json"]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = json(&o);
    let c = &v["comparisons"][0];
    assert_eq!(c["verdict"], "same", "{c}");
    assert!(c["ratio_low"].as_f64().unwrap() >= 0.95, "{c}");
    assert!(c["ratio_high"].as_f64().unwrap() <= 1.05, "{c}");
    assert_eq!(v["counts"]["same"], 1);
    assert_eq!(v["counts"]["slower"], 0);
    assert_eq!(v["exit_code"], 0);
    // No setup differs, so nothing is noted.
    assert_eq!(c["notes"], serde_json::json!([]), "{c}");
    // Deterministic: the same files give the same report, byte for byte, in every format.
    for format in ["json", "text", "markdown"] {
        let a = compare(&f.baseline, &f.same, &["--format", format]);
        let b = compare(&f.baseline, &f.same, &["--format", format]);
        assert_eq!(a.stdout, b.stdout, "{format}");
        assert_eq!(a.code, Some(0), "{format}");
    }
}

#[test]
fn fail_on_unclear_fails_exactly_when_a_verdict_is_unclear() {
    let f = fixtures();
    // Noisy samples: the interval spans both 0.95 and 1.05, so "unclear", which passes...
    let o = compare(&f.baseline, &f.noisy, &["--format", "json"]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = json(&o);
    assert_eq!(v["comparisons"][0]["verdict"], "unclear", "{v}");
    assert_eq!(v["counts"]["unclear"], 1);
    // ...unless --fail-on-unclear.
    let strict = compare(
        &f.baseline,
        &f.noisy,
        &["--format", "json", "--fail-on-unclear"],
    );
    assert_eq!(strict.code, Some(1), "{}", strict.stdout);
    assert_eq!(json(&strict)["exit_code"], 1);
    assert_eq!(json(&strict)["fail_on_unclear"], true);
    // A clear "same" does not fail with --fail-on-unclear.
    let same = compare(&f.baseline, &f.same, &["--fail-on-unclear"]);
    assert_eq!(same.code, Some(0), "{}", same.stdout);
    // A record against itself with a threshold of 0: the bootstrap interval still has a width
    // around 1, and with no room for "same" that is "unclear", which now fails.
    let record = first_record(&f.baseline);
    let zero = compare(
        &record,
        &record,
        &["--threshold", "0", "--fail-on-unclear", "--format", "json"],
    );
    assert_eq!(zero.code, Some(1), "{}", zero.stdout);
    assert_eq!(json(&zero)["comparisons"][0]["verdict"], "unclear");
    let lenient = compare(&record, &record, &["--threshold", "0"]);
    assert_eq!(lenient.code, Some(0), "{}", lenient.stdout);
}

#[test]
fn markdown_and_json_carry_the_verdict() {
    let f = fixtures();
    let md = compare(&f.baseline, &f.slower, &["--format", "markdown"]);
    assert_eq!(md.code, Some(1), "{}{}", md.stdout, md.stderr);
    let first = md.stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("❌ regression") && first.contains("1 slower"),
        "{first}"
    );
    assert!(
        md.stdout.contains("| benchmark | baseline | candidate |"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("🔴 slower"), "{}", md.stdout);
    assert!(md.stdout.contains("bootstrap"), "the rule is in the footer");

    let js = compare(&f.baseline, &f.slower, &["--format", "json"]);
    assert_eq!(js.code, Some(1));
    let v = json(&js);
    assert_eq!(v["comparisons"][0]["verdict"], "slower");
    assert_eq!(v["counts"]["slower"], 1);
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["threshold_percent"], 5.0);
    let c = &v["comparisons"][0];
    assert_eq!(c["backend"], "cpu");
    assert_eq!(c["op"], "gemm");
    assert_eq!(c["n"], N);
    assert_eq!(c["baseline"]["runs"], RUNS);
    assert_eq!(c["candidate"]["samples"], RUNS * REPS);
    assert!(c["ratio_low"].as_f64().unwrap() > 1.05, "{c}");
    let rate = |side: &str| c[side]["tflop_per_s"].as_f64().unwrap();
    // 2·64³ FLOP in 1 ms and in 2 ms.
    let flop = 2.0 * (N as f64).powi(3);
    assert!(
        (rate("baseline") / (flop / 1.0e-3 / 1e12) - 1.0).abs() < 1e-3,
        "{c}"
    );
    assert!(
        (rate("candidate") / (flop / 2.0e-3 / 1e12) - 1.0).abs() < 1e-3,
        "{c}"
    );
}

#[test]
fn runs_on_one_side_only_are_listed() {
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    for src in [first_record(&f.baseline), first_record(&f.other_n)] {
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    let o = compare(dir.path(), &f.same, &[]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("only in baseline"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains(&format!("f32 n={OTHER_N}  (1 run, 3 samples")),
        "{}",
        o.stdout
    );
    let o = compare(&f.same, dir.path(), &["--format", "json"]);
    let v = json(&o);
    assert_eq!(v["counts"]["only_in_candidate"], 1);
    assert_eq!(v["only_in_candidate"][0]["n"], OTHER_N);
    assert_eq!(v["only_in_candidate"][0]["runs"]["samples"], 3);
    let md = compare(dir.path(), &f.same, &["--format", "markdown"]);
    assert!(md.stdout.contains("**Only in baseline:**"), "{}", md.stdout);
}

/// Each bad input: exit 2, one line on stderr naming the problem, nothing on stdout, no panic.
#[test]
fn bad_input_exits_2_with_one_line() {
    let f = fixtures();
    let good = first_record(&f.baseline);
    let text = std::fs::read_to_string(&good).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str, contents: &str| -> PathBuf {
        let p = tmp.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p
    };
    let mut other_version: serde_json::Value = serde_json::from_str(&text).unwrap();
    other_version["schema_version"] = 99.into();
    let mut no_samples = other_version.clone();
    no_samples["schema_version"] = matbench::record::SCHEMA_VERSION.into();
    no_samples["matmul"]["samples_s"] = serde_json::json!([]);
    let mut negative = no_samples.clone();
    negative["matmul"]["samples_s"] = serde_json::json!([0.001, -0.002]);
    let empty_dir = tmp.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let cases: Vec<(&str, PathBuf, PathBuf, Vec<&str>, &str)> = vec![
        (
            "missing file",
            tmp.path().join("missing.json"),
            good.clone(),
            vec![],
            "No such file",
        ),
        (
            "empty file",
            file("empty.json", ""),
            good.clone(),
            vec![],
            "not valid JSON",
        ),
        (
            "truncated JSON",
            good.clone(),
            file("truncated.json", &text[..text.len() / 2]),
            vec![],
            "not valid JSON",
        ),
        (
            "foreign JSON",
            file("foreign.json", "{\"a\":1}"),
            good.clone(),
            vec![],
            "no schema_version",
        ),
        (
            "other schema version",
            good.clone(),
            file("v99.json", &other_version.to_string()),
            vec![],
            "schema version 99",
        ),
        (
            "no samples",
            file("nosamples.json", &no_samples.to_string()),
            good.clone(),
            vec![],
            "samples_s is empty",
        ),
        (
            "negative sample",
            good.clone(),
            file("negative.json", &negative.to_string()),
            vec![],
            "not a positive number of seconds",
        ),
        (
            "empty directory",
            good.clone(),
            empty_dir.clone(),
            vec![],
            "no matbench records",
        ),
        (
            "nothing to match",
            f.baseline.clone(),
            f.other_n.clone(),
            vec![],
            "nothing to compare",
        ),
        (
            "negative threshold",
            good.clone(),
            good.clone(),
            vec!["--threshold=-1"],
            "--threshold",
        ),
        (
            "threshold 100",
            good.clone(),
            good.clone(),
            vec!["--threshold", "100"],
            "below 100",
        ),
        (
            "threshold NaN",
            good.clone(),
            good.clone(),
            vec!["--threshold", "NaN"],
            "--threshold",
        ),
        (
            "threshold inf",
            good.clone(),
            good.clone(),
            vec!["--threshold", "inf"],
            "--threshold",
        ),
        (
            "threshold not a number",
            good.clone(),
            good.clone(),
            vec!["--threshold", "five"],
            "five",
        ),
        (
            "unknown format",
            good.clone(),
            good.clone(),
            vec!["--format", "html"],
            "html",
        ),
    ];
    for (what, baseline, candidate, extra, needle) in cases {
        let o = compare(&baseline, &candidate, &extra);
        assert_eq!(o.code, Some(2), "{what}: {}{}", o.stdout, o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{what}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{what}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{what}: {}", o.stdout);
    }
}
