//! The cuBLAS calls themselves: C = A·Aᵀ as GEMM (Sgemm, Dgemm, GemmEx) or SYRK.
//!
//! Kept apart from the backend's bookkeeping so that every parameter handed to cuBLAS can be
//! read in one file. The choice of routine per storage type is [`BlasElement`], implemented
//! for f32, f64 and u16 (bf16/f16 bit patterns). f32 and f64 GEMM go through cudarc's typed
//! `Gemm`; cudarc 0.19 has no safe GemmEx with an explicit compute type and no SYRK, so those
//! stay raw `sys` calls, each behind one `// SAFETY:` block.

use super::cublas;
use super::gemm::{self, GemmParams};
use crate::error::Error;
use crate::model::dtype::DType;
use cudarc::cublas::sys::{
    self as blas_sys, cublasComputeType_t, cublasFillMode_t, cublasGemmAlgo_t, cublasOperation_t,
    cudaDataType,
};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaSlice, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr, ValidAsZeroBits, sys,
};
use std::sync::Arc;

/// The cuBLAS routines for one storage type of A.
pub(super) trait BlasElement: Sized {
    /// C's storage type when A is stored as `Self`.
    type C: DeviceRepr + ValidAsZeroBits + Unpin + 'static;

    /// C = A·Aᵀ as one GEMM for `dtype`, with the parameters `p`.
    fn gemm(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dtype: DType,
        p: &GemmParams,
        a: &CudaSlice<Self>,
        c: &mut CudaSlice<Self::C>,
    ) -> Result<(), Error>;

    /// C's row-major upper triangle as one SYRK of dimension `dim`.
    fn syrk(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dim: i32,
        a: &CudaSlice<Self>,
        c: &mut CudaSlice<Self::C>,
    ) -> Result<(), Error>;
}

/// The cuBLAS call for `dtype`: C = A·Aᵀ with the parameters of [`gemm::a_times_a_transposed`].
/// f32 and f64 use cudarc's typed Sgemm/Dgemm; tf32, bf16 and f16 call cublasGemmEx with the
/// data and compute types chosen explicitly (what `math_mode` records).
pub(super) fn run_gemm<T: BlasElement>(
    blas: &CudaBlas,
    stream: &Arc<CudaStream>,
    dtype: DType,
    p: &GemmParams,
    a: &CudaSlice<T>,
    c: &mut CudaSlice<T::C>,
) -> Result<(), Error> {
    T::gemm(blas, stream, dtype, p, a, c)
}

/// `--op syrk`: one cublas{S,D}syrk writing the lower triangle of C column-major, which is the
/// upper triangle row-major (row r holds columns j ≥ r). Row-major A read column-major is Aᵀ,
/// so C = A·Aᵀ = (Aᵀ)ᵀ·Aᵀ is `trans = T` with k = n.
pub(super) fn run_syrk<T: BlasElement>(
    blas: &CudaBlas,
    stream: &Arc<CudaStream>,
    n: usize,
    a: &CudaSlice<T>,
    c: &mut CudaSlice<T::C>,
) -> Result<(), Error> {
    let dim = i32::try_from(n)
        .map_err(|_| Error::InvalidArgument(format!("n = {n} does not fit cuBLAS")))?;
    T::syrk(blas, stream, dim, a, c)
}

fn op(o: gemm::Op) -> cublasOperation_t {
    match o {
        gemm::Op::N => cublasOperation_t::CUBLAS_OP_N,
        gemm::Op::T => cublasOperation_t::CUBLAS_OP_T,
    }
}

/// cudarc's typed GEMM configuration for `p` with alpha = 1, beta = 0.
fn config<T>(p: &GemmParams, alpha: T, beta: T) -> GemmConfig<T> {
    GemmConfig {
        transa: op(p.transa),
        transb: op(p.transb),
        m: p.m,
        n: p.n,
        k: p.k,
        alpha,
        lda: p.lda,
        ldb: p.ldb,
        beta,
        ldc: p.ldc,
    }
}

fn mismatch(dtype: DType) -> Error {
    Error::device_msg(format!("internal: {dtype} run without {dtype} buffers"))
}

/// Runs `f` with the raw device pointers of A and C, their stream guards held meanwhile.
fn with_ptrs<T, R>(
    stream: &Arc<CudaStream>,
    a: &CudaSlice<T>,
    c: &mut CudaSlice<T>,
    f: impl FnOnce(sys::CUdeviceptr, sys::CUdeviceptr) -> R,
) -> R {
    let (pa, _ga) = a.device_ptr(stream);
    let (pc, _gc) = c.device_ptr_mut(stream);
    f(pa, pc)
}

