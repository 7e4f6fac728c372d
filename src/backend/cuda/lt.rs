//! cuBLASLt, for `--algo search` and for fp8: the heuristic's candidate algorithms for the run's
//! exact GEMM, and one GEMM with a given algorithm.
//!
//! Raw `sys` calls: cudarc 0.19's safe cuBLASLt wrapper asks the heuristic for one algorithm
//! only and unwraps its errors (a panic is a bug here), so the handle, descriptors and layouts
//! are held by small owners of our own, each freed once in `Drop`. The problem is the default
//! path's, parameter for parameter ([`super::gemm::a_times_a_transposed`]): C = Bᵀ·B with B the
//! row-major A read column-major, `transa = T`, `transb = N`, every dimension and leading
//! dimension n, and the same data and compute types as [`super::blas`] uses per dtype.
//!
//! **fp8** has no cuBLAS routine outside cuBLASLt, so its default path is here too: A and B
//! `CUDA_R_8F_E4M3` (the same buffer; `T`,`N` is the "TN" layout Hopper's FP8 kernels require),
//! C and D `CUDA_R_16BF`, `CUBLAS_COMPUTE_32F` with f32 alpha and beta, the A and B scale
//! factors set to 1.0 through device pointers (cuBLASLt's FP8 scaling; A needs none, its values
//! are in [0, 1]), and fast accumulation off (`CUBLASLT_MATMUL_DESC_FAST_ACCUM` = 0: the tensor
//! cores' partial sums are promoted to FP32 as cuBLASLt sees fit, as `torch._scaled_mm` does by
//! default). [`FP8_COMPUTED`] says so in the record.

use super::driver;
use super::gemm::{GemmParams, Op};
use crate::error::Error;
use crate::model::dtype::DType;
use cudarc::cublaslt::result::{self as lt, CublasError};
use cudarc::cublaslt::sys::{
    self, cublasComputeType_t, cublasLtMatmulAlgo_t, cublasLtMatmulDescAttributes_t,
    cublasLtMatmulHeuristicResult_t, cublasLtMatmulPreferenceAttributes_t, cudaDataType,
};
// cuBLASLt takes cuBLAS's operation enum (an i32) for its transpose attributes.
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DevicePtrMut};
use std::ffi::c_void;
use std::sync::Arc;

/// Workspace handed to cuBLASLt: NVIDIA's recommendation for Hopper (32 MiB), enough elsewhere.
pub const WORKSPACE_BYTE: usize = 32 << 20;

fn lt_error(what: &'static str) -> impl Fn(CublasError) -> Error {
    move |e| Error::device(format!("{what} failed in cuBLASLt ({:?})", e.0), e)
}

/// A cuBLASLt handle and its workspace.
pub(super) struct Lt {
    handle: sys::cublasLtHandle_t,
    workspace: CudaSlice<u8>,
}

// SAFETY: the handle is used from one thread at a time (the run's), as cuBLASLt allows.
unsafe impl Send for Lt {}

impl Lt {
    pub(super) fn new(stream: &Arc<CudaStream>) -> Result<Lt, Error> {
        super::probe::check_cublas()?;
        if !super::probe::preload("cublasLt") {
            return Err(Error::NoDevice(
                "cuBLASLt (libcublasLt) was not found beside cuBLAS; --algo search and --dtype fp8 need it"
                    .into(),
            ));
        }
        let handle = lt::create_handle().map_err(lt_error("creating the cuBLASLt handle"))?;
        // SAFETY: every byte is written by cuBLASLt before it reads it (scratch space).
        let workspace = match unsafe { stream.alloc::<u8>(WORKSPACE_BYTE) } {
            Ok(w) => w,
            Err(e) => {
                // SAFETY: the handle was just created and is destroyed once.
                let _ = unsafe { lt::destroy_handle(handle) };
                return Err(driver("allocating cuBLASLt's workspace")(e));
            }
        };
        Ok(Lt { handle, workspace })
    }
}

impl Drop for Lt {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once here.
        let _ = unsafe { lt::destroy_handle(self.handle) };
    }
}

