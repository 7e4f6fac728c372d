//! `matbench compare` on real runs of the binary, and on every kind of bad input.
//!
//! The runs are made once per test process ([`fixtures`]) and interleaved (all threads, one
//! thread, one thread again, three rounds), so that a machine that gets busier or quieter
//! during the tests affects every side alike. Every test waits for them, so no other test of
//! this file spawns processes while they are timed.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Matrix size of the timed runs. On the 2-core development machine faer gains nothing from
/// the second core up to n = 512; at 768 two threads are about 1.7 times faster but their
/// repetitions jump between one-core and two-core speed whenever other work takes a core; at
/// 1024 the gain is about 1.8 and steadier, and a debug build still runs one in under 0.5 s.
const N: &str = "1024";

fn matbench() -> Command {
    let mut cmd = Command::cargo_bin("matbench").expect("the matbench binary is built for tests");
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("MATBENCH_RESULTS_DIR");
    cmd
}

struct Fixtures {
    /// Where the runs are: `target/tmp/compare-fixtures-*`. A static is never dropped, so the
    /// directory outlives the process; the next run of this file removes stale ones.
    _dir: PathBuf,
    /// Runs with every logical CPU (the default).
    all_threads: PathBuf,
    /// Runs with `--threads 1`.
    one_thread: PathBuf,
    /// More runs with `--threads 1`, the same configuration as `one_thread`.
    one_thread_again: PathBuf,
    /// One small run of another n (nothing in the other directories matches it).
    other_n: PathBuf,
}

fn record_run(dir: &Path, extra: &[&str]) {
    let out = matbench()
        .args(["cpu", N, "--seed", "1", "--reps", "10", "--warmup", "1"])
        .args(extra)
        .arg("--results-dir")
        .arg(dir)
        .args(["--format", "json"])
        .output()
        .expect("matbench runs");
    assert!(
        out.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes fixture directories of earlier test processes (older than ten minutes, so that a
/// test process running at the same time keeps its own).
fn remove_stale_fixtures(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 600);
        if stale
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("compare-fixtures-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        // CARGO_TARGET_TMPDIR is baked in at build time; where the test executable runs on
        // another machine (the GPU machine) it may not exist, so fall back to the OS's.
        let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tmp_buf = if std::fs::create_dir_all(target_tmp).is_ok() {
            target_tmp.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let tmp = tmp_buf.as_path();
        remove_stale_fixtures(tmp);
        let dir = tempfile::Builder::new()
            .prefix("compare-fixtures-")
            .tempdir_in(tmp)
            .expect("a temporary directory")
            .keep();
        let f = Fixtures {
            all_threads: dir.join("all-threads"),
            one_thread: dir.join("one-thread"),
            one_thread_again: dir.join("one-thread-again"),
            other_n: dir.join("other-n"),
            _dir: dir,
        };
        for _ in 0..3 {
            record_run(&f.all_threads, &[]);
            record_run(&f.one_thread, &["--threads", "1"]);
            record_run(&f.one_thread_again, &["--threads", "1"]);
        }
        let out = matbench()
            .args(["cpu", "64", "--reps", "3", "--results-dir"])
            .arg(&f.other_n)
            .output()
            .expect("matbench runs");
        assert!(out.status.success());
        f
    })
}

/// The only file in `dir`'s first `*.json`, for tests that need one record.
fn first_record(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the fixture directory exists")
        .map(|e| e.expect("a directory entry").path())
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
    let out = matbench()
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

fn json(o: &Outcome) -> serde_json::Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.stdout))
}

/// Pooled median matmul time of the records in `dir`, read without `compare`'s code.
fn pooled_median_s(dir: &Path) -> f64 {
    let records = matbench::record::read::read_all(&[dir.to_path_buf()]).expect("records read");
    let samples: Vec<f64> = records
        .iter()
        .flat_map(|(_, r)| r.matmul.samples_s.clone())
        .collect();
    matbench::model::stats::Summary::from_samples(&samples)
        .expect("the fixtures have samples")
        .median_s
}

/// Whether the premise of the one-thread-against-all-threads tests held while the fixtures
/// ran: a second core, and one thread at least 1.3 times slower than all of them by plain
/// medians. On a machine busy with other work (another build, another test suite) two threads
/// can be slower than one, and a verdict of "faster" or "slower" would then be wrong for
/// reasons that have nothing to do with `compare`; the test says so and skips.
fn threads_made_a_difference(test: &str) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        common::skip(
            test,
            "one logical CPU: every thread count runs at the same speed",
        );
        return false;
    }
    let f = fixtures();
    let ratio = pooled_median_s(&f.one_thread) / pooled_median_s(&f.all_threads);
    if ratio < 1.3 {
        common::skip(
            test,
            &format!(
                "the machine was busy: one thread took {ratio:.2} times as long as all {cores}, \
                 not the 1.3 or more an idle machine gives"
            ),
        );
        return false;
    }
    true
}

#[test]
fn one_thread_against_all_threads_is_slower_and_exits_1() {
    let f = fixtures();
    if !threads_made_a_difference("one_thread_against_all_threads_is_slower_and_exits_1") {
        return;
    }
    let o = compare(&f.all_threads, &f.one_thread, &[]);
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
    assert!(o.stdout.contains("GFLOP/s"), "{}", o.stdout);
    assert!(
        o.stdout.contains("1 thread"),
        "the differing setup is noted: {}",
        o.stdout
    );
}

