//! Runs grouped by what they measured, so that several runs of one configuration count as one
//! benchmark with more samples.
//!
//! The key is (backend, device model, dtype, n): what a dashboard or a pull request calls "the
//! same benchmark". Thread counts, GEMM library and driver versions are deliberately not in the
//! key, since comparing exactly those is what `compare` is for; they are kept per run as a
//! short "setup" so that the report can say when they differ.

use crate::Second;
use crate::error::Error;
use crate::record::RunRecord;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What makes two runs the same benchmark.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    /// Backend name: "cpu" or "cuda".
    pub backend: String,
    /// Device model: GPU name or CPU model, as recorded.
    pub device: String,
    /// Element type: "f32", "f64", …
    pub dtype: String,
    /// Matrix size n (A is n×n).
    pub n: usize,
}

impl Key {
    /// The key of a record.
    pub fn of(record: &RunRecord) -> Key {
        Key {
            backend: record.config.backend.name().to_string(),
            device: record.device.name.clone(),
            dtype: record.config.dtype.name().to_string(),
            n: record.config.n,
        }
    }

    /// Floating-point operations in one C = A·Aᵀ: 2·n³ (in f64, so no n overflows).
    pub fn flop_per_matmul(&self) -> f64 {
        2.0 * (self.n as f64).powi(3)
    }
}

impl fmt::Display for Key {
    /// `cuda NVIDIA H200 f32 n=10000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} n={}",
            self.backend, self.device, self.dtype, self.n
        )
    }
}

/// One run's part of a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct PooledRun {
    /// The results file.
    pub path: PathBuf,
    /// Its matmul repetitions, seconds, every one finite and positive.
    pub samples_s: Vec<Second>,
    /// Host name.
    pub hostname: String,
    /// What else decides the speed but is not in the key: CPU GEMM library and threads, or
    /// cuBLAS and driver versions.
    pub setup: String,
    /// Whether the run's answer was verified right.
    pub verified: bool,
}

/// Every run of one key, in file-name order.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// What the runs measured.
    pub key: Key,
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

    /// Runs whose answer failed verification.
    pub fn unverified_runs(&self) -> usize {
        self.runs.iter().filter(|r| !r.verified).count()
    }
}

/// The setup string of a record: `faer, 2 threads` on the CPU, `cuBLAS 13.1.0, driver
/// 580.159.04` on a GPU, with `, no warm-up` when the run had none.
fn setup_of(record: &RunRecord) -> String {
    let setup = match record.config.gpu_index {
        None => {
            let threads = record.device.threads.or(record.config.threads);
            let engine = record.config.cpu_engine.as_deref().unwrap_or("?");
            match threads {
                Some(1) => format!("{engine}, 1 thread"),
                Some(t) => format!("{engine}, {t} threads"),
                None => engine.to_string(),
            }
        }
        Some(_) => format!(
            "cuBLAS {}, driver {}",
            record.device.cublas_version.as_deref().unwrap_or("?"),
            record.device.driver_version.as_deref().unwrap_or("?")
        ),
    };
    // Without warm-up the first repetition includes one-off costs (library loading, GEMM
    // heuristics, page faults): a different measurement, worth a note when pooled with others.
    if record.config.warmup == 0 {
        format!("{setup}, no warm-up")
    } else {
        setup
    }
}

/// Checks that a record's matmul samples can be compared: at least one, each a finite, positive
/// number of seconds (a ratio of medians needs both medians above zero).
fn checked_samples(path: &Path, record: &RunRecord) -> Result<Vec<Second>, Error> {
    let samples = &record.matmul.samples_s;
    let bad = |reason: String| Error::BadRecord {
        path: path.to_path_buf(),
        reason,
    };
    if samples.is_empty() {
        return Err(bad("matmul.samples_s is empty: no timing to compare".into()));
    }
    if let Some(s) = samples.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(bad(format!(
            "matmul.samples_s holds {s}, not a positive number of seconds"
        )));
    }
    Ok(samples.clone())
}

/// Groups records by [`Key`], refusing a record whose samples cannot be compared (exit 2).
pub fn group(records: &[(PathBuf, RunRecord)]) -> Result<BTreeMap<Key, Pool>, Error> {
    let mut pools: BTreeMap<Key, Pool> = BTreeMap::new();
    for (path, record) in records {
        let run = PooledRun {
            path: path.clone(),
            samples_s: checked_samples(path, record)?,
            hostname: record.host.hostname.clone(),
            setup: setup_of(record),
            verified: record.verification.passed,
        };
        let key = Key::of(record);
        pools
            .entry(key.clone())
            .or_insert_with(|| Pool {
                key,
                runs: Vec::new(),
            })
            .runs
            .push(run);
    }
    Ok(pools)
}

/// An error as one line: control characters (a newline in a foreign file's string that the JSON
/// decoder quotes back, or in a file name) become spaces, so `main` prints exactly one line.
pub fn one_line(e: Error) -> Error {
    fn clean(text: &str) -> String {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }
    match e {
        Error::BadRecord { path, reason } => Error::BadRecord {
            path: PathBuf::from(clean(&path.to_string_lossy())),
            reason: clean(&reason),
        },
        Error::InvalidArgument(text) => Error::InvalidArgument(clean(&text)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prints_like_a_benchmark_name_and_counts_flop_without_overflow() {
        let key = Key {
            backend: "cuda".into(),
            device: "NVIDIA H200".into(),
            dtype: "f32".into(),
            n: 10000,
        };
        assert_eq!(key.to_string(), "cuda NVIDIA H200 f32 n=10000");
        assert_eq!(key.flop_per_matmul(), 2e12);
        let huge = Key {
            n: usize::MAX,
            ..key
        };
        assert!(huge.flop_per_matmul().is_finite());
    }

    #[test]
    fn one_line_removes_newlines_from_messages() {
        let e = one_line(Error::BadRecord {
            path: PathBuf::from("a\nb.json"),
            reason: "unknown variant `x\ny`".into(),
        });
        assert_eq!(e.to_string(), "a b.json: unknown variant `x y`");
        assert_eq!(e.exit_code(), 2);
    }
}