/// What an fp8 run computes, for the record.
pub const FP8_COMPUTED: &str = "fp8: cublasLtMatmul, A and B CUDA_R_8F_E4M3 (the same buffer, transa T, transb N: TN), scale_a = scale_b = 1.0 (device f32), C and D CUDA_R_16BF, CUBLAS_COMPUTE_32F (FP8 tensor cores, FP32 accumulate), fast accumulation off";

/// The run's GEMM described for cuBLASLt: its operation descriptor and the layouts of A and B
/// (one, they are the same buffer) and of C and D (n×n, leading dimension n).
pub(super) struct Problem {
    desc: sys::cublasLtMatmulDesc_t,
    ab: sys::cublasLtMatrixLayout_t,
    cd: sys::cublasLtMatrixLayout_t,
    /// alpha and beta in the scale type: f64 for f64, f32 otherwise.
    scale_f64: bool,
    /// fp8: the device's copies of the A and B scale factors, which the descriptor points at.
    _scales: Option<[CudaSlice<f32>; 2]>,
}

// SAFETY: descriptors are plain host objects, used from one thread at a time.
unsafe impl Send for Problem {}

impl Drop for Problem {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once here.
        unsafe {
            let _ = lt::destroy_matrix_layout(self.ab);
            if self.cd != self.ab {
                let _ = lt::destroy_matrix_layout(self.cd);
            }
            let _ = lt::destroy_matmul_desc(self.desc);
        }
    }
}

/// Data types of A and B, of C and D, compute and scale types of `dtype`'s GEMM, as the
/// default path sets them.
fn types(
    dtype: DType,
) -> (
    cudaDataType,
    cudaDataType,
    cublasComputeType_t,
    cudaDataType,
) {
    use cublasComputeType_t as C;
    use cudaDataType as D;
    let (ab, compute, scale) = match dtype {
        DType::F32 => (D::CUDA_R_32F, C::CUBLAS_COMPUTE_32F, D::CUDA_R_32F),
        DType::Tf32 => (
            D::CUDA_R_32F,
            C::CUBLAS_COMPUTE_32F_FAST_TF32,
            D::CUDA_R_32F,
        ),
        DType::F64 => (D::CUDA_R_64F, C::CUBLAS_COMPUTE_64F, D::CUDA_R_64F),
        DType::Bf16 => (D::CUDA_R_16BF, C::CUBLAS_COMPUTE_32F, D::CUDA_R_32F),
        DType::F16 => (D::CUDA_R_16F, C::CUBLAS_COMPUTE_32F, D::CUDA_R_32F),
        DType::Fp8 => (D::CUDA_R_8F_E4M3, C::CUBLAS_COMPUTE_32F, D::CUDA_R_32F),
    };
    let cd = match dtype {
        DType::Fp8 => D::CUDA_R_16BF,
        _ => ab,
    };
    (ab, cd, compute, scale)
}

/// Sets one attribute of `desc` to `value`'s bytes.
fn set_attr<V>(
    desc: sys::cublasLtMatmulDesc_t,
    attr: cublasLtMatmulDescAttributes_t,
    value: &V,
) -> Result<(), CublasError> {
    // SAFETY: the descriptor is alive; every attribute set here is of `V`'s type and size
    // (cuBLASLt copies the bytes before returning).
    unsafe {
        lt::set_matmul_desc_attribute(
            desc,
            attr,
            (value as *const V).cast(),
            std::mem::size_of::<V>(),
        )
    }
}

fn op(o: Op) -> cublasOperation_t {
    match o {
        Op::N => cublasOperation_t::CUBLAS_OP_N,
        Op::T => cublasOperation_t::CUBLAS_OP_T,
    }
}

