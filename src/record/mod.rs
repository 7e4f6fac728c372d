//! The record of one run: one serde document, versioned, with units in the field names.
//!
//! `docs/results-schema.md` documents every field; bump [`SCHEMA_VERSION`] on any change a
//! reader must know about.

pub mod algo;
pub mod health;
pub mod json;
pub mod key;
pub mod peak;
pub mod read;
pub mod soak;
pub mod store;
pub mod telemetry;

use crate::host::HostRecord;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::reps::{RepsMode, RepsStop};
use crate::model::stats::Summary;
use crate::model::vocab::{BackendKind, MatOp};
use serde::{Deserialize, Serialize};

/// The JSON Schema of a record, generated from these types (their doc comments are its
/// descriptions). Committed as `docs/record.schema.json`; a unit test keeps the two equal
/// (`MATBENCH_BLESS=1 cargo test --lib record::` rewrites the file after a change).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RunRecord)).unwrap_or_default()
}

/// Version of the record layout written by this build.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything known about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// matbench's version.
    pub matbench_version: String,
    /// Git commit matbench was built from ("unknown" outside a checkout).
    pub git_commit: String,
    /// When the run started, UTC, RFC 3339.
    pub started_utc: String,
    /// The command line, as given.
    pub args: Vec<String>,
    /// What was asked for.
    pub config: ConfigRecord,
    /// The machine.
    pub host: HostRecord,
    /// The device that ran it.
    pub device: DeviceRecord,
    /// The exact arithmetic (library call, math mode).
    pub math_mode: String,
    /// Floating-point operations in one C = A·Aᵀ (2·n³ for GEMM, n²·(n + 1) for SYRK).
    pub flop_per_matmul: f64,
    /// One-off phases.
    pub phases: Phases,
    /// C = A·Aᵀ over the measured repetitions.
    pub matmul: Summary,
    /// s = Σ C over the measured repetitions.
    pub reduce: Summary,
    /// How measuring ended and how precise the median is (`None` only in records written
    /// before matbench recorded it).
    #[serde(default)]
    pub repetitions: Option<Repetitions>,
    /// `flop_per_matmul` / median matmul time, in 10¹² FLOP/s: the FLOP really done (SYRK: n³).
    pub matmul_tflop_per_s: f64,
    /// 2·n³ / median matmul time: the rate a GEMM would need to match this time (equal to
    /// `matmul_tflop_per_s` for `gemm`, about twice it for `syrk`).
    #[serde(default)]
    pub matmul_gemm_equivalent_tflop_per_s: f64,
    /// s from the last repetition.
    pub sum: f64,
    /// Whether the answer was right, and by how much.
    pub verification: Verification,
    /// GPU clocks, temperature, power, energy and throttling during the measured repetitions
    /// (NVML); `null` for CPU runs and in records made before it existed.
    #[serde(default)]
    pub telemetry: Option<telemetry::Telemetry>,
    /// GPU runs: the figures as shares of the GPU's datasheet peaks, and which peaks; `null`
    /// for CPU runs and in older records.
    #[serde(default)]
    pub peak: Option<peak::PeakRecord>,
    /// The `--check` verdict, when the run was asked to judge its GPU; `null` otherwise.
    #[serde(default)]
    pub check: Option<CheckRecord>,
    /// `--duration` runs: burst against sustained, and the run second by second; `null`
    /// otherwise.
    #[serde(default)]
    pub soak: Option<soak::SoakRecord>,
    /// GPU runs: who else used the GPU, and the card's health counters (NVML); `null` for CPU
    /// runs, without NVML, and in older records.
    #[serde(default)]
    pub health: Option<health::HealthRecord>,
    /// `--timeout`: the run did not finish in time and was stopped; this record holds the
    /// repetitions measured until then, no verification (`verification.passed` is false, so
    /// no reader pools it); `null` for a run that finished.
    #[serde(default)]
    pub timed_out: Option<TimedOut>,
    /// `--algo search`: the GEMM algorithms timed for this problem and the one used; `null`
    /// with the default path (`--algo default`) and in older records.
    #[serde(default)]
    pub algo: Option<algo::AlgoRecord>,
}

/// A run stopped by `--timeout`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimedOut {
    /// The limit, seconds.
    pub limit_s: Second,
    /// Where every device's run was when it was stopped (`GPU 0: measured repetition 14 of 1000`).
    pub at: String,
}

