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

/// `k` as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st. (Six lines; a crate
/// for it would be the larger dependency.)
pub fn ordinal(k: u32) -> String {
    let suffix = match (k % 10, k % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{k}{suffix}")
}

/// Seconds since the first call in this process, from the monotonic clock.
pub fn monotonic_s() -> Second {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ordinals_read_as_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112]
            .into_iter()
            .map(super::ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th", "112th"
            ]
        );
    }
}
