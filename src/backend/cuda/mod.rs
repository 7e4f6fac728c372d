//! The CUDA backend: cuBLAS for the GEMM, our NVRTC-compiled kernels for everything else.
//!
//! Context, stream, cuBLAS handle and kernels are built once in [`CudaBackend::new`] (the
//! start-up phase) and held together. One stream per device keeps cudarc's per-allocation
//! event tracking off. Device phases are timed with CUDA events (`CU_EVENT_DEFAULT`: timing
//! on). The matrix never crosses PCIe: A is generated on the GPU, and only s, the column sums
//! and a few sampled rows come back.

pub mod gemm;
pub mod kernels;
pub mod launch;
pub mod probe;

use crate::backend::{
    Backend, BackendKind, HostMatrix, Iteration, MatOp, format_byte, matrices_byte,
};
use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::record::DeviceRecord;
use crate::verify::{MAX_SAMPLE_ROWS, VerificationData, flat_len};
use cudarc::cublas::sys::{cublasMath_t, cublasOperation_t};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DeviceRepr, DriverError,
    LaunchConfig, PinnedHostSlice, PushKernelArg, ValidAsZeroBits, sys,
};
use cudarc::driver::{DevicePtr, DevicePtrMut};
use kernels::Kernels;
use launch::{BLOCK, FINISH_BLOCK};
use std::sync::Arc;
use std::time::Instant;

/// Device memory kept free beyond our buffers, for cuBLAS's workspace and the module.
const HEADROOM_BYTE: u64 = 256 << 20;

/// One NVIDIA GPU as a [`Backend`].
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
    kernel_form: String,
    events: [CudaEvent; 3],
    multiprocessors: u32,
    device: DeviceRecord,
    startup_steps: Vec<(&'static str, Second)>,
    op: MatOp,
    state: Option<State>,
}

/// A and C in the storage type of the run's dtype (tf32 runs store f32; bf16 and f16 runs
/// store their 16-bit patterns).
enum Buffers {
    F32 {
        a: CudaSlice<f32>,
        c: CudaSlice<f32>,
    },
    F64 {
        a: CudaSlice<f64>,
        c: CudaSlice<f64>,
    },
    Half {
        a: CudaSlice<u16>,
        c: CudaSlice<u16>,
    },
}

struct State {
    n: usize,
    dtype: DType,
    op: MatOp,
    bufs: Buffers,
    reduce_blocks: u32,
    partial: CudaSlice<f64>,
    sum: CudaSlice<f64>,
    col_chunks: (u32, u32),
    col_partial: CudaSlice<f64>,
    /// Everything verification copies back, in one buffer: column sums (n), then the sampled
    /// rows' references and computed values (2·MAX_SAMPLE_ROWS·n).
    checks: CudaSlice<f64>,
    /// Page-locked host copy of `checks`, so the copy back runs at full speed.
    host_checks: PinnedHostSlice<f64>,
}

fn driver(what: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| {
        let name = probe::driver_error_name(&e);
        if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
            Error::OutOfMemory(format!("{what}: the GPU ran out of memory ({name})"))
        } else {
            Error::device_msg(format!("{what} failed on the GPU ({name})"))
        }
    }
}

fn cublas(what: &'static str) -> impl Fn(cudarc::cublas::result::CublasError) -> Error {
    move |e| Error::device_msg(format!("{what} failed in cuBLAS ({:?})", e.0))
}

impl CudaBackend {
    /// Opens GPU `index`: checks the libraries, creates the context and the cuBLAS handle (math
    /// mode set explicitly to CUBLAS_DEFAULT_MATH: true FP32 for Sgemm) and compiles the kernels.
    /// NVRTC needs no context, so the kernels compile on a helper thread meanwhile, and cuBLAS
    /// (the largest library) is loaded on another.
    pub fn new(index: usize) -> Result<CudaBackend, Error> {
        let clock = Instant::now();
        let mut steps = Vec::new();
        let mut step = |name: &'static str, since: &mut Instant| {
            steps.push((name, since.elapsed().as_secs_f64()));
            *since = Instant::now();
        };
        let mut since = clock;
        probe::check_index(index)?;
        let ordinal = i32::try_from(index)
            .map_err(|_| Error::NoDevice(format!("GPU {index} does not exist")))?;
        let dev =
            cudarc::driver::result::device::get(ordinal).map_err(driver("opening the GPU"))?;
        let attribute = |a| {
            // SAFETY: `dev` is a valid device handle from cuDeviceGet; the call writes one int.
            unsafe { cudarc::driver::result::device::get_attribute(dev, a) }
                .map_err(driver("reading a device attribute"))
        };
        let major =
            attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor =
            attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let multiprocessors =
            attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
        step("driver", &mut since);

