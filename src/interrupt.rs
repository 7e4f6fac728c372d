//! Ctrl-C and `kill`: SIGINT and SIGTERM stop a run or a sweep cleanly.
//!
//! The first signal only raises a flag. The run loop checks it after every repetition
//! ([`check`]), so a run stops between two repetitions, records already finished stay, and a
//! record being saved is completed first (saving never checks the flag). The process then
//! exits with the conventional code (130 for SIGINT, 143 for SIGTERM; `error::Exit`). A
//! repetition that does not end within [`GRACE`] of the signal (a long GEMM, a library that
//! hangs) does not hold the process: it then exits with that code all the same, and so does a
//! second signal, at once. A temporary record left behind is recovered or removed by the next
//! save into that directory (`record::store`).
//!
//! Uses signal-hook, whose handlers only store to atomics: nothing here runs in signal context.

use crate::error::Error;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The signal received (0: none yet), and whether any was.
struct Flags {
    signal: Arc<AtomicUsize>,
    raised: Arc<AtomicBool>,
}

fn flags() -> &'static Flags {
    static FLAGS: OnceLock<Flags> = OnceLock::new();
    FLAGS.get_or_init(|| Flags {
        signal: Arc::new(AtomicUsize::new(0)),
        raised: Arc::new(AtomicBool::new(false)),
    })
}

/// How long after a signal a run may still take to reach the end of its repetition.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The exit code of a signal: 130 for SIGINT, 143 for SIGTERM.
fn code(signal: usize) -> i32 {
    128 + i32::try_from(signal).unwrap_or(0)
}

/// Installs the handlers. Call once, first thing in `main`; `report` prints the error line
/// when the grace runs out (the caller's one error printer).
pub fn install(report: fn(&Error)) -> Result<(), Error> {
    let f = flags();
    for signal in [SIGINT, SIGTERM] {
        let fail =
            |e: std::io::Error| Error::System(format!("could not handle signal {signal}: {e}"));
        // Registered first, so it sees the flag as it was before this signal raised it.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            code(signal as usize),
            f.raised.clone(),
        )
        .map_err(fail)?;
        signal_hook::flag::register_usize(signal, f.signal.clone(), signal as usize)
            .map_err(fail)?;
        signal_hook::flag::register(signal, f.raised.clone()).map_err(fail)?;
    }
    // The grace watchdog: idle until a signal arrives, then it gives the run GRACE to stop.
    let signal = f.signal.clone();
    std::thread::Builder::new()
        .name("matbench-signals".into())
        .spawn(move || {
            let tick = std::time::Duration::from_millis(50);
            while signal.load(Ordering::Acquire) == 0 {
                std::thread::sleep(tick);
            }
            std::thread::sleep(GRACE);
            let s = signal.load(Ordering::Acquire);
            report(&Error::Signal(i32::try_from(s).unwrap_or(0)));
            std::process::exit(code(s));
        })
        .map_err(|e| Error::System(format!("could not start the signal thread: {e}")))?;
    Ok(())
}

/// The signal received so far, as the error that ends the process, if any.
pub fn pending() -> Option<Error> {
    match flags().signal.load(Ordering::Acquire) {
        0 => None,
        s => Some(Error::Signal(s as i32)),
    }
}

/// `Err` once SIGINT or SIGTERM has arrived: the run loop stops there.
pub fn check() -> Result<(), Error> {
    pending().map_or(Ok(()), Err)
}