/// What `--check` found (`matbench gpu N --check`): every reason the GPU failed, in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckRecord {
    /// No reason was found.
    pub passed: bool,
    /// The floor share of peak applied (`--min-share`, as a fraction), or `null` where it did
    /// not apply (an unknown GPU model, or n below the sizes that can reach it).
    pub min_share: Option<f64>,
    /// One line per failure: below the floor, slower than its siblings, … Empty when passed.
    pub reasons: Vec<String>,
}

/// The run's parameters after validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigRecord {
    /// Backend that ran.
    pub backend: BackendKind,
    /// Matrix size n (A is n×n).
    pub n: usize,
    /// Element type.
    pub dtype: DType,
    /// `gemm` (the full product, the default) or `syrk` (one triangle of C).
    #[serde(default)]
    pub op: MatOp,
    /// Untimed repetitions run before measuring (`--warmup`, and more to reach
    /// `warmup_time_s`).
    pub warmup: u32,
    /// The warm-up's time floor in seconds, `--warmup-time` (absent in older records).
    #[serde(default)]
    pub warmup_time_s: Option<Second>,
    /// Measured repetitions actually run (with `--reps auto`, as many as the rule asked for).
    pub reps: u32,
    /// `fixed` (`--reps COUNT`) or `auto` (`--reps auto`); `fixed` in older records.
    #[serde(default)]
    pub reps_mode: RepsMode,
    /// `--reps auto` only: the budget of measured repetitions, `--max-time`.
    #[serde(default)]
    pub max_time_s: Option<Second>,
    /// `--duration` only: the seconds of back-to-back repetitions asked for.
    #[serde(default)]
    pub duration_s: Option<Second>,
    /// Philox seed of A.
    pub seed: u64,
    /// CPU threads (cpu backend).
    pub threads: Option<usize>,
    /// CPU GEMM library (cpu backend).
    pub cpu_engine: Option<String>,
    /// CUDA ordinal (cuda backend).
    pub gpu_index: Option<usize>,
}

/// How the measured repetitions ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Repetitions {
    /// `count` (fixed), or `converged`, `max_time`, `max_reps` (auto).
    pub stop: RepsStop,
    /// Relative standard error of the matmul median, √(π/2)·s/√k / median (0.004 = ±0.4%);
    /// `None` for a single repetition or a median of 0.
    pub median_rel_std_error: Option<f64>,
    /// Wall time of the measured repetitions (what `--max-time` limits).
    pub measured_s: Second,
}

/// The device, for the record. GPU-only fields are `null` on the CPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceRecord {
    /// "cpu" or "gpu".
    pub kind: String,
    /// GPU name or CPU model.
    pub name: String,
    /// CUDA ordinal.
    pub index: Option<usize>,
    /// GPU UUID ("GPU-…").
    pub uuid: Option<String>,
    /// Compute capability ("9.0").
    pub compute_capability: Option<String>,
    /// Streaming multiprocessors.
    pub multiprocessors: Option<u32>,
    /// Device memory (GPU) or installed memory (CPU).
    pub memory_total_byte: u64,
    /// NVIDIA kernel driver version ("580.159").
    pub driver_version: Option<String>,
    /// CUDA version the driver supports ("13.0").
    pub cuda_driver_version: Option<String>,
    /// cuBLAS library version ("13.0.0").
    pub cublas_version: Option<String>,
    /// NVRTC version that compiled the kernels ("13.0").
    pub nvrtc_version: Option<String>,
    /// Threads the CPU backend used.
    pub threads: Option<usize>,
    /// The CBLAS library that ran (`--cpu-engine blas`, or `auto` that found one): vendor,
    /// version and build, the file, and how its threads were set; `null` otherwise.
    #[serde(default)]
    pub blas_library: Option<String>,
    /// Why this CPU engine ran (`auto` found a BLAS, or found none and took faer); `null`
    /// where the engine was named, and on a GPU.
    #[serde(default)]
    pub engine_choice: Option<String>,
}