/// cublasGemmEx with A/B/C in `data` and the given compute type (alpha = 1, beta = 0 as f32).
fn gemm_ex<T>(
    blas: &CudaBlas,
    stream: &Arc<CudaStream>,
    p: &GemmParams,
    (a, c): (&CudaSlice<T>, &mut CudaSlice<T>),
    data: cudaDataType,
    compute: cublasComputeType_t,
) -> Result<(), Error> {
    let (alpha, beta) = (1f32, 0f32);
    with_ptrs(stream, a, c, |a, c| {
        // SAFETY: A and C are live device buffers of n·n elements of `data`'s type on this
        // handle's stream; m = n = k = lda = ldb = ldc = n; alpha and beta are f32, the scale
        // type of CUBLAS_COMPUTE_32F and CUBLAS_COMPUTE_32F_FAST_TF32.
        unsafe {
            blas_sys::cublasGemmEx(
                *blas.handle(),
                op(p.transa),
                op(p.transb),
                p.m,
                p.n,
                p.k,
                (&alpha as *const f32).cast(),
                a as *const std::ffi::c_void,
                data,
                p.lda,
                a as *const std::ffi::c_void,
                data,
                p.ldb,
                (&beta as *const f32).cast(),
                c as *mut std::ffi::c_void,
                data,
                p.ldc,
                compute,
                cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .result()
        .map_err(cublas("cublasGemmEx"))
    })
}

/// Why a SYRK in another storage type is refused (the plan refuses it first, with more words).
pub(super) fn syrk_only_f32_f64() -> Error {
    Error::InvalidArgument("--op syrk runs in f32 or f64".into())
}

const LOWER: cublasFillMode_t = cublasFillMode_t::CUBLAS_FILL_MODE_LOWER;
const TRANS: cublasOperation_t = cublasOperation_t::CUBLAS_OP_T;

impl BlasElement for f32 {
    type C = f32;

    fn gemm(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dtype: DType,
        p: &GemmParams,
        a: &CudaSlice<f32>,
        c: &mut CudaSlice<f32>,
    ) -> Result<(), Error> {
        match dtype {
            DType::F32 => {
                // SAFETY: A and C each hold n·n elements; m = n = k = lda = ldb = ldc = n.
                unsafe { blas.gemm(config(p, 1f32, 0f32), a, a, c) }.map_err(cublas("cublasSgemm"))
            }
            DType::Tf32 => gemm_ex(
                blas,
                stream,
                p,
                (a, c),
                cudaDataType::CUDA_R_32F,
                cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
            ),
            _ => Err(mismatch(dtype)),
        }
    }

    fn syrk(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dim: i32,
        a: &CudaSlice<f32>,
        c: &mut CudaSlice<f32>,
    ) -> Result<(), Error> {
        let (alpha, beta) = (1f32, 0f32);
        with_ptrs(stream, a, c, |pa, pc| {
            // SAFETY: A and C hold n·n f32 on this handle's stream; n = k = lda = ldc = n.
            unsafe {
                blas_sys::cublasSsyrk_v2(
                    *blas.handle(),
                    LOWER,
                    TRANS,
                    dim,
                    dim,
                    &alpha,
                    pa as *const f32,
                    dim,
                    &beta,
                    pc as *mut f32,
                    dim,
                )
            }
            .result()
            .map_err(cublas("cublasSsyrk"))
        })
    }
}

impl BlasElement for f64 {
    type C = f64;

    fn gemm(
        blas: &CudaBlas,
        _stream: &Arc<CudaStream>,
        dtype: DType,
        p: &GemmParams,
        a: &CudaSlice<f64>,
        c: &mut CudaSlice<f64>,
    ) -> Result<(), Error> {
        if dtype != DType::F64 {
            return Err(mismatch(dtype));
        }
        // SAFETY: A and C each hold n·n elements; m = n = k = lda = ldb = ldc = n.
        unsafe { blas.gemm(config(p, 1f64, 0f64), a, a, c) }.map_err(cublas("cublasDgemm"))
    }

    fn syrk(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dim: i32,
        a: &CudaSlice<f64>,
        c: &mut CudaSlice<f64>,
    ) -> Result<(), Error> {
        let (alpha, beta) = (1f64, 0f64);
        with_ptrs(stream, a, c, |pa, pc| {
            // SAFETY: A and C hold n·n f64 on this handle's stream; n = k = lda = ldc = n.
            unsafe {
                blas_sys::cublasDsyrk_v2(
                    *blas.handle(),
                    LOWER,
                    TRANS,
                    dim,
                    dim,
                    &alpha,
                    pa as *const f64,
                    dim,
                    &beta,
                    pc as *mut f64,
                    dim,
                )
            }
            .result()
            .map_err(cublas("cublasDsyrk"))
        })
    }
}

impl BlasElement for u16 {
    type C = u16;

    fn gemm(
        blas: &CudaBlas,
        stream: &Arc<CudaStream>,
        dtype: DType,
        p: &GemmParams,
        a: &CudaSlice<u16>,
        c: &mut CudaSlice<u16>,
    ) -> Result<(), Error> {
        let data = match dtype {
            DType::Bf16 => cudaDataType::CUDA_R_16BF,
            DType::F16 => cudaDataType::CUDA_R_16F,
            _ => return Err(mismatch(dtype)),
        };
        let compute = cublasComputeType_t::CUBLAS_COMPUTE_32F;
        gemm_ex(blas, stream, p, (a, c), data, compute)
    }

    fn syrk(
        _: &CudaBlas,
        _: &Arc<CudaStream>,
        _: i32,
        _: &CudaSlice<u16>,
        _: &mut CudaSlice<u16>,
    ) -> Result<(), Error> {
        Err(syrk_only_f32_f64())
    }
}

/// fp8: A in E4M3, C in bf16. cuBLAS has no FP8 GEMM outside cuBLASLt, so its default path is
/// `cublasLtMatmul` (`super::lt`), and these are never called for it.
impl BlasElement for u8 {
    type C = u16;

    fn gemm(
        _: &CudaBlas,
        _: &Arc<CudaStream>,
        dtype: DType,
        _: &GemmParams,
        _: &CudaSlice<u8>,
        _: &mut CudaSlice<u16>,
    ) -> Result<(), Error> {
        Err(Error::device_msg(format!(
            "internal: the {dtype} GEMM was sent to cuBLAS instead of cuBLASLt"
        )))
    }

    fn syrk(
        _: &CudaBlas,
        _: &Arc<CudaStream>,
        _: i32,
        _: &CudaSlice<u8>,
        _: &mut CudaSlice<u16>,
    ) -> Result<(), Error> {
        Err(syrk_only_f32_f64())
    }
}
