//! What "the same benchmark" is, defined once: the [`BenchKey`] (backend, device model, dtype,
//! op, n), and what is deliberately not in it, the run's [`Setup`] (CPU engine and threads,
//! warm-up, cuBLAS and driver). `compare`, `report`, `plot`, `sweep`, `export` and the record's
//! file name all use these; none defines its own.
//!
//! The key's FLOP count comes from the op ([`MatOp::flop`]: 2·n³ for GEMM, n²·(n + 1) for
//! SYRK), so two ops never share a key and a rate is never computed from the wrong count.

use crate::model::dtype::DType;
use crate::model::vocab::{BackendKind, MatOp};
use crate::record::RunRecord;
use serde::Serialize;
use std::fmt;

/// What makes two runs the same benchmark: a pull request or a dashboard compares runs of one
/// key. Ordered by backend, device, dtype, op, then n.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct BenchKey {
    /// Backend: `cpu` or `cuda`.
    pub backend: BackendKind,
    /// Device model: GPU name or CPU model, as recorded.
    pub device: String,
    /// Element type.
    pub dtype: DType,
    /// The product: `gemm` or `syrk`.
    pub op: MatOp,
    /// Matrix size n (A is n×n).
    pub n: usize,
}

impl BenchKey {
    /// The key of a record.
    pub fn of(record: &RunRecord) -> BenchKey {
        BenchKey {
            backend: record.config.backend,
            device: record.device.name.clone(),
            dtype: record.config.dtype,
            op: record.config.op,
            n: record.config.n,
        }
    }

    /// Floating-point operations in one product, from the op (in f64: no n overflows).
    pub fn flop_per_matmul(&self) -> f64 {
        self.op.flop(self.n)
    }

    /// The key without n: one line of a chart (backend, device, dtype, op).
    pub fn series(&self) -> String {
        let op = match self.op {
            MatOp::Gemm => String::new(),
            other => format!(" {}", other.name()),
        };
        format!(
            "{} {} ({}{op})",
            self.backend.name(),
            self.device,
            self.dtype
        )
    }
}

impl fmt::Display for BenchKey {
    /// `cuda NVIDIA H200 f32 n=10000`; a SYRK run says so: `cuda NVIDIA H200 f32 syrk n=10000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.backend.name(), self.device, self.dtype)?;
        if self.op != MatOp::Gemm {
            write!(f, " {}", self.op.name())?;
        }
        write!(f, " n={}", self.n)
    }
}

/// What else decides the speed but is deliberately not in the key: comparing exactly these is
/// what `compare` is for, so it shows them when they differ, and `export` names its series by
/// key *and* setup so a dashboard never pools two setups.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Setup {
    /// CPU GEMM library (`faer`, `matrixmultiply`); `None` on a GPU.
    pub cpu_engine: Option<String>,
    /// The CBLAS library that ran (vendor, version and build), for the `blas` engine: two
    /// BLAS libraries are two setups.
    pub blas_library: Option<String>,
    /// CPU threads; `None` on a GPU.
    pub threads: Option<usize>,
    /// cuBLAS version; `None` on the CPU.
    pub cublas: Option<String>,
    /// NVIDIA driver version; `None` on the CPU.
    pub driver: Option<String>,
    /// Whether the run warmed up before measuring (`--warmup 0` runs include one-off costs).
    pub warm: bool,
}

impl Setup {
    /// The setup of a record.
    pub fn of(record: &RunRecord) -> Setup {
        let gpu = record.config.backend == BackendKind::Cuda;
        Setup {
            cpu_engine: (!gpu).then(|| {
                record
                    .config
                    .cpu_engine
                    .clone()
                    .unwrap_or_else(|| "?".into())
            }),
            blas_library: record
                .device
                .blas_library
                .as_deref()
                .map(|b| b.split(" (").next().unwrap_or(b).to_string()),
            threads: if gpu {
                None
            } else {
                record.device.threads.or(record.config.threads)
            },
            cublas: gpu.then(|| {
                record
                    .device
                    .cublas_version
                    .clone()
                    .unwrap_or_else(|| "?".into())
            }),
            driver: gpu.then(|| {
                record
                    .device
                    .driver_version
                    .clone()
                    .unwrap_or_else(|| "?".into())
            }),
            warm: record.config.warmup > 0,
        }
    }
}

impl fmt::Display for Setup {
    /// `faer, 2 threads` on the CPU, `cuBLAS 13.1.0, driver 580.159.04` on a GPU, with
    /// `, no warm-up` when the run had none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(engine) = &self.cpu_engine {
            f.write_str(engine)?;
            if let Some(blas) = &self.blas_library {
                write!(f, " ({blas})")?;
            }
            match self.threads {
                Some(1) => f.write_str(", 1 thread")?,
                Some(t) => write!(f, ", {t} threads")?,
                None => {}
            }
        }
        if let (Some(cublas), Some(driver)) = (&self.cublas, &self.driver) {
            write!(f, "cuBLAS {cublas}, driver {driver}")?;
        }
        if !self.warm {
            f.write_str(", no warm-up")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(op: MatOp, n: usize) -> BenchKey {
        BenchKey {
            backend: BackendKind::Cuda,
            device: "NVIDIA H200".into(),
            dtype: DType::F32,
            op,
            n,
        }
    }

    #[test]
    fn the_op_is_part_of_the_key_its_name_and_its_flop() {
        let gemm = key(MatOp::Gemm, 10000);
        let syrk = key(MatOp::Syrk, 10000);
        assert_ne!(gemm, syrk);
        assert_eq!(gemm.to_string(), "cuda NVIDIA H200 f32 n=10000");
        assert_eq!(syrk.to_string(), "cuda NVIDIA H200 f32 syrk n=10000");
        assert_eq!(gemm.flop_per_matmul(), 2e12);
        assert_eq!(syrk.flop_per_matmul(), 1e8 * 10001.0);
        assert_eq!(gemm.series(), "cuda NVIDIA H200 (f32)");
        assert_eq!(syrk.series(), "cuda NVIDIA H200 (f32 syrk)");
        assert!(key(MatOp::Gemm, usize::MAX).flop_per_matmul().is_finite());
    }

    #[test]
    fn setups_read_like_a_configuration() {
        let cpu = Setup {
            cpu_engine: Some("faer".into()),
            blas_library: None,
            threads: Some(2),
            cublas: None,
            driver: None,
            warm: true,
        };
        assert_eq!(cpu.to_string(), "faer, 2 threads");
        let blas = Setup {
            cpu_engine: Some("blas".into()),
            blas_library: Some("OpenBLAS 0.3.21, LP64".into()),
            ..cpu.clone()
        };
        assert_eq!(blas.to_string(), "blas (OpenBLAS 0.3.21, LP64), 2 threads");
        let cold_gpu = Setup {
            cpu_engine: None,
            blas_library: None,
            threads: None,
            cublas: Some("13.1.0".into()),
            driver: Some("580.159.04".into()),
            warm: false,
        };
        assert_eq!(
            cold_gpu.to_string(),
            "cuBLAS 13.1.0, driver 580.159.04, no warm-up"
        );
    }
}