/// Phases that run once per process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phases {
    /// Opening the backend: context, handles, kernel compilation, thread pool.
    pub startup_s: Second,
    /// Start-up step by step, as the backend measured it (GPU: driver, context, cublas,
    /// kernels_wait, kernels_load, device_info, and the helper thread's kernels_compile).
    pub startup_steps_s: std::collections::BTreeMap<String, Second>,
    /// Generating A on the device.
    pub generate_s: Second,
    /// Choosing how to compute this problem, where the backend had a choice (the CPU's `auto`
    /// engine timing the machine's BLAS against faer); `null` where it had none, and in older
    /// records. Not part of the script's time.
    #[serde(default)]
    pub tune_s: Option<Second>,
    /// Verification on the device, copies and comparison included.
    pub verify_s: Second,
    /// Verification step by step: `backend (wall)` (the backend's part, wall clock; on the GPU
    /// split into `kernels` and `copy` by CUDA events) and `compare (host)`.
    pub verify_steps_s: std::collections::BTreeMap<String, Second>,
    /// What the TensorFlow script's `Time taken` measured, measured the same way: from before
    /// the device was opened (its `tf.Session`) to the sum on the host: start-up + generate +
    /// first matmul + reduce, wall clock. (Schema 1 had `seed_time_taken_s`, the same without
    /// start-up; a schema-1 record reads with the start-up added.)
    pub script_time_taken_s: Second,
    /// From the start of `main` to the end of the run (record writing excluded).
    pub process_s: Second,
}

/// The verdict, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verification {
    /// Both checks passed.
    pub passed: bool,
    /// Σₖ(Σᵢ Aᵢₖ)², the exact reference for s.
    pub sum_reference: f64,
    /// Largest |s − reference| / reference over every repetition's s.
    pub sum_rel_error: f64,
    /// Bound `sum_rel_error` must stay under.
    pub sum_tolerance: f64,
    /// Rows of C checked element by element.
    pub rows_checked: Vec<usize>,
    /// Elements of C compared.
    pub elements_checked: u64,
    /// Largest |C[r,j] − ref| / ref over the checked elements.
    pub max_element_rel_error: f64,
    /// Bound `max_element_rel_error` must stay under.
    pub element_tolerance: f64,
    /// Every element of every repetition, through checksums: each row and column sum of C
    /// against A·(Σ columns of A); `null` where the backend does not offer them yet (the GPU),
    /// for SYRK, and in older records.
    #[serde(default)]
    pub line_sums: Option<LineSums>,
}

/// Algorithm-based checksums of every repetition: C's row sums (and, C being symmetric, its
/// column sums) against the exact A·c, c = the column sums of A. A wrong element moves its row's
/// and its column's sums, so a fault is caught and placed whichever element it hits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineSums {
    /// Repetitions checked (warm-ups included).
    pub repetitions_checked: u32,
    /// Bound every row and column sum's relative error must stay under.
    pub tolerance: f64,
    /// Largest relative error of a row or column sum over every repetition.
    pub max_rel_error: f64,
    /// Repetitions with a row or column sum outside the bound.
    pub failed_repetitions: u32,
    /// The first failing repetitions (at most 16), each naming its rows and columns.
    pub failures: Vec<LineFailure>,
    /// A fault put in on purpose (`MATBENCH_INJECT_FAULT`, for tests of this check); `null`
    /// in a real run.
    pub injected_fault: Option<String>,
    /// Every repetition's sums were also compared bit for bit with the first passing one's
    /// (the backend's product is deterministic: the GPU's cuBLAS); a difference fails its
    /// repetition even within the bound.
    #[serde(default)]
    pub bitwise_compared: bool,
    /// Median device time of the sums per measured repetition, where they are a step of their
    /// own (the GPU; on the CPU they are computed in the reduction's pass).
    #[serde(default)]
    pub median_s: Option<Second>,
    /// `median_s` over the matmul's median: what the check costs.
    #[serde(default)]
    pub share_of_matmul: Option<f64>,
    /// `--line-sums budget` (the default, where the sums are a pass of their own): every
    /// warm-up and every k-th measured repetition were checked, k set so that the check costs
    /// at most `budget_share` of the matmul (measured on the last warm-up); 1: all of them.
    #[serde(default)]
    pub checked_every: Option<u32>,
    /// The budget k was set by (0.01 for f32/f64, 0.05 for tf32, bf16, f16, fp8).
    #[serde(default)]
    pub budget_share: Option<f64>,
    /// Bound on how far a sum's relative error may stray from its repetition's median error
    /// (`verify::LineBounds::spread`: the tolerance without the share every line carries
    /// alike).
    #[serde(default)]
    pub spread: Option<f64>,
    /// Largest distance of a sum's relative error from its repetition's median error.
    #[serde(default)]
    pub max_spread: Option<f64>,
}