        let compiler = std::thread::spawn(move || {
            let t = Instant::now();
            probe::check_nvrtc()?;
            kernels::compile(major, minor).map(|k| (k, t.elapsed().as_secs_f64()))
        });
        let cublas_loader = std::thread::spawn(probe::check_cublas);
        let ctx = CudaContext::new(index).map_err(driver("creating the CUDA context"))?;
        let stream = ctx.default_stream();
        step("context", &mut since);
        cublas_loader
            .join()
            .map_err(|_| Error::device_msg("loading cuBLAS panicked"))??;
        let blas = CudaBlas::new(stream.clone()).map_err(cublas("creating the cuBLAS handle"))?;
        // SAFETY: the handle is alive for the duration of the call (owned by `blas`).
        unsafe {
            cudarc::cublas::sys::cublasSetMathMode(
                *blas.handle(),
                cublasMath_t::CUBLAS_DEFAULT_MATH,
            )
        }
        .result()
        .map_err(cublas("setting the cuBLAS math mode"))?;
        step("cublas", &mut since);
        let (compiled, compile_s) = compiler
            .join()
            .map_err(|_| Error::device_msg("compiling the kernels panicked"))??;
        let kernel_form = compiled.describe(major, minor);
        step("kernels_wait", &mut since);
        let kernels = Kernels::load(&ctx, compiled)?;
        step("kernels_load", &mut since);
        let timing = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let events = [
            ctx.new_event(timing).map_err(driver("creating an event"))?,
            ctx.new_event(timing).map_err(driver("creating an event"))?,
            ctx.new_event(timing).map_err(driver("creating an event"))?,
        ];
        let device = DeviceRecord {
            kind: "gpu".into(),
            name: ctx.name().map_err(driver("reading the GPU name"))?,
            index: Some(index),
            uuid: ctx
                .uuid()
                .ok()
                .map(|u| probe::format_uuid(&u.bytes.map(|b| b as u8))),
            compute_capability: Some(format!("{major}.{minor}")),
            multiprocessors: Some(u32::try_from(multiprocessors).unwrap_or(0)),
            memory_total_byte: ctx
                .total_mem()
                .map_err(driver("reading the GPU memory size"))?
                as u64,
            driver_version: crate::host::nvidia_driver_version(),
            cuda_driver_version: cuda_driver_version(),
            cublas_version: cublas_version(&blas),
            nvrtc_version: nvrtc_version(),
            threads: None,
        };
        step("device_info", &mut since);
        steps.push(("kernels_compile (helper thread)", compile_s));
        Ok(CudaBackend {
            ctx,
            stream,
            blas,
            kernels,
            kernel_form,
            events,
            multiprocessors: u32::try_from(multiprocessors).unwrap_or(1).max(1),
            device,
            startup_steps: steps,
            op: MatOp::Gemm,
            state: None,
        })
    }

    fn alloc<T: DeviceRepr + ValidAsZeroBits>(&self, len: usize) -> Result<CudaSlice<T>, Error> {
        self.stream
            .alloc_zeros::<T>(len.max(1))
            .map_err(driver("allocating GPU memory"))
    }

    fn state(&self) -> Result<&State, Error> {
        self.state
            .as_ref()
            .ok_or_else(|| Error::device_msg("the CUDA backend was used before prepare()"))
    }

    fn elapsed(&self, from: usize, to: usize) -> Result<Second, Error> {
        let ms = self.events[from]
            .elapsed_ms(&self.events[to])
            .map_err(driver("reading an event timer"))?;
        Ok(f64::from(ms) / 1e3)
    }

    fn record(&self, i: usize) -> Result<(), Error> {
        self.events[i]
            .record(&self.stream)
            .map_err(driver("recording an event"))
    }

    fn sync(&self) -> Result<(), Error> {
        self.stream
            .synchronize()
            .map_err(driver("running the kernels"))
    }
}

