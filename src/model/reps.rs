//! How many repetitions a run makes and why it stopped: words shared by the plan, the stopping
//! rule (`bench::stopping`) and the record. A leaf.

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// Most measured repetitions accepted.
pub const MAX_REPS: u32 = 100_000;
/// Fewest measured repetitions of an automatic run (unless the first one spends the budget).
pub const MIN_AUTO_REPS: u32 = 5;
/// An automatic run has converged once the median's relative standard error is this or less.
pub const TARGET_MEDIAN_RSE: f64 = 0.01;

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
}

impl Reps {
    /// Repetitions a run is expected to make, for progress estimates: the count, or the
    /// minimum of an automatic run.
    pub fn expected(self) -> u32 {
        match self {
            Reps::Fixed(count) => count,
            Reps::Auto { .. } => MIN_AUTO_REPS,
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
    /// `--reps auto`: [`MAX_REPS`] repetitions ran first.
    MaxReps,
}

impl RepsStop {
    /// The name used in records: `count`, `converged`, `max_time`, `max_reps`.
    pub fn name(self) -> &'static str {
        match self {
            RepsStop::Count => "count",
            RepsStop::Converged => "converged",
            RepsStop::MaxTime => "max_time",
            RepsStop::MaxReps => "max_reps",
        }
    }
}