impl Problem {
    /// `dtype`'s GEMM with the parameters `p`; fp8's scale factors are put on the device
    /// through `stream`.
    pub(super) fn new(
        dtype: DType,
        p: &GemmParams,
        stream: &Arc<CudaStream>,
    ) -> Result<Problem, Error> {
        use cublasLtMatmulDescAttributes_t as A;
        let (ab_type, cd_type, compute, scale) = types(dtype);
        let desc =
            lt::create_matmul_desc(compute, scale).map_err(lt_error("creating a matmul desc"))?;
        let dim = p.m as u64;
        let layout = |data| lt::create_matrix_layout(data, dim, dim, i64::from(p.lda));
        let ab = match layout(ab_type) {
            Ok(l) => l,
            Err(e) => {
                // SAFETY: created above, destroyed once.
                let _ = unsafe { lt::destroy_matmul_desc(desc) };
                return Err(lt_error("creating a matrix layout")(e));
            }
        };
        // From here on `problem`'s Drop frees what exists.
        let mut problem = Problem {
            desc,
            ab,
            cd: ab,
            scale_f64: dtype == DType::F64,
            _scales: None,
        };
        if cd_type != ab_type {
            problem.cd = layout(cd_type).map_err(lt_error("creating a matrix layout"))?;
        }
        set_attr(desc, A::CUBLASLT_MATMUL_DESC_TRANSA, &op(p.transa))
            .and_then(|()| set_attr(desc, A::CUBLASLT_MATMUL_DESC_TRANSB, &op(p.transb)))
            .map_err(lt_error("setting the transposes"))?;
        if dtype == DType::Fp8 {
            // One allocation per factor: with B's factor 4 bytes after A's in one buffer, every
            // FP8 cublasLtMatmul failed with CUBLAS_STATUS_NOT_SUPPORTED on the H200
            // (2026-11-30), though the heuristic had offered the algorithm.
            let one = || {
                stream
                    .clone_htod(&[1f32])
                    .map_err(driver("copying the FP8 scale factors"))
            };
            let scales = [one()?, one()?];
            for (attr, scale) in [
                A::CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                A::CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
            ]
            .into_iter()
            .zip(&scales)
            {
                let (ptr, _guard) = scale.device_ptr(stream);
                set_attr(desc, attr, &ptr).map_err(lt_error("setting the FP8 scale factors"))?;
            }
            set_attr(desc, A::CUBLASLT_MATMUL_DESC_FAST_ACCUM, &0i8)
                .map_err(lt_error("turning FP8 fast accumulation off"))?;
            problem._scales = Some(scales);
        }
        Ok(problem)
    }
}