fn cuda_driver_version() -> Option<String> {
    let mut v = 0;
    // SAFETY: writes one int; the driver library was checked present.
    unsafe { sys::cuDriverGetVersion(&mut v) }.result().ok()?;
    Some(probe::format_cuda_version(v))
}

fn cublas_version(blas: &CudaBlas) -> Option<String> {
    let mut v = 0;
    // SAFETY: the handle is alive (owned by `blas`); writes one int.
    unsafe { cudarc::cublas::sys::cublasGetVersion_v2(*blas.handle(), &mut v) }
        .result()
        .ok()?;
    Some(probe::format_cublas_version(v))
}

fn nvrtc_version() -> Option<String> {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: writes two ints; the NVRTC library was checked present.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .ok()?;
    Some(format!("{major}.{minor}"))
}

fn grid(blocks: u32, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches one Philox fill of `a` (len elements).
fn launch_generate<T>(
    stream: &Arc<CudaStream>,
    f: &CudaFunction,
    a: &mut CudaSlice<T>,
    len: u64,
    seed: u64,
    per_block: u64,
    sms: u32,
) -> Result<(), Error> {
    let cfg = grid(
        launch::grid_stride_blocks(len.div_ceil(per_block), sms),
        BLOCK,
    );
    let mut b = stream.launch_builder(f);
    b.arg(a).arg(&len).arg(&seed);
    // SAFETY: the kernel writes exactly `len` elements of `a`, which holds n·n = len elements;
    // argument types match the kernel signature (T*, u64, u64).
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(driver("launching the generator"))
}

/// The cuBLAS call for `dtype`: C = A·Aᵀ with the parameters of [`gemm::a_times_a_transposed`].
/// f32 and f64 use cudarc's typed Sgemm/Dgemm; tf32, bf16 and f16 call cublasGemmEx with the
/// data and compute types chosen explicitly (what `math_mode` records).
fn run_gemm(
    blas: &CudaBlas,
    stream: &Arc<CudaStream>,
    dtype: DType,
    p: &gemm::GemmParams,
    bufs: &mut Buffers,
) -> Result<(), Error> {
    use cudarc::cublas::sys::{cublasComputeType_t, cublasGemmAlgo_t, cudaDataType};
    let op = |o| match o {
        gemm::Op::N => cublasOperation_t::CUBLAS_OP_N,
        gemm::Op::T => cublasOperation_t::CUBLAS_OP_T,
    };
    let (transa, transb) = (op(p.transa), op(p.transb));
    let ex = |a: sys::CUdeviceptr,
              c: sys::CUdeviceptr,
              data: cudaDataType,
              compute: cublasComputeType_t| {
        let (alpha, beta) = (1f32, 0f32);
        // SAFETY: A and C are live device buffers of n·n elements of `data`'s type on this
        // handle's stream; m = n = k = lda = ldb = ldc = n; alpha and beta are f32, the scale
        // type of CUBLAS_COMPUTE_32F and CUBLAS_COMPUTE_32F_FAST_TF32.
        unsafe {
            cudarc::cublas::sys::cublasGemmEx(
                *blas.handle(),
                transa,
                transb,
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
    };
    match (dtype, bufs) {
        (DType::F32, Buffers::F32 { a, c }) => {
            let cfg = GemmConfig {
                transa,
                transb,
                m: p.m,
                n: p.n,
                k: p.k,
                alpha: 1f32,
                lda: p.lda,
                ldb: p.ldb,
                beta: 0f32,
                ldc: p.ldc,
            };
            // SAFETY: A and C each hold n·n elements; m = n = k = lda = ldb = ldc = n.
            unsafe { blas.gemm(cfg, a, a, c) }.map_err(cublas("cublasSgemm"))
        }
        (DType::F64, Buffers::F64 { a, c }) => {
            let cfg = GemmConfig {
                transa,
                transb,
                m: p.m,
                n: p.n,
                k: p.k,
                alpha: 1f64,
                lda: p.lda,
                ldb: p.ldb,
                beta: 0f64,
                ldc: p.ldc,
            };
            // SAFETY: as above.
            unsafe { blas.gemm(cfg, a, a, c) }.map_err(cublas("cublasDgemm"))
        }
        (DType::Tf32, Buffers::F32 { a, c }) => {
            let (pa, _ga) = a.device_ptr(stream);
            let (pc, _gc) = c.device_ptr_mut(stream);
            ex(
                pa,
                pc,
                cudaDataType::CUDA_R_32F,
                cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
            )
        }
        (DType::Bf16 | DType::F16, Buffers::Half { a, c }) => {
            let data = if dtype == DType::Bf16 {
                cudaDataType::CUDA_R_16BF
            } else {
                cudaDataType::CUDA_R_16F
            };
            let (pa, _ga) = a.device_ptr(stream);
            let (pc, _gc) = c.device_ptr_mut(stream);
            ex(pa, pc, data, cublasComputeType_t::CUBLAS_COMPUTE_32F)
        }
        (dtype, _) => Err(Error::device_msg(format!(
            "internal: {dtype} run without {dtype} buffers"
        ))),
    }
}

/// `--op syrk`: one cublas{S,D}syrk writing the lower triangle of C column-major, which is the
/// upper triangle row-major (row r holds columns j ≥ r). Row-major A read column-major is Aᵀ,
/// so C = A·Aᵀ = (Aᵀ)ᵀ·Aᵀ is `trans = T` with k = n.
fn run_syrk(
    blas: &CudaBlas,
    stream: &Arc<CudaStream>,
    n: usize,
    bufs: &mut Buffers,
) -> Result<(), Error> {
    use cudarc::cublas::sys::cublasFillMode_t;
    let dim = i32::try_from(n)
        .map_err(|_| Error::InvalidArgument(format!("n = {n} does not fit cuBLAS")))?;
    let (lower, t) = (
        cublasFillMode_t::CUBLAS_FILL_MODE_LOWER,
        cublasOperation_t::CUBLAS_OP_T,
    );
    match bufs {
        Buffers::F32 { a, c } => {
            let (alpha, beta) = (1f32, 0f32);
            let (pa, _ga) = a.device_ptr(stream);
            let (pc, _gc) = c.device_ptr_mut(stream);
            // SAFETY: A and C hold n·n f32 on this handle's stream; n = k = lda = ldc = n.
            unsafe {
                cudarc::cublas::sys::cublasSsyrk_v2(
                    *blas.handle(),
                    lower,
                    t,
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
        }
        Buffers::F64 { a, c } => {
            let (alpha, beta) = (1f64, 0f64);
            let (pa, _ga) = a.device_ptr(stream);
            let (pc, _gc) = c.device_ptr_mut(stream);
            // SAFETY: as above, f64.
            unsafe {
                cudarc::cublas::sys::cublasDsyrk_v2(
                    *blas.handle(),
                    lower,
                    t,
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
        }
        Buffers::Half { .. } => Err(Error::InvalidArgument(
            "--op syrk runs in f32 or f64".into(),
        )),
    }
}

/// `--op syrk`: s = 2·(strict upper triangle) + diagonal, one partial per row, then the fixed-order finish.
fn launch_reduce_upper<T>(
    stream: &Arc<CudaStream>,
    finish_fn: &CudaFunction,
    upper_fn: &CudaFunction,
    c: &CudaSlice<T>,
    n: u32,
    partial: &mut CudaSlice<f64>,
    sum: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let mut b = stream.launch_builder(upper_fn);
    b.arg(c).arg(&n).arg(&mut *partial);
    // SAFETY: reads row r's columns r..n of `c` (n·n elements) in block r < n, writes n partials
    // (the buffer holds at least n); types match (const T*, u32, double*).
    unsafe { b.launch(grid(n, BLOCK)) }.map_err(driver("launching the reduction"))?;
    launch_finish(stream, finish_fn, partial, n, sum)
}

/// Second pass of both reductions: one block adds `count` partials in index order into `sum`.
fn launch_finish(
    stream: &Arc<CudaStream>,
    finish_fn: &CudaFunction,
    partial: &CudaSlice<f64>,
    count: u32,
    sum: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let mut b = stream.launch_builder(finish_fn);
    b.arg(partial).arg(&count).arg(sum);
    // SAFETY: reads `count` partials (the buffer holds at least that many), writes one double;
    // types match (const double*, u32, double*).
    unsafe { b.launch(grid(1, FINISH_BLOCK)) }
        .map(|_| ())
        .map_err(driver("launching the reduction"))
}

/// Launches s = Σ c into `sum` (two kernels, fixed order).
#[allow(clippy::too_many_arguments)]
fn launch_reduce<T>(
    stream: &Arc<CudaStream>,
    finish_fn: &CudaFunction,
    partial_fn: &CudaFunction,
    c: &CudaSlice<T>,
    st_len: u64,
    blocks: u32,
    partial: &mut CudaSlice<f64>,
    sum: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let mut b = stream.launch_builder(partial_fn);
    b.arg(c).arg(&st_len).arg(&mut *partial);
    // SAFETY: reads `st_len` elements of `c` (its length), writes `blocks` partials (the buffer
    // holds at least that many); types match (const T*, u64, double*).
    unsafe { b.launch(grid(blocks, BLOCK)) }.map_err(driver("launching the reduction"))?;
    launch_finish(stream, finish_fn, partial, blocks, sum)
}

/// The sample rows as the kernels take them: by value, no copy to the device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct SampleRows([u32; MAX_SAMPLE_ROWS]);

// SAFETY: a plain array of u32, laid out as the kernels' `struct SampleRows { u32 r[MAX_SAMPLE_ROWS]; }`.
unsafe impl DeviceRepr for SampleRows {}

/// Launches the column sums of `a` into `checks[..n]` and the sampled-row check of `c` against
/// `a` into `checks[n..]`.
#[allow(clippy::too_many_arguments)]
fn launch_verify<T>(
    stream: &Arc<CudaStream>,
    (colsum_fn, finish_fn, rowcheck_fn): (&CudaFunction, &CudaFunction, &CudaFunction),
    a: &CudaSlice<T>,
    c: &CudaSlice<T>,
    n: u32,
    (chunks, rows_per_chunk): (u32, u32),
    col_partial: &mut CudaSlice<f64>,
    rows: SampleRows,
    nrows: u32,
    upper: u32,
    checks: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let cols = n.div_ceil(BLOCK);
    let mut b = stream.launch_builder(colsum_fn);
    b.arg(a).arg(&n).arg(&rows_per_chunk).arg(&mut *col_partial);
    let cfg = LaunchConfig {
        grid_dim: (cols, chunks, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: reads the n·n elements of `a`, writes chunks·n partials (the buffer's size).
    unsafe { b.launch(cfg) }.map_err(driver("launching the column sums"))?;
    let (mut colsum, mut rowchecks) = checks.split_at_mut(n as usize);
    let mut b = stream.launch_builder(finish_fn);
    b.arg(&*col_partial).arg(&n).arg(&chunks).arg(&mut colsum);
    let finish = LaunchConfig {
        grid_dim: (n.div_ceil(32), 1, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: reads chunks·n partials, writes n sums into the first n elements of `checks`;
    // the kernel's block shape is 32×8, as launched.
    unsafe { b.launch(finish) }.map_err(driver("launching the column sums"))?;
    let mut b = stream.launch_builder(rowcheck_fn);
    b.arg(a)
        .arg(c)
        .arg(&n)
        .arg(&rows)
        .arg(&nrows)
        .arg(&upper)
        .arg(&mut rowchecks);
    // SAFETY: reads `a` and `c` (n·n each) at rows < n (with `upper`, only C's row-major upper
    // triangle, which SYRK wrote), writes 2·nrows·n ≤ 2·MAX_SAMPLE_ROWS·n
    // doubles (the rest of `checks`); ROWCHECK_J columns per block cover j < n.
    unsafe { b.launch(grid(n.div_ceil(launch::ROWCHECK_J), BLOCK)) }
        .map(|_| ())
        .map_err(driver("launching the row checks"))
}

impl Backend for CudaBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }

    fn device(&self) -> &DeviceRecord {
        &self.device
    }

    fn set_op(&mut self, op: MatOp) -> Result<(), Error> {
        self.op = op;
        Ok(())
    }

    fn math_mode(&self, dtype: DType) -> String {
        let override_note = match std::env::var("NVIDIA_TF32_OVERRIDE") {
            Ok(v) => format!("; NVIDIA_TF32_OVERRIDE={v} in the environment"),
            Err(_) => String::new(),
        };
        let gemm = match dtype {
            DType::F32 => {
                "fp32: cublasSgemm, CUBLAS_DEFAULT_MATH (true FP32, no TF32 tensor cores)"
            }
            DType::F64 => "fp64: cublasDgemm, CUBLAS_DEFAULT_MATH",
            DType::Tf32 => {
                "tf32: cublasGemmEx, A/B/C CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32 (TF32 tensor cores, FP32 accumulate), CUBLAS_GEMM_DEFAULT"
            }
            DType::Bf16 => {
                "bf16: cublasGemmEx, A/B/C CUDA_R_16BF, CUBLAS_COMPUTE_32F (tensor cores, FP32 accumulate), CUBLAS_GEMM_DEFAULT"
            }
            DType::F16 => {
                "f16: cublasGemmEx, A/B/C CUDA_R_16F, CUBLAS_COMPUTE_32F (tensor cores, FP32 accumulate), CUBLAS_GEMM_DEFAULT"
            }
        };
        let gemm = match (self.op, dtype) {
            (MatOp::Syrk, DType::F64) => {
                "fp64: cublasDsyrk_v2 (SYRK, one triangle), CUBLAS_DEFAULT_MATH"
            }
            (MatOp::Syrk, _) => {
                "fp32: cublasSsyrk_v2 (SYRK, one triangle), CUBLAS_DEFAULT_MATH (true FP32)"
            }
            _ => gemm,
        };
        format!("{gemm}; kernels {}{override_note}", self.kernel_form)
    }

    fn prepare(&mut self, n: usize, dtype: DType) -> Result<(), Error> {
        self.state = None;
        let n32 = u32::try_from(n).map_err(|_| {
            Error::InvalidArgument(format!("n = {n} is too large for the GPU kernels"))
        })?;
        gemm::a_times_a_transposed(n)?;
        let col_chunks = launch::colsum_chunks(n32);
        let reduce_blocks =
            launch::grid_stride_blocks((n as u64 * n as u64).div_ceil(4), self.multiprocessors);
        // f64 work buffers: column-sum partials, the verification results, reduce partials.
        let extra = 8
            * (u64::from(col_chunks.0) * n as u64
                + flat_len(n) as u64
                + u64::from(reduce_blocks)
                + 1);
        let need = matrices_byte(n, dtype)
            .and_then(|m| m.checked_add(extra))
            .ok_or_else(|| Error::OutOfMemory(format!("n = {n} is too large to address")))?;
        let (free, _total) = self
            .ctx
            .mem_get_info()
            .map_err(driver("reading free GPU memory"))?;
        let free = free as u64;
        if need.saturating_add(HEADROOM_BYTE) > free {
            return Err(Error::OutOfMemory(format!(
                "n = {n} in {dtype} needs {} on GPU {} (A and C, 2·n²·{} bytes, plus {} of work space); {} is free",
                format_byte(need + HEADROOM_BYTE),
                self.device.index.unwrap_or(0),
                dtype.size_byte(),
                format_byte(extra + HEADROOM_BYTE),
                format_byte(free)
            )));
        }
        let len = n * n;
        let bufs = match dtype {
            DType::F64 => Buffers::F64 {
                a: self.alloc(len)?,
                c: self.alloc(len)?,
            },
            DType::F32 | DType::Tf32 => Buffers::F32 {
                a: self.alloc(len)?,
                c: self.alloc(len)?,
            },
            DType::Bf16 | DType::F16 => Buffers::Half {
                a: self.alloc(len)?,
                c: self.alloc(len)?,
            },
        };
        self.state = Some(State {
            n,
            dtype,
            op: self.op,
            bufs,
            reduce_blocks,
            // the GEMM reduction's blocks, or (SYRK) one partial per row
            partial: self.alloc((reduce_blocks as usize).max(n))?,
            sum: self.alloc(1)?,
            col_chunks,
            col_partial: self.alloc(col_chunks.0 as usize * n)?,
            checks: self.alloc(flat_len(n))?,
            // SAFETY: every element read back is first written by the copy from `checks`.
            host_checks: unsafe { self.ctx.alloc_pinned_with_flags::<f64>(flat_len(n), 0) }
                .map_err(driver("allocating page-locked host memory"))?,
        });
        self.sync()
    }

    fn generate(&mut self, seed: u64) -> Result<Second, Error> {
        let sms = self.multiprocessors;
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let len = (st.n * st.n) as u64;
        let k = self.kernels.for_dtype(st.dtype);
        self.events[0]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        match &mut st.bufs {
            Buffers::F32 { a, .. } => {
                launch_generate(&self.stream, &k.philox, a, len, seed, 4, sms)?
            }
            Buffers::F64 { a, .. } => {
                launch_generate(&self.stream, &k.philox, a, len, seed, 2, sms)?
            }
            Buffers::Half { a, .. } => {
                launch_generate(&self.stream, &k.philox, a, len, seed, 4, sms)?
            }
        }
        self.record(1)?;
        self.sync()?;
        self.elapsed(0, 1)
    }

    fn iterate(&mut self) -> Result<Iteration, Error> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let p = gemm::a_times_a_transposed(st.n)?;
        let len = (st.n * st.n) as u64;
        let k = self.kernels.for_dtype(st.dtype);
        self.events[0]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        let (partial, sum) = (&mut st.partial, &mut st.sum);
        let finish = &self.kernels.sum_finish;
        if st.op == MatOp::Syrk {
            run_syrk(&self.blas, &self.stream, st.n, &mut st.bufs)?;
            self.events[1]
                .record(&self.stream)
                .map_err(driver("recording an event"))?;
            let n32 = st.n as u32;
            match &st.bufs {
                Buffers::F32 { c, .. } => launch_reduce_upper(
                    &self.stream,
                    finish,
                    &self.kernels.sum_upper_f32,
                    c,
                    n32,
                    partial,
                    sum,
                )?,
                Buffers::F64 { c, .. } => launch_reduce_upper(
                    &self.stream,
                    finish,
                    &self.kernels.sum_upper_f64,
                    c,
                    n32,
                    partial,
                    sum,
                )?,
                Buffers::Half { .. } => {
                    return Err(Error::InvalidArgument(
                        "--op syrk runs in f32 or f64".into(),
                    ));
                }
            }
        } else {
            run_gemm(&self.blas, &self.stream, st.dtype, &p, &mut st.bufs)?;
            self.events[1]
                .record(&self.stream)
                .map_err(driver("recording an event"))?;
            match &st.bufs {
                Buffers::F32 { c, .. } => launch_reduce(
                    &self.stream,
                    finish,
                    &k.sum_partial,
                    c,
                    len,
                    st.reduce_blocks,
                    partial,
                    sum,
                )?,
                Buffers::F64 { c, .. } => launch_reduce(
                    &self.stream,
                    finish,
                    &k.sum_partial,
                    c,
                    len,
                    st.reduce_blocks,
                    partial,
                    sum,
                )?,
                Buffers::Half { c, .. } => launch_reduce(
                    &self.stream,
                    finish,
                    &k.sum_partial,
                    c,
                    len,
                    st.reduce_blocks,
                    partial,
                    sum,
                )?,
            }
        }
        self.events[2]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        let mut sum = [0f64];
        self.stream
            .memcpy_dtoh(&st.sum, &mut sum)
            .map_err(driver("copying the sum"))?;
        self.sync()?;
        Ok(Iteration {
            matmul_s: self.elapsed(0, 1)?,
            reduce_s: self.elapsed(1, 2)?,
            sum: sum[0],
        })
    }

    fn verification_data(&mut self, rows: &[usize]) -> Result<VerificationData<'_>, Error> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let n = st.n;
        let rows: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&r| r < n)
            .take(MAX_SAMPLE_ROWS)
            .collect();
        let mut sample = SampleRows::default();
        for (slot, &r) in sample.0.iter_mut().zip(&rows) {
            *slot = r as u32;
        }
        let (n32, nrows) = (n as u32, rows.len() as u32);
        let k = self.kernels.for_dtype(st.dtype);
        let fns = (&k.colsum_partial, &self.kernels.colsum_finish, &k.rowcheck);
        let (chunks, col_partial, checks) = (st.col_chunks, &mut st.col_partial, &mut st.checks);
        let upper = u32::from(st.op == MatOp::Syrk);
        self.events[0]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        match &st.bufs {
            Buffers::F32 { a, c } => launch_verify(
                &self.stream,
                fns,
                a,
                c,
                n32,
                chunks,
                col_partial,
                sample,
                nrows,
                upper,
                checks,
            )?,
            Buffers::F64 { a, c } => launch_verify(
                &self.stream,
                fns,
                a,
                c,
                n32,
                chunks,
                col_partial,
                sample,
                nrows,
                upper,
                checks,
            )?,
            Buffers::Half { a, c } => launch_verify(
                &self.stream,
                fns,
                a,
                c,
                n32,
                chunks,
                col_partial,
                sample,
                nrows,
                upper,
                checks,
            )?,
        }
        self.events[1]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        let used = (1 + 2 * rows.len()) * n;
        self.stream
            .memcpy_dtoh(&st.checks.slice(..used), &mut st.host_checks)
            .map_err(driver("copying the checks"))?;
        self.events[2]
            .record(&self.stream)
            .map_err(driver("recording an event"))?;
        self.stream
            .synchronize()
            .map_err(driver("running the verification kernels"))?;
        let elapsed = |from: usize, to: usize| {
            self.events[from]
                .elapsed_ms(&self.events[to])
                .map(|ms| f64::from(ms) / 1e3)
                .map_err(driver("reading an event timer"))
        };
        let steps_s = vec![
            ("kernels".to_string(), elapsed(0, 1)?),
            ("copy".to_string(), elapsed(1, 2)?),
        ];
        let host = st
            .host_checks
            .as_slice()
            .map_err(driver("reading the checks"))?;
        let mut data = VerificationData::from_flat(host, n, &rows);
        data.steps_s = steps_s;
        Ok(data)
    }

    fn download_matrix(&mut self) -> Result<HostMatrix, Error> {
        let st = self.state()?;
        let copy = driver("copying A");
        let m = match &st.bufs {
            Buffers::F32 { a, .. } => HostMatrix::F32(self.stream.clone_dtoh(a).map_err(copy)?),
            Buffers::F64 { a, .. } => HostMatrix::F64(self.stream.clone_dtoh(a).map_err(copy)?),
            Buffers::Half { a, .. } => HostMatrix::Bits16(self.stream.clone_dtoh(a).map_err(copy)?),
        };
        self.sync()?;
        Ok(m)
    }

    fn startup_steps(&self) -> Vec<(String, Second)> {
        self.startup_steps
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }
}

/// One GPU as `matbench info` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GpuInfo {
    /// The device, as a run would record it.
    pub device: DeviceRecord,
    /// Free device memory now.
    pub memory_free_byte: u64,
}

/// Every GPU the driver sees, each opened briefly (context creation included).
pub fn list_gpus() -> Result<Vec<GpuInfo>, Error> {
    let count = probe::device_count()?;
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let backend = CudaBackend::new(index)?;
        let (free, _) = backend
            .ctx
            .mem_get_info()
            .map_err(driver("reading free GPU memory"))?;
        out.push(GpuInfo {
            device: backend.device.clone(),
            memory_free_byte: free as u64,
        });
    }
    Ok(out)
}
