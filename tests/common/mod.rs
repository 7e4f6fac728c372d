//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;

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

/// The matbench binary, saving into `results`, without a backtrace variable from the caller.
pub fn matbench(results: &std::path::Path) -> assert_cmd::Command {
    let mut cmd =
        assert_cmd::Command::cargo_bin("matbench").expect("the matbench binary is built for tests");
    cmd.env("MATBENCH_RESULTS_DIR", results)
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// The entries of `dir` (none when it does not exist).
pub fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
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
    (value, files_in(dir.path()))
}
