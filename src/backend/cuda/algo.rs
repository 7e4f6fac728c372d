//! `--algo search`, the parts that need no GPU: which candidate to run with, the cache of
//! winners, and its key. The timing itself is in [`super::CudaBackend`]'s `tune`.
//!
//! **The choice.** The default path (what matbench runs without `--algo search`) is always
//! candidate 0, timed the same way as cuBLASLt's picks. The fastest candidate by median wins
//! only if `compare` would call it faster than the default: the bootstrap interval of the ratio
//! of medians lies entirely below 1 − 5% ([`crate::model::bootstrap`]). Otherwise the default
//! path stays, so the search is never slower than not searching, beyond the noise.
//!
//! **The cache.** One file, `cublaslt-algos.v1` (not `.json`: the results directory's readers
//! take every `.json` for a record, and the file never goes there anyway), in the user's cache
//! directory (`--cache-dir`, else `$XDG_CACHE_HOME/matbench`, else `~/.cache/matbench`), keyed
//! by GPU model, compute capability, SM count, cuBLAS version, dtype, op and n. A hit skips the
//! search and the record says so, with the table of the search that found it. Reading or
//! writing it never fails a run: what went wrong is in the record.

#![deny(unsafe_code)]

use crate::error::Error;
use crate::model::Second;
use crate::model::bootstrap::{self, Verdict};
use crate::record::algo::AlgoRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The cache file's name inside the cache directory.
pub const CACHE_FILE: &str = "cublaslt-algos.v1";

/// Why `--algo search --op syrk` is refused.
pub const SYRK_NOT_SEARCHED: &str = "--algo search searches GEMM algorithms; SYRK is not searched (cuBLASLt has no SYRK): use --op gemm, or --algo default";

/// Most algorithms asked of the heuristic.
pub const MAX_CANDIDATES: usize = 16;

/// The rule, in words, for the record.
pub fn rule() -> String {
    format!(
        "the fastest median wins if the {:.0}% bootstrap interval of its time over the default path's lies entirely below 1 − {}% (compare's rule); otherwise the default path",
        bootstrap::CONFIDENCE_PERCENT,
        bootstrap::DEFAULT_THRESHOLD_PERCENT
    )
}

/// The candidate to run with (0: the default path) for the candidates' samples, candidate 0
/// being the default path's.
pub fn choose(samples: &[Vec<Second>]) -> usize {
    let medians: Vec<f64> = samples.iter().map(|s| median(s)).collect();
    let best = medians
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    if best == 0 {
        return 0;
    }
    let (low, high) = bootstrap::ratio_interval(&samples[0], &samples[best]);
    let t = bootstrap::DEFAULT_THRESHOLD_PERCENT / 100.0;
    if Verdict::decide(low, high, t) == Verdict::Faster {
        best
    } else {
        0
    }
}

/// The median of `samples` (NaN for none).
pub fn median(samples: &[Second]) -> Second {
    crate::model::stats::median(&mut samples.to_vec()).unwrap_or(f64::NAN)
}

/// default / best − 1 (≥ 0).
pub fn regret(default_s: Second, best_s: Second) -> f64 {
    (default_s / best_s.max(f64::MIN_POSITIVE) - 1.0).max(0.0)
}

/// The cache directory when none is given: `$XDG_CACHE_HOME/matbench`, else
/// `$HOME/.cache/matbench`.
pub fn default_cache_dir() -> Result<PathBuf, Error> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_CACHE_HOME")
        .or_else(|| from("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("matbench"))
        .ok_or_else(|| {
            Error::InvalidArgument(
                "--algo search needs a cache directory: set --cache-dir (neither XDG_CACHE_HOME nor HOME is set)".into(),
            )
        })
}

/// What the cache keeps per key: the search's record and the winner's algorithm (its 64 opaque
/// bytes; `None` for the default path).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub record: AlgoRecord,
    pub algo: Option<Vec<u64>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    entries: BTreeMap<String, Entry>,
}

