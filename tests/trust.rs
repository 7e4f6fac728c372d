//! Trust at the edges, as a hostile or unlucky user meets them: a wrong answer never passes a
//! reader, output that cannot be written is an error (a closed pipe is not), odd paths and
//! signals never lose a run. Exit codes are the README's table (`matbench::error::Exit`).

mod common;

use common::{files_in, json_run_in_temp, matbench, matbench_bare, record_with_samples};
use matbench::error::Exit;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// A real record with chosen samples, written into `dir` as `name`; `passed` sets its verdict.
fn record_in(dir: &Path, name: &str, real: &Value, centre_s: f64, passed: bool) {
    let mut r = record_with_samples(real, &common::samples_around(centre_s, 0.002, 10));
    r["verification"]["passed"] = Value::Bool(passed);
    common::write_record(dir, name, &r);
}

fn real() -> Value {
    json_run_in_temp(&["cpu", "48", "--reps", "3", "--seed", "3"]).0
}

fn code(exit: Exit) -> Option<i32> {
    Some(i32::from(exit.code()))
}

#[test]
fn a_failed_verification_is_never_a_verdict_nor_published() {
    let real = real();
    let base = tempfile::tempdir().unwrap();
    let cand = tempfile::tempdir().unwrap();
    record_in(base.path(), "b.json", &real, 1e-3, true);
    // Twice as fast, and wrong: the old gate called it "faster" and exited 0.
    record_in(cand.path(), "c.json", &real, 0.5e-3, false);

    let out = matbench_bare()
        .arg("compare")
        .args([base.path(), cand.path()])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), code(Exit::RecordFailedVerification));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["faster"], 0, "{v:#}");
    assert_eq!(v["counts"]["failed_verification"], 1);
    assert_eq!(v["failed_verification"][0]["side"], "candidate");
    assert_eq!(v["exit_code"], 8);
    let text = matbench_bare()
        .arg("compare")
        .args([base.path(), cand.path()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("failed verification"), "{stdout}");

    // export leaves it out, names it on stderr, exits 8; the good run is still exported.
    let both = tempfile::tempdir().unwrap();
    record_in(both.path(), "good.json", &real, 1e-3, true);
    let mut other = real.clone();
    other["config"]["n"] = Value::from(96);
    other["flop_per_matmul"] = Value::from(2.0 * 96f64.powi(3));
    record_in(both.path(), "bad.json", &other, 1e-3, false);
    let out = matbench_bare()
        .arg("export")
        .arg(both.path())
        .args(["--to", "bencher"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), code(Exit::RecordFailedVerification));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v:#}");
    assert!(!v.as_object().unwrap().keys().any(|k| k.contains("n=96")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.json") && err.contains("failed verification"),
        "{err}"
    );

    // report and plot: the same rule, the same code.
    let out = matbench_bare()
        .arg("report")
        .arg(both.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), code(Exit::RecordFailedVerification));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED verification"));
    let plots = tempfile::tempdir().unwrap();
    let out = matbench_bare()
        .arg("plot")
        .arg(both.path())
        .arg("--out")
        .arg(plots.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), code(Exit::RecordFailedVerification));
    assert!(plots.path().join("tflops.svg").exists());
}

/// A report far larger than a pipe's buffer, read by `head -n 1`: output ends quietly.
#[test]
fn a_closed_pipe_ends_output_without_a_panic() {
    let real = real();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        let mut r = real.clone();
        r["host"]["hostname"] = Value::from(format!("node-{i:04}-{}", "x".repeat(200)));
        record_in(dir.path(), &format!("r{i}.json"), &r, 1e-3, true);
    }
    let exe = assert_cmd::cargo::cargo_bin("matbench");
    let mut child = Command::new(exe)
        .arg("report")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -n 1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// `> /dev/full`: every subcommand that prints fails with exit 9 and one line.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_on_stdout_is_an_error_everywhere() {
    let real = real();
    let dir = tempfile::tempdir().unwrap();
    record_in(dir.path(), "r.json", &real, 1e-3, true);
    let plots = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let p = plots.path().to_str().unwrap().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "cpu".into(),
            "32".into(),
            "--reps".into(),
            "1".into(),
            "--no-save".into(),
        ],
        vec!["info".into()],
        vec!["report".into(), d.clone()],
        vec!["compare".into(), d.clone(), d.clone()],
        vec!["export".into(), d.clone(), "--to".into(), "bencher".into()],
        vec!["plot".into(), d.clone(), "--out".into(), p],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let results = tempfile::tempdir().unwrap();
        let out = Command::new(assert_cmd::cargo::cargo_bin("matbench"))
            .env("MATBENCH_RESULTS_DIR", results.path())
            .args(&args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        common::assert_fails_with(
            &out,
            Exit::OutputFailed,
            "could not write to standard output",
        );
    }
}