#[test]
fn all_threads_against_one_thread_is_faster_and_exits_0() {
    let f = fixtures();
    if !threads_made_a_difference("all_threads_against_one_thread_is_faster_and_exits_0") {
        return;
    }
    let o = compare(&f.one_thread, &f.all_threads, &["--format", "json"]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = json(&o);
    let c = &v["comparisons"][0];
    assert_eq!(c["verdict"], "faster", "{c}");
    assert!(c["change_percent"].as_f64().unwrap() < -5.0, "{c}");
    assert!(c["ratio_high"].as_f64().unwrap() < 0.95, "{c}");
    assert_eq!(v["exit_code"], 0);
}

#[test]
fn the_same_configuration_twice_is_not_a_regression() {
    let f = fixtures();
    // On a machine busy with other work the two sets of runs can truly differ in speed, and
    // "slower" would then be the right verdict: the premise is checked the same way as below.
    if !threads_made_a_difference("the_same_configuration_twice_is_not_a_regression") {
        return;
    }
    let o = compare(&f.one_thread, &f.one_thread_again, &["--format", "json"]);
    // Two sets of runs of one configuration differ only by noise, so the verdict must not be
    // "slower" or "faster". Both "same" and "unclear" are right answers: "same" needs the whole
    // 95% interval inside ±5%, and with 3 runs of 10 repetitions on a shared machine, one run
    // disturbed by other work can widen the interval past 5% without anything having changed.
    // "unclear" says exactly that, and does not fail the job unless --fail-on-unclear.
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    let v = json(&o);
    let verdict = v["comparisons"][0]["verdict"].as_str().unwrap_or_default();
    assert!(
        verdict == "same" || verdict == "unclear",
        "{verdict}: {}",
        o.stdout
    );
    assert_eq!(v["counts"]["slower"], 0);
    // Deterministic: the same files give the same report, byte for byte.
    let again = compare(&f.one_thread, &f.one_thread_again, &["--format", "json"]);
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn fail_on_unclear_fails_exactly_when_a_verdict_is_unclear() {
    let f = fixtures();
    let o = compare(&f.one_thread, &f.one_thread_again, &["--format", "json"]);
    let counts = &json(&o)["counts"];
    let unclear = counts["unclear"].as_u64().unwrap_or(0) > 0;
    let slower = counts["slower"].as_u64().unwrap_or(0) > 0;
    let strict = compare(
        &f.one_thread,
        &f.one_thread_again,
        &["--format", "json", "--fail-on-unclear"],
    );
    // Exit 1 exactly when something is unclear or slower (slower only on a busy machine).
    assert_eq!(
        strict.code,
        Some(if unclear || slower { 1 } else { 0 }),
        "{}",
        strict.stdout
    );
    // A record against itself with a threshold of 0: the bootstrap interval still has a width
    // around 1, and with no room for "same" that is "unclear", which now fails.
    let record = first_record(&f.one_thread);
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
    if !threads_made_a_difference("markdown_and_json_carry_the_verdict") {
        return;
    }
    let md = compare(&f.all_threads, &f.one_thread, &["--format", "markdown"]);
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

    let js = compare(&f.all_threads, &f.one_thread, &["--format", "json"]);
    assert_eq!(js.code, Some(1));
    let v = json(&js);
    assert_eq!(v["comparisons"][0]["verdict"], "slower");
    assert_eq!(v["counts"]["slower"], 1);
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["threshold_percent"], 5.0);
    let c = &v["comparisons"][0];
    assert_eq!(c["backend"], "cpu");
    assert_eq!(c["n"], 1024);
    assert_eq!(c["baseline"]["runs"], 3);
    assert_eq!(c["candidate"]["samples"], 30);
    assert!(c["ratio_low"].as_f64().unwrap() > 1.05, "{c}");
    assert!(c["candidate"]["tflop_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn runs_on_one_side_only_are_listed() {
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    for src in [first_record(&f.one_thread), first_record(&f.other_n)] {
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    let o = compare(dir.path(), &f.one_thread_again, &[]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("only in baseline"), "{}", o.stdout);
    assert!(
        o.stdout.contains("f32 n=64  (1 run, 3 samples"),
        "{}",
        o.stdout
    );
    let o = compare(&f.one_thread_again, dir.path(), &["--format", "json"]);
    let v = json(&o);
    assert_eq!(v["counts"]["only_in_candidate"], 1);
    assert_eq!(v["only_in_candidate"][0]["n"], 64);
    assert_eq!(v["only_in_candidate"][0]["runs"]["samples"], 3);
    let md = compare(dir.path(), &f.one_thread_again, &["--format", "markdown"]);
    assert!(md.stdout.contains("**Only in baseline:**"), "{}", md.stdout);
}

/// Each bad input: exit 2, one line on stderr naming the problem, nothing on stdout, no panic.
#[test]
fn bad_input_exits_2_with_one_line() {
    let f = fixtures();
    let good = first_record(&f.one_thread);
    let text = std::fs::read_to_string(&good).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str, contents: &str| -> PathBuf {
        let p = tmp.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p
    };
    let mut other_version: serde_json::Value = serde_json::from_str(&text).unwrap();
    other_version["schema_version"] = 2.into();
    let mut no_samples = other_version.clone();
    no_samples["schema_version"] = 1.into();
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
            file("v2.json", &other_version.to_string()),
            vec![],
            "schema version 2",
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
            f.one_thread.clone(),
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
