//! Row-major ↔ column-major GEMM parameters, kept pure so they are tested without a GPU.
//!
//! cuBLAS is column-major. Our A is row-major n×n, and a row-major buffer read column-major is
//! its transpose: the buffer holds B = Aᵀ (column-major). We want C = A·Aᵀ = Bᵀ·B, which cuBLAS
//! computes as `gemm(transa = T, transb = N, m = n, n = n, k = n)` with both operands the same
//! buffer and `lda = ldb = ldc = n`. C is symmetric, so reading it back row-major changes
//! nothing.

#![deny(unsafe_code)]

use crate::error::Error;

/// A cuBLAS operand operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// The arguments of one cuBLAS `gemm` call (alpha = 1, beta = 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmParams {
    /// Operation on the first operand.
    pub transa: Op,
    /// Operation on the second operand.
    pub transb: Op,
    /// Rows of op(A) and C.
    pub m: i32,
    /// Columns of op(B) and C.
    pub n: i32,
    /// Inner dimension.
    pub k: i32,
    /// Leading dimension of the first operand.
    pub lda: i32,
    /// Leading dimension of the second operand.
    pub ldb: i32,
    /// Leading dimension of C.
    pub ldc: i32,
}

/// Parameters for C = A·Aᵀ with A row-major n×n, both operands the same buffer.
pub fn a_times_a_transposed(n: usize) -> Result<GemmParams, Error> {
    let dim = i32::try_from(n).ok().filter(|&d| d > 0).ok_or_else(|| {
        Error::InvalidArgument(format!("n = {n} does not fit cuBLAS's 32-bit dimensions"))
    })?;
    Ok(GemmParams {
        transa: Op::T,
        transb: Op::N,
        m: dim,
        n: dim,
        k: dim,
        lda: dim,
        ldb: dim,
        ldc: dim,
    })
}

/// Whether a GPU of compute capability `capability` ("9.0") has FP8 tensor cores: 8.9 (Ada)
/// and newer (Hopper 9.0, Blackwell 10.x and 12.x).
pub fn has_fp8_tensor_cores(capability: &str) -> bool {
    let mut parts = capability.split('.').map(|p| p.trim().parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (8, 9),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference column-major GEMM with cuBLAS's argument conventions.
    fn gemm_col_major(p: &GemmParams, a: &[f64], b: &[f64], c: &mut [f64]) {
        let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
        let (lda, ldb, ldc) = (p.lda as usize, p.ldb as usize, p.ldc as usize);
        let at = |i: usize, l: usize| match p.transa {
            Op::N => a[i + l * lda],
            Op::T => a[l + i * lda],
        };
        let bt = |l: usize, j: usize| match p.transb {
            Op::N => b[l + j * ldb],
            Op::T => b[j + l * ldb],
        };
        for j in 0..n {
            for i in 0..m {
                c[i + j * ldc] = (0..k).map(|l| at(i, l) * bt(l, j)).sum();
            }
        }
    }

    #[test]
    fn parameters_give_a_times_a_transposed_of_a_row_major_buffer() {
        let n = 5;
        let a: Vec<f64> = (0..n * n).map(|i| (i * 7 % 11) as f64 - 3.0).collect();
        let p = a_times_a_transposed(n).unwrap();
        let mut c = vec![0.0; n * n];
        gemm_col_major(&p, &a, &a, &mut c);
        for r in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| a[r * n + k] * a[j * n + k]).sum();
                assert_eq!(c[r * n + j], want, "C[{r},{j}] read row-major");
                assert_eq!(c[r + j * n], want, "C[{r},{j}] read column-major");
            }
        }
    }

    #[test]
    fn transposes_are_not_interchangeable() {
        let n = 4;
        let a: Vec<f64> = (0..n * n).map(|i| (i * 7 % 11) as f64).collect();
        let mut p = a_times_a_transposed(n).unwrap();
        (p.transa, p.transb) = (Op::N, Op::T);
        let mut c = vec![0.0; n * n];
        gemm_col_major(&p, &a, &a, &mut c);
        let aat = |r: usize, j: usize| (0..n).map(|k| a[r * n + k] * a[j * n + k]).sum::<f64>();
        let differs = (0..n)
            .flat_map(|r| (0..n).map(move |j| (r, j)))
            .any(|(r, j)| c[r * n + j] != aat(r, j));
        assert!(differs, "N,T computes Aᵀ·A, which must not pass for A·Aᵀ");
    }

    #[test]
    fn sizes_outside_i32_are_refused() {
        assert!(a_times_a_transposed(0).is_err());
        assert!(a_times_a_transposed(1 << 31).is_err());
        assert_eq!(a_times_a_transposed(10_000).unwrap().lda, 10_000);
    }

    #[test]
    fn fp8_needs_compute_capability_8_9() {
        for cc in ["8.9", "9.0", "10.0", "12.0"] {
            assert!(has_fp8_tensor_cores(cc), "{cc}");
        }
        for cc in ["7.5", "8.0", "8.6", "8.7", "", "9", "x.y"] {
            assert!(!has_fp8_tensor_cores(cc), "{cc}");
        }
    }
}
