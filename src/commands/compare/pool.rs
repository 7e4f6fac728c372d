//! Runs grouped by what they measured, so that several runs of one benchmark count as one
//! with more samples.
//!
//! The key is the one [`BenchKey`] (backend, device model, dtype, op, n): what a dashboard or a
//! pull request calls "the same benchmark". The run's [`Setup`] (CPU engine and threads,
//! warm-up, cuBLAS and driver) is kept per run so the report can say when it differs; `export`
//! groups by key and setup together ([`group_by_setup`]).

use crate::model::Second;
use crate::record::RunRecord;
pub use crate::record::key::{BenchKey, Setup};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A benchmark and one setup of it: one series on a dashboard.
pub type SeriesKey = (BenchKey, Setup);

/// One run's part of a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct PooledRun {
    /// The results file.
    pub path: PathBuf,
    /// Its matmul repetitions, seconds, every one finite and positive.
    pub samples_s: Vec<Second>,
    /// Host name.
    pub hostname: String,
    /// What else decides the speed but is not in the key ([`Setup`], as text).
    pub setup: String,
}

/// Every run of one key, in file-name order.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// What the runs measured.
    pub key: BenchKey,
    /// The runs (at least one).
    pub runs: Vec<PooledRun>,
}

impl Pool {
    /// Every run's samples, one after another.
    pub fn samples_s(&self) -> Vec<Second> {
        self.runs
            .iter()
            .flat_map(|r| r.samples_s.iter().copied())
            .collect()
    }

    /// Number of samples over all runs.
    pub fn sample_count(&self) -> usize {
        self.runs.iter().map(|r| r.samples_s.len()).sum()
    }

    /// Distinct values of `f` over the runs, in first-seen order.
    fn distinct(&self, f: impl Fn(&PooledRun) -> &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for run in &self.runs {
            let value = f(run);
            if !out.iter().any(|v| v == value) {
                out.push(value.to_string());
            }
        }
        out
    }

    /// Distinct setups of the runs.
    pub fn setups(&self) -> Vec<String> {
        self.distinct(|r| &r.setup)
    }

    /// Distinct host names of the runs.
    pub fn hosts(&self) -> Vec<String> {
        self.distinct(|r| &r.hostname)
    }
}

/// One record's part of a pool. The reader has validated the record, so its samples are
/// non-empty, finite and positive.
fn pooled(path: &std::path::Path, record: &RunRecord) -> PooledRun {
    PooledRun {
        path: path.to_path_buf(),
        samples_s: record.matmul.samples_s.clone(),
        hostname: record.host.hostname.clone(),
        setup: Setup::of(record).to_string(),
    }
}

/// Groups records by [`BenchKey`].
pub fn group(records: &[(PathBuf, RunRecord)]) -> BTreeMap<BenchKey, Pool> {
    group_by(records, BenchKey::of)
}

/// Groups records by [`BenchKey`] and [`Setup`]: never two setups in one series.
pub fn group_by_setup(records: &[(PathBuf, RunRecord)]) -> BTreeMap<SeriesKey, Pool> {
    group_by(records, |r| (BenchKey::of(r), Setup::of(r)))
}

fn group_by<K: Ord>(
    records: &[(PathBuf, RunRecord)],
    key_of: impl Fn(&RunRecord) -> K,
) -> BTreeMap<K, Pool> {
    let mut pools: BTreeMap<K, Pool> = BTreeMap::new();
    for (path, record) in records {
        pools
            .entry(key_of(record))
            .or_insert_with(|| Pool {
                key: BenchKey::of(record),
                runs: Vec::new(),
            })
            .runs
            .push(pooled(path, record));
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference GEMM and SYRK records of the H200, as `compare` reads them.
    fn h200(dir: &str) -> Vec<(PathBuf, RunRecord)> {
        crate::record::fixtures::records(dir)
    }

    #[test]
    fn gemm_and_syrk_runs_are_never_one_benchmark() {
        let mut records = h200("h200-2026-11-28");
        records.extend(h200("h200-syrk-2026-11-28"));
        let pools = group(&records);
        let syrk: Vec<&Pool> = pools
            .values()
            .filter(|p| p.key.op == crate::model::vocab::MatOp::Syrk)
            .collect();
        assert!(!syrk.is_empty());
        for pool in pools.values() {
            for run in &pool.runs {
                let (_, record) = records.iter().find(|(p, _)| *p == run.path).unwrap();
                assert_eq!(record.config.op, pool.key.op, "{}", run.path.display());
            }
        }
    }

    #[test]
    fn series_keep_setups_apart() {
        let mut records = h200("h200-2026-11-28");
        let (keys, series) = (group(&records).len(), group_by_setup(&records).len());
        let warm = records.iter().find(|(_, r)| r.config.warmup > 0).unwrap();
        let mut cold = warm.clone();
        cold.1.config.warmup = 0;
        cold.0 = PathBuf::from("cold.json");
        let cold_key = (BenchKey::of(&cold.1), Setup::of(&cold.1));
        let new_series = !group_by_setup(&records).contains_key(&cold_key);
        records.push(cold);
        assert_eq!(group(&records).len(), keys, "the same benchmark");
        assert_eq!(
            group_by_setup(&records).len(),
            series + usize::from(new_series),
            "a cold run is its own series"
        );
        assert!(!group_by_setup(&records)[&cold_key].runs.is_empty());
    }
}