/// A results directory whose name is not UTF-8: the run is printed and saved there.
#[cfg(unix)]
#[test]
fn a_results_dir_that_is_not_utf8_is_used_as_given() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"r\xffesults"));
    let out = matbench(dir.path())
        .args(["cpu", "32", "--reps", "1", "--results-dir"])
        .arg(&odd)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(files_in(&odd).len(), 1);
}

/// Ctrl-C during a long run: exit 130, one line, no temporary file left behind.
#[cfg(unix)]
#[test]
fn sigint_stops_a_run_with_130_and_leaves_no_temporary_file() {
    let results = tempfile::tempdir().unwrap();
    let exe = assert_cmd::cargo::cargo_bin("matbench");
    let mut child = Command::new(exe)
        .env("MATBENCH_RESULTS_DIR", results.path())
        // 100 000 repetitions at n = 512: 2.7·10¹³ FLOP, tens of seconds on the fastest CPU, so the signal
        // always lands inside the run.
        .args(["cpu", "512", "--reps", "100000", "--warmup", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Well into the repetitions (start-up and generation take milliseconds).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // The shell's own `kill` (a builtin), so no procps package is needed.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -INT {}", child.id()))
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "matbench did not stop on SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), code(Exit::Interrupted), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("SIGINT"), "{err}");
    let left: Vec<_> = files_in(results.path())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A failed save names the flags of the command that failed, never another command's.
#[test]
fn a_failed_save_advises_the_commands_own_flags() {
    let real = real();
    let dir = tempfile::tempdir().unwrap();
    record_in(dir.path(), "r.json", &real, 1e-3, true);
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let out = matbench_bare()
        .arg("plot")
        .arg(dir.path().join("r.json"))
        .arg("--out")
        .arg(&blocker)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), code(Exit::SaveFailed), "{err}");
    assert!(
        err.contains("is a file, not a directory") && err.contains("--out DIR"),
        "{err}"
    );
    assert!(
        !err.contains("--no-save") && !err.contains("--results-dir"),
        "{err}"
    );
    let out = matbench_bare()
        .args([
            "sweep",
            "--sizes",
            "16",
            "--devices",
            "cpu",
            "--quiet",
            "--results-dir",
        ])
        .arg(&blocker)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), code(Exit::SaveFailed), "{err}");
    assert!(
        err.contains("--results-dir DIR") && !err.contains("--no-save"),
        "{err}"
    );
}

/// A sample so short that a rate computed from it overflows is refused (exit 2), not exported
/// as `null`.
#[test]
fn a_figure_that_would_overflow_is_refused_not_exported_as_null() {
    let real = real();
    let dir = tempfile::tempdir().unwrap();
    let mut r = record_with_samples(&real, &common::samples_around(1e-3, 0.002, 10));
    r["matmul"]["samples_s"][3] = Value::from(1e-310);
    common::write_record(dir.path(), "r.json", &r);
    let out = matbench_bare()
        .arg("export")
        .arg(dir.path())
        .args(["--to", "bencher"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), code(Exit::BadInput), "{err}");
    assert!(err.contains("too short"), "{err}");
    assert!(out.stdout.is_empty());
}

/// Under an address-space limit too small for faer's per-thread GEMM workspace (a common HPC
/// batch setting), a CPU run is refused with exit 4, never aborted.
#[cfg(target_os = "linux")]
#[test]
fn an_address_space_limit_gives_does_not_fit_not_an_abort() {
    let exe = assert_cmd::cargo::cargo_bin("matbench");
    let results = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 700000 && exec '{}' cpu 64 --threads 2 --reps 1 --no-save --cpu-engine faer",
            exe.display()
        ))
        .env("MATBENCH_RESULTS_DIR", results.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), code(Exit::OutOfMemory), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ulimit -v"), "{err}");
}

