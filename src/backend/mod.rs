//! Every device behind one trait.
//!
//! A backend owns its device (context, handles, buffers) and does the job of one run on it:
//! generate A, compute C = A·Aᵀ with one GEMM, reduce s = Σ C, and hand over what verification
//! needs. It times its own device work (CUDA events on the GPU) and nothing else: warm-up,
//! repetitions, statistics, verification and recording live in [`crate::bench`] and are
//! written once against [`Backend`].

pub mod cpu;
pub mod cuda;

use crate::Second;
use crate::dtype::DType;
use crate::error::Error;
use crate::record::DeviceRecord;
use crate::verify::VerificationData;
use serde::{Deserialize, Serialize};

/// Which implementation runs the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
            BackendKind::Cuda => &[DType::F32, DType::F64, DType::Tf32, DType::Bf16, DType::F16],
        }
    }

    /// Lowercase name used in records and file names.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// The seed script's device string (`/cpu:0`, `/gpu:0`).
    pub fn seed_device_name(self, index: usize) -> String {
        match self {
            BackendKind::Cpu => "/cpu:0".to_string(),
            BackendKind::Cuda => format!("/gpu:{index}"),
        }
    }
}

/// Which product computes C = A·Aᵀ.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum MatOp {
    /// The full GEMM, as the original benchmark ran: 2·n³ FLOP.
    #[default]
    Gemm,
    /// The symmetric rank-k update: only one triangle of C is computed (n³ FLOP), and
    /// s = 2·(strict triangle) + diagonal. f32 and f64 only.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CpuEngine {
    /// faer's GEMM, all requested threads (default: fastest here).
    Faer,
    /// matrixmultiply through ndarray (its threading stops at 4 threads).
    Matrixmultiply,
}

impl CpuEngine {
    /// Lowercase name used in records.
    pub fn name(self) -> &'static str {
        match self {
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
    },
    /// One NVIDIA GPU by CUDA ordinal.
    Gpu {
        /// CUDA device ordinal.
        index: usize,
    },
}

impl DeviceSelection {
    /// The backend that serves this selection.
    pub fn kind(&self) -> BackendKind {
        match self {
            DeviceSelection::Cpu { .. } => BackendKind::Cpu,
            DeviceSelection::Gpu { .. } => BackendKind::Cuda,
        }
    }
}

/// One timed matmul + reduce.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Iteration {
    /// C = A·Aᵀ, device-timed.
    pub matmul_s: Second,
    /// s = Σ C, device-timed.
    pub reduce_s: Second,
    /// s, accumulated in f64.
    pub sum: f64,
}

/// A copy of A on the host (tests and debugging only; never on the timed path).
#[derive(Clone, Debug, PartialEq)]
pub enum HostMatrix {
    /// f32 elements, row-major.
    F32(Vec<f32>),
    /// f64 elements, row-major.
    F64(Vec<f64>),
    /// bf16 or f16 elements as their 16-bit patterns, row-major.
    Bits16(Vec<u16>),
}

/// A device that can run the benchmark. See the module docs for the division of labour.
pub trait Backend {
    /// Which implementation this is.
    fn kind(&self) -> BackendKind;

    /// What the device is, for the record.
    fn device(&self) -> &DeviceRecord;

    /// The exact arithmetic used for `dtype`, e.g. `"fp32: cublasSgemm, CUBLAS_DEFAULT_MATH"`.
    fn math_mode(&self, dtype: DType) -> String;

    /// Checks that an n×n problem in `dtype` fits in free memory, then allocates it. On error
    /// nothing stays allocated and the message says how much is needed and how much is free.
    fn prepare(&mut self, n: usize, dtype: DType) -> Result<(), Error>;

    /// Chooses the product for the next `prepare` (GEMM unless told otherwise). A backend that
    /// cannot compute `op` refuses it here, before anything is allocated.
    fn set_op(&mut self, op: MatOp) -> Result<(), Error> {
        match op {
            MatOp::Gemm => Ok(()),
            MatOp::Syrk => Err(Error::InvalidArgument(
                "this backend has no --op syrk".into(),
            )),
        }
    }

    /// Fills A with the seeded Philox matrix on the device; returns the time it took.
    fn generate(&mut self, seed: u64) -> Result<Second, Error>;

    /// C = A·Aᵀ (one GEMM, transpose flag, no copy), then s = Σ C in f64.
    fn iterate(&mut self) -> Result<Iteration, Error>;

    /// Column sums of A and sampled rows of C with their f64 references, computed on the
    /// backend's own device.
    fn verification_data(&mut self, rows: &[usize]) -> Result<VerificationData<'_>, Error>;

    /// Copies A to the host.
    fn download_matrix(&mut self) -> Result<HostMatrix, Error>;

    /// How the start-up phase was spent, step by step (empty where there is nothing to split).
    fn startup_steps(&self) -> Vec<(String, Second)> {
        Vec::new()
    }
}

/// Opens the backend for `selection`: context, handles and kernels (the start-up phase).
pub fn open(selection: &DeviceSelection) -> Result<Box<dyn Backend>, Error> {
    match *selection {
        DeviceSelection::Cpu { threads, engine } => {
            Ok(Box::new(cpu::CpuBackend::new(threads, engine)?))
        }
        DeviceSelection::Gpu { index } => Ok(Box::new(cuda::CudaBackend::new(index)?)),
    }
}

/// Bytes needed for A and C, or `None` on overflow.
pub fn matrices_byte(n: usize, dtype: DType) -> Option<u64> {
    (n as u64)
        .checked_mul(n as u64)?
        .checked_mul(dtype.size_byte())?
        .checked_mul(2)
}

/// Human-readable bytes in GiB/MiB.
pub fn format_byte(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_bytes_and_overflow() {
        assert_eq!(matrices_byte(10_000, DType::F32), Some(800_000_000));
        assert_eq!(matrices_byte(usize::MAX, DType::F64), None);
        assert_eq!(format_byte(800_000_000), "762.9 MiB");
        assert_eq!(format_byte(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
