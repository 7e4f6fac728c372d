//! The ground floor's vocabulary: the words every other part of matbench shares, in leaf
//! modules that import nothing above them (docs/architecture.md).
//!
//! - [`vocab`]: backend kind, product (GEMM or SYRK), CPU engine, device selection;
//! - [`dtype`]: element types and their rounding;
//! - [`reps`]: how many repetitions, and why measuring stopped;
//! - [`stats`]: the summary statistics of repeated timings (one median for everything);
//! - [`job`]: what one run measures;
//! - [`peak`]: the datasheet peaks a GPU's figures are shares of.

pub mod bootstrap;
pub mod dtype;
pub mod job;
pub mod peak;
pub mod reps;
pub mod stats;
pub mod vocab;

/// Durations are carried as seconds in `f64` throughout, as hyperfine does.
pub type Second = f64;

/// Human-readable bytes in GiB/MiB.
pub fn format_byte(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// Seconds since the first call in this process, from the monotonic clock.
pub fn monotonic_s() -> Second {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}
