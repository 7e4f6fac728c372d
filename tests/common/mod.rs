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
