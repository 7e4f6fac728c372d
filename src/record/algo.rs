//! `--algo search`: which GEMM algorithms cuBLASLt offered for the exact problem, how fast each
//! ran, the one the run used, and how far the default path was from the best (its regret).

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// The search and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlgoRecord {
    /// Every candidate timed: the default path first, then cuBLASLt's heuristic picks.
    pub candidates: Vec<AlgoCandidate>,
    /// The candidate the measured repetitions used (`candidates[chosen]`).
    pub chosen: usize,
    /// Median time of the default path (`candidates[0]`).
    pub default_median_s: Second,
    /// The fastest candidate's median.
    pub best_median_s: Second,
    /// How much slower the default path is than the best candidate: default / best − 1
    /// (0.04: 4% slower; 0 when the default is the best).
    pub regret: f64,
    /// How the choice was made, in words.
    pub rule: String,
    /// The choice came from the cache (a search of an earlier run), not from this run.
    pub cached: bool,
    /// The cache file (never in the results directory).
    pub cache_file: String,
    /// When the search that found the choice ran (UTC, RFC 3339).
    pub searched_utc: String,
    /// What went wrong reading or writing the cache, if anything (the run went on without it).
    pub cache_error: Option<String>,
}

/// One algorithm timed by the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlgoCandidate {
    /// `default path: cublasGemmEx, CUBLAS_GEMM_DEFAULT` or `cuBLASLt algo 66, tile 20, stages
    /// 8, split-K 1`.
    pub name: String,
    /// Median of its timed calls (CUDA events, after a warm-up call).
    pub median_s: Second,
    /// Its timed calls, seconds.
    pub samples_s: Vec<Second>,
}
