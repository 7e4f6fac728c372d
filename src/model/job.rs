//! What one run measures, checked and ready: the part of a plan the run loop needs. Where the
//! output goes (format, results directory) is the caller's business, not the job's, so a sweep
//! builds jobs without inventing output settings.

use crate::model::dtype::DType;
use crate::model::reps::{Reps, Warmup};
use crate::model::vocab::{DeviceSelection, LineSumsMode, MatOp};

/// One run: device, problem and repetitions. Built by `plan` (gpu, cpu) or by `sweep`; nothing
/// after that re-validates it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Device and its settings.
    pub selection: DeviceSelection,
    /// Matrix size.
    pub n: usize,
    /// Element type (supported by the selected backend).
    pub dtype: DType,
    /// GEMM or SYRK.
    pub op: MatOp,
    /// Untimed repetitions: a count and a time floor.
    pub warmup: Warmup,
    /// Measured repetitions: a count, or automatic.
    pub reps: Reps,
    /// Philox seed.
    pub seed: u64,
    /// `--check`: judge the GPU by this rule and record the verdict; `None` to measure only.
    pub check: Option<CheckRule>,
    /// `--require-exclusive`: refuse to measure on a GPU another process is using.
    pub require_exclusive: bool,
    /// `--line-sums`: which repetitions the GPU's checksums cover.
    pub line_sums: LineSumsMode,
    /// `--algo search`: the cache directory of the algorithm search; `None` for the default
    /// path.
    pub algo_search: Option<std::path::PathBuf>,
}

/// What `--check` judges a run by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckRule {
    /// The floor share of peak, as a fraction (0.5 = 50%).
    pub min_share: f64,
}
