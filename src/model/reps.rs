//! How many repetitions a run makes and why it stopped: words shared by the plan, the stopping
//! rule (`bench::stopping`) and the record. A leaf.

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// Most measured repetitions accepted.
pub const MAX_REPS: u32 = 100_000;
/// Most repetitions a `--duration` run makes: about 40 bytes of record per repetition keeps
/// the record well under the readers' 20 MiB limit (tiny products on a GPU would otherwise
/// write tens of millions of samples).
pub const MAX_DURATION_REPS: u32 = 300_000;
/// Longest `--duration` accepted, seconds (an hour: 3600 one-second entries in the record).
pub const MAX_DURATION_S: Second = 3600.0;
/// Fewest measured repetitions of an automatic run (unless the first one spends the budget).
pub const MIN_AUTO_REPS: u32 = 5;
/// An automatic run has converged once the median's relative standard error is this or less.
pub const TARGET_MEDIAN_RSE: f64 = 0.01;
/// A median known less well than this (relative standard error) is called unstable in the
/// text output: figures that move by more than a few percent between runs.
pub const UNSTABLE_MEDIAN_RSE: f64 = 0.03;

/// Seconds of warm-up a CPU run spends at least, by default (`--warmup-time`): short products
/// reach their steady speed only after the threads, the caches, the library's workspace and
/// the clocks have settled, which takes a few hundred milliseconds (on the 2-core development
/// machine the first ten 11 ms products of n = 1024 ran at 20 ms).
pub const CPU_DEFAULT_WARMUP_MIN_S: Second = 0.5;

/// The default `--warmup-time` of a backend: [`CPU_DEFAULT_WARMUP_MIN_S`] on the CPU; none on
/// the GPU, whose products are steady from the first measured one after the two counted
/// warm-ups (median ±0.04% at n = 10000 on the H200), so its default run stays under a second.
pub fn default_warmup_min_s(kind: crate::model::vocab::BackendKind) -> Second {
    match kind {
        crate::model::vocab::BackendKind::Cpu => CPU_DEFAULT_WARMUP_MIN_S,
        crate::model::vocab::BackendKind::Cuda => 0.0,
    }
}
/// Most warm-up repetitions a time floor adds.
pub const MAX_WARMUP_FLOOR_REPS: u32 = 10_000;

/// The untimed repetitions before measuring: at least `runs` of them and, when `runs` > 0,
/// until `min_s` seconds have passed (at most [`MAX_WARMUP_FLOOR_REPS`] more). `runs` = 0 is
/// a cold run: no warm-up at all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup {
    /// Fewest warm-up repetitions (`--warmup`).
    pub runs: u32,
    /// Fewest seconds of warm-up (`--warmup-time`), when `runs` > 0.
    pub min_s: Second,
}

impl Warmup {
    /// Whether another warm-up repetition is due after `done` of them took `elapsed_s`.
    pub fn wants_more(self, done: u32, elapsed_s: Second) -> bool {
        done < self.runs
            || (self.runs > 0
                && elapsed_s < self.min_s
                && done < self.runs.saturating_add(MAX_WARMUP_FLOOR_REPS))
    }
}

/// How many measured repetitions a run makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reps {
    /// Exactly this many (1 to [`MAX_REPS`]).
    Fixed(u32),
    /// Until the median is known well enough, or the budget or [`MAX_REPS`] is reached
    /// (the rule is `bench::stopping::decide`).
    Auto {
        /// Seconds of measured repetitions at most (finite, > 0, ≤ `plan::MAX_MAX_TIME_S`).
        max_time_s: Second,
    },
    /// Back to back for this many seconds (`--duration`): a soak, reported as burst and
    /// sustained figures; the repetition cap is [`MAX_DURATION_REPS`].
    Duration {
        /// Seconds of measured repetitions (finite, > 0, ≤ [`MAX_DURATION_S`]).
        seconds: Second,
    },
}

impl Reps {
    /// Repetitions a run is expected to make, for progress estimates: the count, or the
    /// minimum of an automatic run.
    pub fn expected(self) -> u32 {
        match self {
            Reps::Fixed(count) => count,
            Reps::Auto { .. } => MIN_AUTO_REPS,
            Reps::Duration { .. } => 1,
        }
    }
}

/// How the number of measured repetitions was chosen.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RepsMode {
    /// A count given with `--reps COUNT` (or the default).
    #[default]
    Fixed,
    /// `--reps auto`: until the median is known to ±1%, or `--max-time` or the cap.
    Auto,
    /// `--duration SECONDS`: back to back for that long (a soak). Records of this mode are
    /// new in matbench 0.1 of 2026-11-30; earlier builds do not read them.
    Duration,
}

/// Why measuring stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepsStop {
    /// The fixed `--reps COUNT` ran.
    Count,
    /// `--reps auto`: the median is known to ±[`TARGET_MEDIAN_RSE`].
    Converged,
    /// `--reps auto`: `--max-time` was spent first.
    MaxTime,
    /// `--reps auto`: [`MAX_REPS`] repetitions ran first (`--duration`: [`MAX_DURATION_REPS`]).
    MaxReps,
    /// `--duration`: the time was spent.
    Duration,
}

impl RepsStop {
    /// The name used in records: `count`, `converged`, `max_time`, `max_reps`.
    pub fn name(self) -> &'static str {
        match self {
            RepsStop::Count => "count",
            RepsStop::Converged => "converged",
            RepsStop::MaxTime => "max_time",
            RepsStop::MaxReps => "max_reps",
            RepsStop::Duration => "duration",
        }
    }
}

#[cfg(test)]
mod warmup_tests {
    use super::*;

    #[test]
    fn warm_up_runs_the_count_then_until_the_time_floor() {
        let w = Warmup {
            runs: 2,
            min_s: 0.5,
        };
        assert!(w.wants_more(0, 10.0) && w.wants_more(1, 10.0));
        assert!(w.wants_more(2, 0.1) && !w.wants_more(2, 0.5));
        assert!(!w.wants_more(2 + MAX_WARMUP_FLOOR_REPS, 0.1));
        let cold = Warmup {
            runs: 0,
            min_s: 0.5,
        };
        assert!(!cold.wants_more(0, 0.0), "--warmup 0 is a cold run");
    }
}