/// The same for the machine's BLAS, which maps its buffers at its first call and, short of
/// address space, spins instead of failing (OpenBLAS): refused with exit 4 first.
#[cfg(target_os = "linux")]
#[test]
fn an_address_space_limit_refuses_a_blas_run_before_it_can_hang() {
    let exe = assert_cmd::cargo::cargo_bin("matbench");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 450000 && exec '{}' cpu 64 --threads 1 --reps 1 --no-save --cpu-engine blas",
            exe.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) && std::env::var_os("MATBENCH_REQUIRE_BLAS").is_none() {
        common::skip(
            "an_address_space_limit_refuses_a_blas_run_before_it_can_hang",
            &err,
        );
        return;
    }
    assert_eq!(out.status.code(), code(Exit::OutOfMemory), "{err}");
    assert!(err.contains("GEMM library's workspace"), "{err}");
}

/// A FIFO or a device named as a record is refused at once (exit 2), never read or waited on;
/// a record with n = 0 is refused, not plotted forever.
#[cfg(unix)]
#[test]
fn fifos_devices_and_empty_matrices_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut zero = real();
    zero["config"]["n"] = Value::from(0);
    let zero_path = common::write_record(dir.path(), "zero.json", &zero);
    let plots = tempfile::tempdir().unwrap();
    for (cmd, path) in [
        ("report", fifo.as_path()),
        ("report", Path::new("/dev/zero")),
        ("plot", zero_path.as_path()),
    ] {
        let mut run = matbench_bare();
        run.arg(cmd).arg(path);
        if cmd == "plot" {
            run.arg("--out").arg(plots.path());
        }
        let out = run
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let why = if cmd == "plot" {
            "config.n is 0"
        } else {
            "not a regular file"
        };
        common::assert_fails_with(&out, Exit::BadInput, why);
    }
}

/// Silent data corruption is caught, not sampled: a zeroed or doubled element, or a zeroed
/// 64×64 tile, in any repetition (warm-up or measured), f32 or f64, fails the run (exit 1) and
/// the record names the repetition, the rows and the columns. The sum and the four sampled
/// rows alone miss most such faults (a single zeroed element moves the sum by about 1/n² of it).
#[test]
fn every_element_of_every_repetition_is_checked_and_a_fault_is_named() {
    let cases = [
        ("f32", "1:zero:17:250", 1, vec![17], vec![250], true),
        ("f32", "3:double:299:0", 3, vec![299], vec![0], false),
        ("f64", "2:zero:5:6", 2, vec![5], vec![6], false),
        (
            "f64",
            "4:tile:200:100",
            4,
            (200..216).collect(),
            (100..116).collect(),
            false,
        ),
    ];
    for (dtype, fault, repetition, rows, columns, warmup) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = matbench(dir.path())
            .env("MATBENCH_INJECT_FAULT", fault)
            .args([
                "cpu",
                "300",
                "--dtype",
                dtype,
                "--cpu-engine",
                "faer",
                "--threads",
                "1",
            ])
            .args([
                "--warmup",
                "1",
                "--warmup-time",
                "0",
                "--reps",
                "3",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            code(Exit::VerificationFailed),
            "{dtype} {fault}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let lines = &v["verification"]["line_sums"];
        assert_eq!(v["verification"]["passed"], false, "{lines}");
        assert_eq!(lines["failed_repetitions"], 1, "{lines}");
        assert_eq!(
            lines["repetitions_checked"], 4,
            "one warm-up and three measured"
        );
        let f = &lines["failures"][0];
        assert_eq!(f["repetition"], repetition, "{lines}");
        assert_eq!(f["warmup"], warmup, "{lines}");
        let ints = |v: &Value| -> Vec<u64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        };
        let as_u64 = |v: &[usize]| -> Vec<u64> { v.iter().map(|&i| i as u64).collect() };
        assert_eq!(ints(&f["rows"]), as_u64(&rows), "{lines}");
        assert_eq!(ints(&f["columns"]), as_u64(&columns), "{lines}");
        assert!(
            lines["injected_fault"]
                .as_str()
                .unwrap()
                .contains("test-only"),
            "{lines}"
        );
        common::assert_meets_the_schema(&v);
    }
    // Without a fault: every repetition's every line within its bound.
    let (v, _) = json_run_in_temp(&["cpu", "300", "--reps", "3", "--cpu-engine", "faer"]);
    let lines = &v["verification"]["line_sums"];
    assert_eq!(lines["failed_repetitions"], 0, "{lines}");
    assert!(lines["max_rel_error"].as_f64().unwrap() < lines["tolerance"].as_f64().unwrap());
    assert!(lines["injected_fault"].is_null());
    // A malformed fault is bad input, not a run.
    let dir = tempfile::tempdir().unwrap();
    matbench(dir.path())
        .env("MATBENCH_INJECT_FAULT", "2:melt:1:1")
        .args(["cpu", "64"])
        .assert()
        .code(2);
}