/// One repetition whose checksums failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineFailure {
    /// Which repetition, counting from 1 over warm-ups and measured ones alike.
    pub repetition: u32,
    /// It was a warm-up repetition.
    pub warmup: bool,
    /// Rows whose sums failed (the first 16).
    pub rows: Vec<usize>,
    /// Columns whose sums failed (the first 16).
    pub columns: Vec<usize>,
    /// How many rows and columns failed in all.
    pub rows_failed: u32,
    /// How many columns failed in all.
    pub columns_failed: u32,
    /// Largest relative error of a sum in this repetition (0 where only `bitwise` failed).
    pub max_rel_error: f64,
    /// Largest distance of a sum's relative error from the repetition's median error (absent
    /// where only `bitwise` failed).
    #[serde(default)]
    pub max_spread: Option<f64>,
    /// The sums were within the bound but not the same bits as the other repetitions': the
    /// rows and columns named are those whose bits differed.
    #[serde(default)]
    pub bitwise: bool,
}

impl Verification {
    /// One line for the report: PASS/FAIL with the relative errors.
    pub fn summary_line(&self) -> String {
        let lines = match &self.line_sums {
            Some(l) => format!("; {}", l.summary()),
            None => String::new(),
        };
        format!(
            "{} (sum rel. error {:.2e} ≤ {:.1e}; {} elements in {} rows, max rel. error {:.2e} ≤ {:.1e}{lines})",
            if self.passed { "PASS" } else { "FAIL" },
            self.sum_rel_error,
            self.sum_tolerance,
            self.elements_checked,
            self.rows_checked.len(),
            self.max_element_rel_error,
            self.element_tolerance
        )
    }
}

/// Indices as runs (`17`, `100–115`), with how many there were in all when not all are named.
fn spans(named: &[usize], total: u32) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in named {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => runs.push((i, i)),
        }
    }
    let mut text: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    if (named.len() as u64) < u64::from(total) {
        text.push(format!("… ({total} in all)"));
    }
    if text.is_empty() {
        "none".into()
    } else {
        text.join(", ")
    }
}

impl LineSums {
    /// `every row and column of 12 repetitions ≤ 2.1e-7 (3.8e-6)`, or where they failed.
    pub fn summary(&self) -> String {
        let injected = match &self.injected_fault {
            Some(f) => format!(" [injected: {f}]"),
            None => String::new(),
        };
        let cost = match (self.share_of_matmul, self.checked_every, self.budget_share) {
            (Some(share), Some(k), Some(budget)) if k > 1 => format!(
                "; {:.1}% of the matmul's time each, so after the warm-ups every {} repetition (budget {:.0}%, --line-sums)",
                100.0 * share,
                crate::model::ordinal(k),
                100.0 * budget
            ),
            (Some(share), _, _) => format!("; {:.1}% of the matmul's time", 100.0 * share),
            _ => String::new(),
        };
        let spread = match (self.spread, self.max_spread) {
            (Some(bound), Some(largest)) if bound < self.tolerance => {
                format!(
                    " and within {bound:.1e} of their repetition's median (largest {largest:.2e})"
                )
            }
            _ => String::new(),
        };
        match self.failures.first() {
            None => format!(
                "every row and column sum of {} repetitions within {:.1e} (largest {:.2e}){spread}{}{cost}{injected}",
                self.repetitions_checked,
                self.tolerance,
                self.max_rel_error,
                if self.bitwise_compared {
                    ", the same bits in each"
                } else {
                    ""
                }
            ),
            Some(f) => format!(
                "row/column sums FAILED in {} of {} repetitions, first repetition {}{}: rows {}, columns {}, {}{injected}",
                self.failed_repetitions,
                self.repetitions_checked,
                f.repetition,
                if f.warmup { " (warm-up)" } else { "" },
                spans(&f.rows, f.rows_failed),
                spans(&f.columns, f.columns_failed),
                match (f.bitwise, f.max_spread, self.spread) {
                    (true, _, _) => {
                        "not the same bits as the other repetitions' (within the bound)".to_string()
                    }
                    (false, Some(off), Some(bound)) if f.max_rel_error <= self.tolerance =>
                        format!(
                            "up to {off:.2e} from the repetition's median error (bound {bound:.1e}; off by up to {:.2e}, bound {:.1e})",
                            f.max_rel_error, self.tolerance
                        ),
                    _ => format!(
                        "off by up to {:.2e} (bound {:.1e})",
                        f.max_rel_error, self.tolerance
                    ),
                }
            ),
        }
    }
}

