//! A `--duration` run (a soak): the burst figure, the sustained figure, and the run second by
//! second with what the GPU's clocks, power and temperature did meanwhile.

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// Windows of the burst figure start in the first this many seconds.
pub const BURST_WITHIN_S: Second = 10.0;
/// Length of a burst window.
pub const BURST_WINDOW_S: Second = 1.0;

/// Burst against sustained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SoakRecord {
    /// Seconds of back-to-back repetitions asked for (`--duration`).
    pub duration_s: Second,
    /// The best one-second window that starts in the first ten seconds: FLOP of its
    /// repetitions over their matmul time, 10¹² FLOP/s (a repetition longer than a second is a
    /// window of its own).
    pub burst_tflop_per_s: f64,
    /// When that window began, seconds after measuring started.
    pub burst_window_start_s: Second,
    /// FLOP of one product over the median matmul time of the repetitions that ended in the
    /// last half of the run, 10¹² FLOP/s.
    pub sustained_tflop_per_s: f64,
    /// `sustained_tflop_per_s` / `burst_tflop_per_s` (0.85: sustained is 15% below burst).
    pub sustained_vs_burst: f64,
    /// The run second by second.
    pub seconds: Vec<SoakSecond>,
}

/// One second of a soak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SoakSecond {
    /// Start of the second, seconds after measuring started.
    pub t_s: Second,
    /// Repetitions that ended in it.
    pub reps: u32,
    /// Their FLOP over their matmul time, 10¹² FLOP/s (`null` when none ended in it).
    pub tflop_per_s: Option<f64>,
    /// Median SM clock of the telemetry samples in it, MHz (`null` without telemetry).
    pub sm_clock_mhz: Option<f64>,
    /// Median board power, W.
    pub power_w: Option<f64>,
    /// Highest GPU temperature, °C.
    pub temperature_c: Option<f64>,
    /// Slowdown reasons NVML reported in it.
    pub throttle_reasons: Vec<String>,
}

impl SoakRecord {
    /// One line for people.
    pub fn summary_line(&self) -> String {
        format!(
            "{} s back to back: burst {:.2} TFLOP/s (best {BURST_WINDOW_S} s of the first {BURST_WITHIN_S}, at {:.1} s), sustained {:.2} (median of the last half), {:.1}% of burst",
            self.duration_s,
            self.burst_tflop_per_s,
            self.burst_window_start_s,
            self.sustained_tflop_per_s,
            100.0 * self.sustained_vs_burst
        )
    }
}
