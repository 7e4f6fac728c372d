//! Every device behind one trait.
//!
//! A backend owns its device (context, handles, buffers) and does the job of one run on it:
//! generate A, compute C = A·Aᵀ with one GEMM, reduce s = Σ C, and hand over what verification
//! needs. It times its own device work (CUDA events on the GPU) and nothing else: warm-up,
//! repetitions, statistics, verification and recording live in [`crate::bench`] and are
//! written once against [`Backend`]. What a device offers beyond the job (telemetry, its
//! clock) it offers through the trait too, so the run loop never asks which backend it has.

// The FFI edge: CBLAS calls into a library loaded at run time.
#[allow(unsafe_code)]
pub mod blas;
pub mod cpu;
// The FFI edge: driver, cuBLAS and NVRTC calls (its pure files deny `unsafe` again).
#[allow(unsafe_code)]
pub mod cuda;
#[cfg(test)]
pub mod fake;
pub mod fault;

use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::vocab::{BackendKind, DeviceSelection, MatOp};
use crate::record::DeviceRecord;
use crate::telemetry::Sampler;
use crate::verify::VerificationData;

/// One timed matmul + reduce.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Iteration {
    /// C = A·Aᵀ, device-timed.
    pub matmul_s: Second,
    /// s = Σ C, device-timed.
    pub reduce_s: Second,
    /// s, accumulated in f64.
    pub sum: f64,
    /// Every row and column sum of C, device-timed, where they are a step of their own (the
    /// GPU); `None` where they are computed in the reduction's pass (the CPU) or not at all.
    pub lines_s: Option<Second>,
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
    /// FP8 E4M3 elements as their 8-bit patterns, row-major.
    Bits8(Vec<u8>),
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

    /// Chooses how to compute the prepared problem, where the backend has a choice (the CPU's
    /// `auto` engine: the machine's BLAS or faer, by timing both on it); called after
    /// `generate`, before the warm-up. Returns the wall time it took, `None` when there was
    /// nothing to choose. What was chosen, and why, is in [`Backend::device`].
    fn tune(&mut self) -> Result<Option<Second>, Error> {
        Ok(None)
    }

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

    /// Starts sampling the device's clocks, power and temperature for the measured
    /// repetitions: `None` where the device has nothing to sample (the CPU), `Some(Err(why))`
    /// where it should but cannot (no NVML); the record says which.
    /// The other processes using this device now (`None`: the backend cannot tell, as on the
    /// CPU); `Err` says why they could not be read.
    fn others_using(&self) -> Option<Result<Vec<crate::record::health::GpuProcess>, String>> {
        None
    }

    /// The exact reference of every row and column sum of C, A·(Σ columns of A) in f64, and
    /// the test-only fault this backend will inject, if any (`None`: the backend offers no
    /// line sums, or the product is a SYRK).
    fn line_reference(&mut self) -> Option<(Vec<f64>, Option<String>)> {
        None
    }

    /// Whether an unchanged C gives the same line sums, bit for bit, in every repetition
    /// (a deterministic product, sums added in a fixed order), so that
    /// [`crate::verify::LineChecker`] compares repetitions with each other too.
    fn reproducible(&self) -> bool {
        false
    }

    /// Whether the next repetitions compute their line sums, where they are a pass of their own
    /// (the GPU); a backend that takes them in the reduction's pass ignores it.
    fn set_line_sums(&mut self, _on: bool) {}

    /// The last repetition's row and column sums of C, f64 (`None` where it did not compute them).
    fn line_sums(&self) -> Option<(&[f64], &[f64])> {
        None
    }

    fn start_telemetry(&self) -> Option<Result<Sampler, String>> {
        None
    }

    /// `--algo search`: search the GEMM algorithms in [`Backend::tune`], keeping the winner in
    /// `cache_dir`; `None` for the default path. A backend without a choice refuses the search.
    fn set_algo_search(&mut self, cache_dir: Option<std::path::PathBuf>) -> Result<(), Error> {
        match cache_dir {
            None => Ok(()),
            Some(_) => Err(Error::InvalidArgument(
                "--algo search is for the GPU (cuBLASLt)".into(),
            )),
        }
    }

    /// What `--algo search` found, for the record.
    fn algo_record(&self) -> Option<crate::record::algo::AlgoRecord> {
        None
    }

    /// The CPU engine that runs the GEMM (`auto` resolved), for the record; `None` on a GPU.
    fn cpu_engine(&self) -> Option<crate::model::vocab::CpuEngine> {
        None
    }

    /// Wall-clock seconds from a fixed point, monotonic: what the run loop measures its
    /// budget (`--max-time`) and its one-off phases with. A test backend runs a virtual clock.
    fn wall_clock_s(&self) -> Second {
        monotonic_s()
    }
}

pub use crate::model::monotonic_s;

/// Opens the backend for `selection`: context, handles and kernels (the start-up phase).
pub fn open(selection: &DeviceSelection) -> Result<Box<dyn Backend>, Error> {
    match *selection {
        DeviceSelection::Cpu {
            threads,
            engine,
            ref blas_lib,
        } => Ok(Box::new(cpu::CpuBackend::with_blas(
            threads,
            engine,
            blas_lib.as_deref(),
        )?)),
        DeviceSelection::Gpu { index } => Ok(Box::new(cuda::CudaBackend::new(index)?)),
    }
}

/// Bytes needed for A and C, or `None` on overflow.
pub fn matrices_byte(n: usize, dtype: DType) -> Option<u64> {
    (n as u64)
        .checked_mul(n as u64)?
        .checked_mul(dtype.a_byte() + dtype.c_byte())
}

pub use crate::model::format_byte;

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