/// The committed reference records, for tests anywhere in the crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::PathBuf;

    /// `results/reference/<dir>`.
    pub fn reference(dir: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("results/reference")
            .join(dir)
    }

    /// Every record of `results/reference/<dir>`, as the readers read them.
    pub fn records(dir: &str) -> Vec<(PathBuf, super::RunRecord)> {
        super::read::read_all(&[reference(dir)]).expect("the reference records read")
    }

    /// `r` as if its GEMM had run at `tflop_per_s`: every sample, the summary and the rate
    /// scaled together, so the record still reads back.
    pub fn at_rate(mut r: super::RunRecord, tflop_per_s: f64) -> super::RunRecord {
        let factor = r.matmul_tflop_per_s / tflop_per_s;
        let samples: Vec<f64> = r.matmul.samples_s.iter().map(|s| s * factor).collect();
        r.matmul = crate::model::stats::Summary::from_samples(&samples).expect("samples");
        r.matmul_tflop_per_s = r.flop_per_matmul / r.matmul.median_s / 1e12;
        r.matmul_gemm_equivalent_tflop_per_s =
            crate::model::vocab::MatOp::Gemm.flop(r.config.n) / r.matmul.median_s / 1e12;
        r
    }

    /// One record file of the 2-core reference set.
    pub fn one_file() -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(reference("dev-2core-2026-11-28"))
            .expect("the reference records are committed")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        files.remove(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Every record committed under `results/reference/`, as `read::read_all` reads them.
    fn reference_records() -> Vec<RunRecord> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results/reference");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        read::read_all(&dirs)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn the_committed_schema_is_the_generated_one_and_every_reference_record_meets_it() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/record.schema.json");
        let generated = schema();
        if std::env::var_os("MATBENCH_BLESS").is_some() {
            let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
            std::fs::write(path, text).unwrap();
        }
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            committed == generated,
            "docs/record.schema.json is stale: MATBENCH_BLESS=1 cargo test --lib record::"
        );
        assert!(
            generated.to_string().contains("verify_steps_s"),
            "every field is in the schema"
        );
        let validator = jsonschema::validator_for(&committed).unwrap();
        let root = fixtures::reference("");
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().file_name().to_string_lossy().into_owned();
            // Schema-1 records are checked as the reader upgrades them.
            for (file, record) in fixtures::records(&dir) {
                let v = serde_json::to_value(&record).unwrap();
                let errors: Vec<String> =
                    validator.iter_errors(&v).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}", file.display());
            }
        }
    }

    #[test]
    fn reference_records_without_the_repetition_fields_still_read() {
        let records = reference_records();
        assert!(records.len() >= 20, "{}", records.len());
        for r in &records {
            assert_eq!(r.config.reps_mode, RepsMode::Fixed);
            assert_eq!(r.config.max_time_s, None);
            if let Some(rep) = &r.repetitions {
                assert_eq!(rep.stop, RepsStop::Count);
            }
            assert_eq!(r.matmul.samples_s.len(), r.config.reps as usize);
        }
        assert!(
            records.iter().any(|r| r.repetitions.is_none()),
            "some reference records predate the repetitions field and must still read"
        );
    }

    #[test]
    fn repetition_fields_round_trip_with_their_record_names() {
        let mut r = reference_records().remove(0);
        r.config.reps_mode = RepsMode::Auto;
        r.config.max_time_s = Some(0.5);
        r.repetitions = Some(Repetitions {
            stop: RepsStop::MaxTime,
            median_rel_std_error: Some(0.012),
            measured_s: 0.51,
        });
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["config"]["reps_mode"], "auto");
        assert_eq!(v["config"]["max_time_s"], 0.5);
        assert_eq!(v["repetitions"]["stop"], "max_time");
        assert_eq!(v["repetitions"]["median_rel_std_error"], 0.012);
        assert_eq!(serde_json::from_value::<RunRecord>(v).unwrap(), r);
    }
}
