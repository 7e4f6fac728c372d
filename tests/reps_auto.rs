//! `--reps auto` and `--max-time` as a user meets them: runs that stop on their own and say
//! why, and one line on stderr (exit 2) for every bad combination.

mod common;

use predicates::prelude::*;

use common::{files_in, matbench};

fn json_run(args: &[&str]) -> serde_json::Value {
    let (value, files) = common::json_run_in_temp(args);
    assert!(files.is_empty(), "--no-save wrote a file");
    value
}

/// The recorded stop reason agrees with the record's own figures, whichever rule stopped the
/// run: which one does depends on the machine's speed and load, so a test may not pick one.
fn assert_stop_is_consistent(v: &serde_json::Value, budget_s: f64) {
    let stop = v["repetitions"]["stop"].as_str().unwrap();
    let reps = v["config"]["reps"].as_u64().unwrap();
    let measured = v["repetitions"]["measured_s"].as_f64().unwrap();
    let rse = v["repetitions"]["median_rel_std_error"].as_f64();
    match stop {
        "converged" => assert!(reps >= 5 && rse.is_some_and(|r| r <= 0.01), "{v}"),
        "max_time" => assert!(measured >= budget_s && (reps >= 5 || reps == 1), "{v}"),
        "max_reps" => assert_eq!(reps, 100_000, "{v}"),
        other => panic!("unexpected stop reason {other}"),
    }
}

#[test]
fn auto_run_records_its_mode_its_stop_and_as_many_samples_as_reps() {
    let v = json_run(&["cpu", "64", "--reps", "auto", "--max-time", "0.5"]);
    let config = &v["config"];
    assert_eq!(config["reps_mode"], "auto");
    assert_eq!(config["max_time_s"], 0.5);
    let reps = config["reps"].as_u64().unwrap();
    assert!((5..=100_000).contains(&reps), "{reps}");
    assert_eq!(
        v["matmul"]["samples_s"].as_array().unwrap().len() as u64,
        reps
    );
    assert_eq!(
        v["reduce"]["samples_s"].as_array().unwrap().len() as u64,
        reps
    );
    assert_stop_is_consistent(&v, 0.5);
    assert_eq!(v["verification"]["passed"], true);
}

#[test]
fn auto_without_max_time_gets_the_default_budget() {
    let v = json_run(&["cpu", "32", "--reps", "auto", "--seed", "4"]);
    assert_eq!(v["config"]["reps_mode"], "auto");
    assert_eq!(v["config"]["max_time_s"], 10.0);
    assert_stop_is_consistent(&v, 10.0);
}

#[test]
fn a_fixed_count_is_recorded_as_such() {
    let v = json_run(&["cpu", "32", "--reps", "3", "--warmup", "0"]);
    assert_eq!(v["config"]["reps"], 3);
    assert_eq!(v["config"]["reps_mode"], "fixed");
    assert_eq!(v["config"]["max_time_s"], serde_json::Value::Null);
    assert_eq!(v["repetitions"]["stop"], "count");
    assert_eq!(v["matmul"]["samples_s"].as_array().unwrap().len(), 3);
}

#[test]
fn the_text_report_says_how_the_repetitions_ended() {
    let dir = tempfile::tempdir().unwrap();
    matbench(dir.path())
        .args(["cpu", "48", "--reps", "auto", "--max-time", "0.3", "--no-save"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"\d+ warm-up \(≥ 0\.5 s\) \+ \d+ measured repetitions \(auto: (converged|--max-time 0\.3 s spent|stopped at 100000 repetitions), median ±\d+\.\d+%\)",
            )
            .unwrap(),
        );
}

#[test]
fn a_saved_auto_record_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    matbench(dir.path())
        .args(["cpu", "32", "--reps", "auto", "--max-time", "0.2"])
        .assert()
        .success();
    let files = files_in(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let r = matbench::record::read::read(&files[0]).expect("the record reads back");
    assert_eq!(r.config.reps_mode, matbench::model::reps::RepsMode::Auto);
    assert_eq!(r.matmul.samples_s.len(), r.config.reps as usize);
    assert!(r.repetitions.is_some());
}

#[test]
fn sweep_takes_reps_auto_and_max_time() {
    let results = tempfile::tempdir().unwrap();
    let out = matbench(results.path())
        .args([
            "sweep",
            "--sizes",
            "32,64",
            "--devices",
            "cpu",
            "--reps",
            "auto",
            "--max-time",
            "0.2",
            "--quiet",
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
    let files = files_in(results.path());
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let r = matbench::record::read::read(f).unwrap();
        assert_eq!(r.config.reps_mode, matbench::model::reps::RepsMode::Auto);
        assert_eq!(r.config.max_time_s, Some(0.2));
        assert_eq!(r.matmul.samples_s.len(), r.config.reps as usize);
    }
}

/// Each bad input: one line on stderr, exit 2, no panic, no file written.
#[test]
fn bad_reps_and_max_time_get_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["cpu", "64", "--reps", "fast"], "got 'fast'"),
        (&["cpu", "64", "--reps", "0"], "--reps must be at least 1"),
        (&["cpu", "64", "--reps", "-3"], "'-3'"),
        (&["cpu", "64", "--reps", "100001"], "too many"),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "0"],
            "more than 0",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "-1"],
            "more than 0",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "nan"],
            "finite",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "inf"],
            "finite",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "7200"],
            "too long",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time", "soon"],
            "'soon'",
        ),
        (
            &["cpu", "64", "--reps", "auto", "--max-time"],
            "a value is required",
        ),
        (
            &["cpu", "64", "--reps", "10", "--max-time", "5"],
            "only applies to --reps auto",
        ),
        (
            &["cpu", "64", "--max-time", "5"],
            "only applies to --reps auto",
        ),
        (
            &["gpu", "64", "--max-time", "5"],
            "only applies to --reps auto",
        ),
        (
            &[
                "sweep",
                "--sizes",
                "64",
                "--devices",
                "cpu",
                "--reps",
                "fast",
            ],
            "got 'fast'",
        ),
        (
            &[
                "sweep",
                "--sizes",
                "64",
                "--devices",
                "cpu",
                "--max-time",
                "1",
            ],
            "only applies to --reps auto",
        ),
        (
            &[
                "sweep",
                "--sizes",
                "64",
                "--devices",
                "cpu",
                "--reps",
                "auto",
                "--max-time",
                "0",
            ],
            "more than 0",
        ),
    ];
    for (args, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = matbench(dir.path()).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
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
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
        assert!(files_in(dir.path()).is_empty(), "{args:?} left a file");
    }
}

#[test]
fn help_shows_the_new_options() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["cpu", "gpu", "sweep"] {
        matbench(dir.path())
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("--reps <COUNT|auto>"))
            .stdout(predicate::str::contains("--max-time <SECONDS>"));
    }
}
