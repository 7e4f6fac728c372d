//! The record of one run: one serde document, versioned, with units in the field names.
//!
//! `docs/results-schema.md` documents every field; bump [`SCHEMA_VERSION`] on any change a
//! reader must know about.

pub mod store;

use crate::Second;
use crate::backend::BackendKind;
use crate::bench::Summary;
use crate::dtype::DType;
use crate::host::HostRecord;
use crate::verify::Verification;
use serde::{Deserialize, Serialize};

/// Version of the record layout written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything known about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Floating-point operations in one C = A·Aᵀ (2·n³).
    pub flop_per_matmul: f64,
    /// One-off phases.
    pub phases: Phases,
    /// C = A·Aᵀ over the measured repetitions.
    pub matmul: Summary,
    /// s = Σ C over the measured repetitions.
    pub reduce: Summary,
    /// 2·n³ / median matmul time, in 10¹² FLOP/s.
    pub matmul_tflop_per_s: f64,
    /// s from the last repetition.
    pub sum: f64,
    /// Whether the answer was right, and by how much.
    pub verification: Verification,
}

/// The run's parameters after validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// Backend that ran.
    pub backend: BackendKind,
    /// Matrix size n (A is n×n).
    pub n: usize,
    /// Element type.
    pub dtype: DType,
    /// Untimed repetitions before measuring.
    pub warmup: u32,
    /// Measured repetitions.
    pub reps: u32,
    /// Philox seed of A.
    pub seed: u64,
    /// CPU threads (cpu backend).
    pub threads: Option<usize>,
    /// CPU GEMM library (cpu backend).
    pub cpu_engine: Option<String>,
    /// CUDA ordinal (cuda backend).
    pub gpu_index: Option<usize>,
}

/// The device, for the record. GPU-only fields are `null` on the CPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

/// Phases that run once per process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Opening the backend: context, handles, kernel compilation, thread pool.
    pub startup_s: Second,
    /// Start-up step by step, as the backend measured it (GPU: driver, context, cublas,
    /// kernels_wait, kernels_load, device_info, and the helper thread's kernels_compile).
    pub startup_steps_s: std::collections::BTreeMap<String, Second>,
    /// Generating A on the device.
    pub generate_s: Second,
    /// Verification on the device, copies and comparison included.
    pub verify_s: Second,
    /// Verification step by step: `backend (wall)` (the backend's part, wall clock; on the GPU
    /// split into `kernels` and `copy` by CUDA events) and `compare (host)`.
    pub verify_steps_s: std::collections::BTreeMap<String, Second>,
    /// The seed script's figure: generate + first matmul + reduce, wall clock, result on host.
    pub seed_time_taken_s: Second,
    /// From the start of `main` to the end of the run (record writing excluded).
    pub process_s: Second,
}
