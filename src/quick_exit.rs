//! Ending the process at once, without the exit-time teardown of the CUDA, cuBLAS and NVML
//! libraries.
//!
//! Returning from `main` (or `std::process::exit`) runs the C libraries' `atexit` handlers:
//! libcuda destroys every context it still holds, which took 0.10–0.13 s after `main` on the
//! H200 machine (2026-11-29), a fifth of the seed's whole job; and a driver that hung can
//! block in them for ever. Everything of ours is finished by then: stdout is flushed after each
//! write ([`crate::output::Stdout`]), stderr is unbuffered, records are written, synced and
//! renamed ([`crate::record::store`]), and the backend was already leaked
//! ([`crate::pipeline::Opened::leak`]). The kernel frees the process's device memory and
//! context when its file descriptors close, as it does for any process that ends.

use std::io::Write;

/// Flushes stdout and stderr, then ends the process with `code` through `_exit`.
#[allow(unsafe_code)]
pub fn now(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointers and ends the process; nothing after it runs.
    unsafe { libc::_exit(code) }
}