/// Up to `max` algorithms cuBLASLt's heuristic offers for `problem`, best guess first.
pub(super) fn candidates(
    lt_: &Lt,
    problem: &Problem,
    max: usize,
) -> Result<Vec<cublasLtMatmulAlgo_t>, Error> {
    let pref = lt::create_matmul_pref().map_err(lt_error("creating a preference"))?;
    let workspace = WORKSPACE_BYTE as u64;
    // SAFETY: `pref` is alive; the attribute is a u64.
    let set = unsafe {
        lt::set_matmul_pref_attribute(
            pref,
            cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
            (&workspace as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
    let mut results: Vec<cublasLtMatmulHeuristicResult_t> = Vec::with_capacity(max);
    let mut count = 0i32;
    let asked = set.and_then(|()| {
        // SAFETY: every handle and descriptor is alive; `results` has room for `max` entries
        // and cuBLASLt writes `count` ≤ `max` of them.
        unsafe {
            sys::cublasLtMatmulAlgoGetHeuristic(
                lt_.handle,
                problem.desc,
                problem.ab,
                problem.ab,
                problem.cd,
                problem.cd,
                pref,
                i32::try_from(max).unwrap_or(i32::MAX),
                results.as_mut_ptr(),
                &mut count,
            )
        }
        .result()
    });
    // SAFETY: created above, destroyed once.
    let _ = unsafe { lt::destroy_matmul_pref(pref) };
    asked.map_err(lt_error("asking the heuristic for algorithms"))?;
    // SAFETY: cuBLASLt initialised the first `count` entries.
    unsafe { results.set_len(usize::try_from(count).unwrap_or(0).min(max)) };
    Ok(results
        .into_iter()
        .filter(|r| r.state == sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS)
        .map(|r| r.algo)
        .collect())
}

/// `algo`'s configuration in words: `cuBLASLt algo 66, tile 20, stages 8, split-K 1`.
pub(super) fn describe(algo: &cublasLtMatmulAlgo_t) -> String {
    use sys::cublasLtMatmulAlgoConfigAttributes_t as A;
    // Each of these attributes is a 32-bit integer; cuBLASLt refuses a buffer of another size.
    let get = |attr: A| -> Option<i64> {
        let mut value = 0i32;
        let mut written = 0usize;
        // SAFETY: `algo` is a plain value; cuBLASLt writes at most 4 bytes into `value`.
        unsafe {
            sys::cublasLtMatmulAlgoConfigGetAttribute(
                algo,
                attr,
                (&mut value as *mut i32).cast(),
                std::mem::size_of::<i32>(),
                &mut written,
            )
        }
        .result()
        .ok()
        .map(|()| i64::from(value))
    };
    let show = |v: Option<i64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    format!(
        "cuBLASLt algo {}, tile {}, stages {}, split-K {}",
        show(get(A::CUBLASLT_ALGO_CONFIG_ID)),
        show(get(A::CUBLASLT_ALGO_CONFIG_TILE_ID)),
        show(get(A::CUBLASLT_ALGO_CONFIG_STAGES_ID)),
        show(get(A::CUBLASLT_ALGO_CONFIG_SPLITK_NUM)),
    )
}

/// Split-K count of `algo` (1 where it does not say).
pub(super) fn split_k(algo: &cublasLtMatmulAlgo_t) -> i64 {
    let mut value = 0i32;
    let mut written = 0usize;
    // SAFETY: as in `describe`; the attribute is an i32.
    let ok = unsafe {
        sys::cublasLtMatmulAlgoConfigGetAttribute(
            algo,
            sys::cublasLtMatmulAlgoConfigAttributes_t::CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
            (&mut value as *mut i32).cast(),
            std::mem::size_of::<i32>(),
            &mut written,
        )
    }
    .result();
    if ok.is_ok() {
        i64::from(value.max(1))
    } else {
        1
    }
}

/// C = A·Aᵀ with `algo` (alpha = 1, beta = 0), queued on `stream`.
pub(super) fn matmul<T, TC>(
    lt_: &mut Lt,
    problem: &Problem,
    algo: &cublasLtMatmulAlgo_t,
    stream: &Arc<CudaStream>,
    a: &CudaSlice<T>,
    c: &mut CudaSlice<TC>,
) -> Result<(), Error> {
    let (one32, zero32, one64, zero64) = (1f32, 0f32, 1f64, 0f64);
    let (alpha, beta): (*const c_void, *const c_void) = if problem.scale_f64 {
        (
            (&one64 as *const f64).cast(),
            (&zero64 as *const f64).cast(),
        )
    } else {
        (
            (&one32 as *const f32).cast(),
            (&zero32 as *const f32).cast(),
        )
    };
    let (pa, _ga) = a.device_ptr(stream);
    let (pc, _gc) = c.device_ptr_mut(stream);
    let (pw, _gw) = lt_.workspace.device_ptr_mut(stream);
    // SAFETY: A and C are live n×n buffers of the problem's data types on `stream`; the handle,
    // descriptor and layout are alive; alpha and beta are of the scale type and outlive the
    // call (cuBLASLt reads them before returning, host pointer mode); the workspace holds
    // WORKSPACE_BYTE bytes, the most the heuristic was allowed to ask for.
    unsafe {
        lt::matmul(
            lt_.handle,
            problem.desc,
            alpha,
            beta,
            pa as *const c_void,
            problem.ab,
            pa as *const c_void,
            problem.ab,
            pc as *const c_void,
            problem.cd,
            pc as *mut c_void,
            problem.cd,
            algo,
            pw as *mut c_void,
            WORKSPACE_BYTE,
            stream.cu_stream() as sys::cudaStream_t,
        )
    }
    .map_err(lt_error("cublasLtMatmul"))
}
