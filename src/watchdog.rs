//! `--timeout SECONDS`: a run that does not finish in time is stopped with one line saying
//! what it was doing, and exit 11 ([`crate::error::Exit::Timeout`]).
//!
//! A GPU that has fallen off the bus, or a driver in trouble, hangs inside a driver call that
//! never returns; nothing in the run loop gets control back to notice. So the limit is kept by
//! a thread of its own, armed before the device is opened: when the limit passes first, it
//! prints the verdict through the caller's one error printer and ends the process (the
//! records already finished stay; a record being written is a temporary file, which the next
//! save into that directory recovers or removes: `record::store`). Before that, the hook set
//! with [`on_timeout`] saves the repetitions measured so far as a record marked `timed_out`
//! (`bench::salvage`), and the verdict's line says where. The run loop only says,
//! at every step, what it is doing ([`stage`]), which is what the verdict names. That note is
//! made every repetition, so it is a small `Copy` value put in place, not text: the words are
//! written only if the verdict is.

use crate::error::Error;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// What a device's run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Opening the device (context, handles, kernels).
    Opening,
    /// Allocating A and C for this n.
    Allocating {
        /// Matrix size.
        n: usize,
    },
    /// Generating A.
    Generating,
    /// Choosing how to compute the problem (`Backend::tune`).
    Tuning,
    /// This warm-up repetition, from 1.
    Warmup(u32),
    /// This measured repetition, from 1, and of how many when the count is fixed.
    Measured {
        /// The repetition.
        k: u32,
        /// The count, when there is one.
        of: Option<u32>,
    },
    /// Verifying the answer.
    Verifying,
    /// Saving the record.
    Saving,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Opening => f.write_str("opening the device"),
            Stage::Allocating { n } => write!(f, "allocating A and C (n = {n})"),
            Stage::Generating => f.write_str("generating A"),
            Stage::Tuning => f.write_str("choosing how to compute (tuning)"),
            Stage::Warmup(k) => write!(f, "warm-up repetition {k}"),
            Stage::Measured { k, of: None } => write!(f, "measured repetition {k}"),
            Stage::Measured { k, of: Some(of) } => write!(f, "measured repetition {k} of {of}"),
            Stage::Verifying => f.write_str("verifying the answer"),
            Stage::Saving => f.write_str("saving the record"),
        }
    }
}

/// What each device's run is doing now, by device ("GPU 0", "CPU"), in the order first seen.
fn stages() -> &'static Mutex<Vec<(String, Stage)>> {
    static STAGES: OnceLock<Mutex<Vec<(String, Stage)>>> = OnceLock::new();
    STAGES.get_or_init(|| Mutex::new(Vec::new()))
}

/// Notes that the run on `device` is now at `stage` (the device's name is copied only the
/// first time).
pub fn stage(device: &str, stage: Stage) {
    if let Ok(mut s) = stages().lock() {
        match s.iter_mut().find(|(d, _)| d == device) {
            Some((_, now)) => *now = stage,
            None => s.push((device.to_string(), stage)),
        }
    }
}

/// Every device's stage, in one phrase (`GPU 0: measured repetition 3`), and whether a GPU is
/// among them.
fn where_now() -> (String, bool) {
    match stages().lock() {
        Ok(s) if !s.is_empty() => (
            s.iter()
                .map(|(device, what)| format!("{device}: {what}"))
                .collect::<Vec<_>>()
                .join("; "),
            s.iter().any(|(d, _)| d.starts_with("GPU")),
        ),
        _ => ("the start, before any device was opened".to_string(), false),
    }
}

/// The verdict on a run still going after `limit_s` seconds.
pub fn verdict(limit_s: f64) -> Error {
    let (at, gpu) = where_now();
    let hint = if gpu {
        " (a GPU that stopped answering hangs there: check `nvidia-smi` and the kernel log for Xid errors)"
    } else {
        ""
    };
    Error::Timeout(format!(
        "the run did not finish within --timeout {limit_s} s and was stopped; it was at {at}{hint}"
    ))
}

/// What the layers above keep of a run in progress, so a timed-out run still leaves its record:
/// called with the limit and where each device was, it saves what it can and says where.
pub type Salvage = Box<dyn Fn(f64, &str) -> Option<String> + Send + Sync>;

fn salvage_hook() -> &'static Mutex<Option<Salvage>> {
    static HOOK: OnceLock<Mutex<Option<Salvage>>> = OnceLock::new();
    HOOK.get_or_init(|| Mutex::new(None))
}

/// Sets what the watchdog calls before it ends a timed-out run (the pipeline saves the
/// repetitions measured so far as a record marked `timed_out`).
pub fn on_timeout(salvage: Salvage) {
    if let Ok(mut hook) = salvage_hook().lock() {
        *hook = Some(salvage);
    }
}

/// The verdict, with what the salvage hook saved (one line either way).
fn verdict_and_salvage(limit_s: f64) -> Error {
    let e = verdict(limit_s);
    let (at, _) = where_now();
    // `try_lock`: a hook that is itself stuck must not keep the process alive.
    let saved = salvage_hook()
        .try_lock()
        .ok()
        .and_then(|hook| hook.as_ref().and_then(|f| f(limit_s, &at)));
    match (saved, e) {
        (Some(saved), Error::Timeout(msg)) => Error::Timeout(format!("{msg}; {saved}")),
        (_, e) => e,
    }
}

/// Disarms the watchdog when dropped (the run finished in time).
pub struct Armed {
    _done: mpsc::Sender<()>,
}

/// Starts the watchdog: unless the returned guard is dropped within `limit_s` seconds, it
/// reports [`verdict`] through `report` and ends the process with exit 11.
pub fn arm(limit_s: f64, report: fn(&Error)) -> Result<Armed, Error> {
    let (done, wait) = mpsc::channel::<()>();
    let limit = Duration::from_secs_f64(limit_s);
    std::thread::Builder::new()
        .name("matbench-timeout".into())
        .spawn(move || {
            // A message or a closed channel both mean the run finished.
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                let e = verdict_and_salvage(limit_s);
                report(&e);
                crate::quick_exit::now(i32::from(e.exit().code()));
            }
        })
        .map_err(|e| Error::System(format!("could not start the timeout thread: {e}")))?;
    Ok(Armed { _done: done })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_every_device_stage_and_exits_11() {
        stage("GPU 7", Stage::Measured { k: 3, of: Some(10) });
        let e = verdict(2.5);
        assert_eq!(e.exit(), crate::error::Exit::Timeout);
        let msg = e.to_string();
        assert!(
            msg.starts_with("the run did not finish within --timeout 2.5 s"),
            "{msg}"
        );
        assert!(msg.contains("GPU 7: measured repetition 3 of 10"), "{msg}");
        assert_eq!(msg.lines().count(), 1);
    }

    #[test]
    fn a_run_that_finishes_in_time_disarms_it() {
        // Were it to fire, the process (this test binary) would end with exit 11: a failure.
        fn quiet(_: &Error) {}
        let armed = arm(0.2, quiet).unwrap();
        drop(armed);
        std::thread::sleep(Duration::from_millis(400));
    }
}
