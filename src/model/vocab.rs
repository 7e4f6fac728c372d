//! The shared vocabulary: which backend, which product, which CPU library, which device.
//! A leaf: it imports nothing from the crate but the dtype beside it.

use crate::model::dtype::DType;
use serde::{Deserialize, Serialize};

/// Which implementation runs the benchmark.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Host CPU through faer or matrixmultiply.
    Cpu,
    /// NVIDIA GPU through cuBLAS and NVRTC kernels.
    Cuda,
}

impl BackendKind {
    /// The dtypes this backend computes today; the plan refuses the others.
    pub fn supported_dtypes(self) -> &'static [DType] {
        match self {
            BackendKind::Cpu => &[DType::F32, DType::F64],
            BackendKind::Cuda => &[
                DType::F32,
                DType::F64,
                DType::Tf32,
                DType::Bf16,
                DType::F16,
                DType::Fp8,
            ],
        }
    }

    /// Lowercase name used in records and file names.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// The device string the original TensorFlow script printed (`/cpu:0`, `/gpu:0`).
    pub fn script_device_name(self, index: usize) -> String {
        match self {
            BackendKind::Cpu => "/cpu:0".to_string(),
            BackendKind::Cuda => format!("/gpu:{index}"),
        }
    }
}

/// How the GPU's GEMM is chosen (`--algo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgoMode {
    /// The cuBLAS call matbench always makes (cublasSgemm, cublasDgemm, cublasGemmEx; for
    /// fp8, cublasLtMatmul with the heuristic's first algorithm).
    #[default]
    Default,
    /// Time cuBLASLt's candidates for the exact problem beside the default path and run with
    /// the fastest, when it is faster beyond the noise; the winner is cached.
    Search,
}

/// Which repetitions the GPU's checksums cover (`--line-sums`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LineSumsMode {
    /// Every warm-up, then every k-th measured repetition, k the smallest that keeps the
    /// check within its budget (1% of the matmul in f32 and f64, 5% in tf32, bf16, f16 and fp8),
    /// measured on the last warm-up; k is in the record. 1 where the check is cheap enough.
    #[default]
    Budget,
    /// Every repetition, whatever it costs.
    All,
}

impl LineSumsMode {
    /// The most of the matmul's time the checksums may cost under [`LineSumsMode::Budget`].
    pub fn budget_share(dtype: crate::model::dtype::DType) -> f64 {
        use crate::model::dtype::DType;
        match dtype {
            DType::F32 | DType::F64 => 0.01,
            DType::Tf32 | DType::Bf16 | DType::F16 | DType::Fp8 => 0.05,
        }
    }

    /// How often to check measured repetitions: the smallest k with `share / k ≤ budget`.
    pub fn stride(self, share: f64, budget: f64) -> u32 {
        match self {
            LineSumsMode::All => 1,
            LineSumsMode::Budget if share.is_finite() && budget > 0.0 => {
                (share / budget).ceil().clamp(1.0, 1e6) as u32
            }
            LineSumsMode::Budget => 1,
        }
    }
}

/// Which product computes C = A·Aᵀ.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum MatOp {
    /// The full GEMM, as the original benchmark ran: 2·n³ FLOP.
    #[default]
    Gemm,
    /// The symmetric rank-k update: only one triangle of C is computed (n²·(n + 1) FLOP),
    /// and s = 2·(strict triangle) + diagonal. f32 and f64 only.
    Syrk,
}

impl MatOp {
    /// Lowercase name used in records.
    pub fn name(self) -> &'static str {
        match self {
            MatOp::Gemm => "gemm",
            MatOp::Syrk => "syrk",
        }
    }

    /// Floating-point operations of one product for n (SYRK: n²·(n + 1)).
    pub fn flop(self, n: usize) -> f64 {
        let n = n as f64;
        match self {
            MatOp::Gemm => 2.0 * n * n * n,
            MatOp::Syrk => n * n * (n + 1.0),
        }
    }
}

/// The GEMM library used by the CPU backend.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum CpuEngine {
    /// The default: the machine's own CBLAS when one is found (MKL, OpenBLAS, BLIS), unless
    /// faer is faster on the problem (both timed on it before the warm-up); faer when none is
    /// found. The record says which ran and why.
    Auto,
    /// The machine's CBLAS, loaded at run time (`--blas-lib PATH` to name one).
    Blas,
    /// faer's GEMM, all requested threads.
    Faer,
    /// matrixmultiply through ndarray (its threading stops at 4 threads).
    Matrixmultiply,
}

impl CpuEngine {
    /// Lowercase name used in records.
    pub fn name(self) -> &'static str {
        match self {
            CpuEngine::Auto => "auto",
            CpuEngine::Blas => "blas",
            CpuEngine::Faer => "faer",
            CpuEngine::Matrixmultiply => "matrixmultiply",
        }
    }
}

/// The device a plan runs on, with its device-specific settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSelection {
    /// The host CPU.
    Cpu {
        /// Worker threads.
        threads: usize,
        /// GEMM library.
        engine: CpuEngine,
        /// The CBLAS to load (`--blas-lib`), instead of searching the usual names.
        blas_lib: Option<std::path::PathBuf>,
    },
    /// One NVIDIA GPU by CUDA ordinal.
    Gpu {
        /// CUDA device ordinal.
        index: usize,
    },
}

impl DeviceSelection {
    /// The device in a sentence: `GPU 0`, `CPU`.
    pub fn label(&self) -> String {
        match self {
            DeviceSelection::Cpu { .. } => "CPU".to_string(),
            DeviceSelection::Gpu { index } => format!("GPU {index}"),
        }
    }

    /// The backend that serves this selection.
    pub fn kind(&self) -> BackendKind {
        match self {
            DeviceSelection::Cpu { .. } => BackendKind::Cpu,
            DeviceSelection::Gpu { .. } => BackendKind::Cuda,
        }
    }
}