/// The cache key of one problem on one GPU model and cuBLAS.
pub fn key(
    gpu: &str,
    capability: &str,
    multiprocessors: u32,
    cublas: &str,
    problem: &str,
) -> String {
    format!("{gpu} | sm {capability} | {multiprocessors} SMs | cuBLAS {cublas} | {problem}")
}

/// The cache file in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(CACHE_FILE)
}

fn read(file: &Path) -> Result<File, String> {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a cache file matbench wrote: {e}", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(format!("could not read {}: {e}", file.display())),
    }
}

/// The cached entry for `key`; `Err` says why the cache could not be read.
pub fn get(dir: &Path, key: &str) -> Result<Option<Entry>, String> {
    Ok(read(&path(dir))?.entries.get(key).cloned())
}

/// Stores `entry` under `key` (atomically, [`crate::record::store::replace_bytes`]: a reader
/// never sees half a file); `Err` says why it could not.
pub fn put(dir: &Path, key: &str, entry: Entry) -> Result<(), String> {
    let file = path(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    // An unreadable old file is replaced rather than kept: it holds nothing we can use.
    let mut all = read(&file).unwrap_or_default();
    all.entries.insert(key.to_string(), entry);
    let bytes = serde_json::to_vec_pretty(&all).map_err(|e| e.to_string())?;
    crate::record::store::replace_bytes(&file, &bytes)
        .map_err(|e| format!("could not write {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::algo::AlgoCandidate;

    fn noisy(center: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| center * (1.0 + 0.002 * ((i % 5) as f64 - 2.0)))
            .collect()
    }

    #[test]
    fn another_algorithm_wins_only_when_compare_would_call_it_faster() {
        // 20% faster, tight samples: chosen
        assert_eq!(choose(&[noisy(10.0, 9), noisy(8.0, 9), noisy(9.5, 9)]), 1);
        // 2% faster: within compare's 5% threshold, the default stays
        assert_eq!(choose(&[noisy(10.0, 9), noisy(9.8, 9)]), 0);
        // the default is the fastest
        assert_eq!(choose(&[noisy(10.0, 9), noisy(12.0, 9)]), 0);
        // a candidate without samples never wins
        assert_eq!(choose(&[noisy(10.0, 9), vec![]]), 0);
        assert!((regret(10.0, 8.0) - 0.25).abs() < 1e-12);
        assert_eq!(regret(8.0, 10.0), 0.0);
        assert!(rule().contains("compare's rule"));
    }

    #[test]
    fn the_cache_keeps_winners_per_key_and_survives_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let k = key("NVIDIA H200", "9.0", 132, "13.0.2", "bf16 gemm n=10000");
        assert_eq!(get(dir.path(), &k), Ok(None), "no file yet");
        let record = AlgoRecord {
            candidates: vec![AlgoCandidate {
                name: "default path".into(),
                median_s: 1e-3,
                samples_s: vec![1e-3],
            }],
            chosen: 0,
            default_median_s: 1e-3,
            best_median_s: 1e-3,
            regret: 0.0,
            rule: rule(),
            cached: false,
            cache_file: path(dir.path()).display().to_string(),
            searched_utc: "2026-11-30T05:00:00.000Z".into(),
            cache_error: None,
        };
        let entry = Entry {
            record,
            algo: Some(vec![1, 2, 3, 4, 5, 6, 7, 8]),
        };
        put(dir.path(), &k, entry.clone()).unwrap();
        put(dir.path(), "other", entry.clone()).unwrap();
        assert_eq!(get(dir.path(), &k), Ok(Some(entry.clone())));
        assert!(path(dir.path()).extension().is_none_or(|e| e != "json"));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        std::fs::write(path(dir.path()), b"{ not json").unwrap();
        assert!(
            get(dir.path(), &k)
                .unwrap_err()
                .contains("not a cache file")
        );
        put(dir.path(), &k, entry.clone()).unwrap();
        assert_eq!(
            get(dir.path(), &k),
            Ok(Some(entry)),
            "a bad file is replaced"
        );
    }
}
