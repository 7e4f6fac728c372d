//! Element types a run can ask for.
//!
//! All six names are accepted on the command line so that a dtype a backend does not support
//! yet is refused with a sentence naming what is supported, not with a parser error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of A and C, and so the arithmetic the GEMM is asked to do.
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
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE single precision, computed in true FP32 (no tensor cores).
    F32,
    /// IEEE double precision.
    F64,
    /// f32 storage, TF32 tensor-core arithmetic.
    Tf32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    F16,
    /// FP8 E4M3 inputs (A is the f32 Philox stream rounded to nearest even), FP32
    /// accumulation on the FP8 tensor cores, C in bf16: through cuBLASLt, compute capability
    /// 8.9 and newer (Ada, Hopper, Blackwell).
    Fp8,
}

impl DType {
    /// Bytes one element of A takes in memory.
    pub fn a_byte(self) -> u64 {
        match self {
            DType::Fp8 => 1,
            _ => self.c_byte(),
        }
    }

    /// Bytes one element of C takes in memory (fp8 writes C in bf16).
    pub fn c_byte(self) -> u64 {
        match self {
            DType::F32 | DType::Tf32 => 4,
            DType::F64 => 8,
            DType::Bf16 | DType::F16 | DType::Fp8 => 2,
        }
    }

    /// Unit roundoff of the arithmetic (half the machine epsilon). For fp8, C's (bf16): its
    /// inputs are E4M3 values, which the f64 reference reads exactly as the tensor cores do.
    pub fn unit_roundoff(self) -> f64 {
        match self {
            DType::F32 => f64::from(f32::EPSILON) / 2.0,
            DType::F64 => f64::EPSILON / 2.0,
            DType::Tf32 => 2f64.powi(-11),
            DType::Bf16 => 2f64.powi(-8),
            DType::F16 => 2f64.powi(-11),
            DType::Fp8 => 2f64.powi(-8),
        }
    }

    /// Refuses a size this dtype's GEMM cannot take: fp8 needs n a multiple of 16 (cuBLASLt's
    /// FP8 kernels want every row of A, n bytes, 16-byte aligned; `torch._scaled_mm` asks the
    /// same).
    pub fn check_size(self, n: usize) -> Result<(), crate::error::Error> {
        if self != DType::Fp8 || n.is_multiple_of(16) {
            return Ok(());
        }
        let (below, above) = (n / 16 * 16, n.div_ceil(16) * 16);
        let below = if below > 0 {
            format!("{below} or ")
        } else {
            String::new()
        };
        Err(crate::error::Error::InvalidArgument(format!(
            "--dtype fp8 needs n a multiple of 16 (cuBLASLt's FP8 kernels read A's rows 16-byte aligned); n = {n} is not: try {below}{above}"
        )))
    }

    /// The lowercase name used on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::Tf32 => "tf32",
            DType::Bf16 => "bf16",
            DType::F16 => "f16",
            DType::Fp8 => "fp8",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
