//! The CUDA backend: cuBLAS for the GEMM, our NVRTC-compiled kernels for everything else.
//!
//! Context, stream, cuBLAS handle and kernels are built once in [`CudaBackend::new`] (the
//! start-up phase) and held together. One stream per device keeps cudarc's per-allocation
//! event tracking off. Device phases are timed with CUDA events (`CU_EVENT_DEFAULT`: timing
//! on). The matrix never crosses PCIe: A is generated on the GPU, and only s, the column sums
//! and a few sampled rows come back.
//!
//! This file is only the [`Backend`] impl and the cudarc error helpers; it is thin on purpose.
//! Opening the GPU lives in `context.rs`, the cuBLAS calls in `blas.rs`, the kernel launches in
//! `launch.rs`, the storage-type dispatch in `storage.rs`, and the steps over A and C in
//! `steps.rs`: each is one small `Map` written once for every storage type, so no call site
//! here matches on the dtype.

pub mod algo;
mod blas;
mod context;
pub mod gemm;
pub mod kernels;
pub mod launch;
mod lt;
pub mod probe;
mod search;
mod steps;
mod storage;

pub use context::{GpuInfo, list_gpus};

use crate::backend::fault::Fault;
use crate::backend::{Backend, HostMatrix, Iteration, format_byte, matrices_byte};
use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::vocab::{BackendKind, MatOp};
use crate::record::DeviceRecord;
use crate::verify::{VerificationData, flat_len};
use context::Gpu;
use cudarc::driver::{CudaSlice, DriverError, PinnedHostSlice, sys};
use steps::{Download, Fill, Multiply, Step, Verify, sample_rows};
use storage::{Buffers, Map};

/// Device memory kept free beyond our buffers, for cuBLAS's workspace and the module.
const HEADROOM_BYTE: u64 = 256 << 20;

/// One NVIDIA GPU as a [`Backend`].
pub struct CudaBackend {
    gpu: Gpu,
    kernel_form: String,
    device: DeviceRecord,
    startup_steps: Vec<(&'static str, Second)>,
    op: MatOp,
    /// A test-only fault to put into C ([`crate::backend::fault`]).
    fault: Option<Fault>,
    /// cuBLAS has been warmed up in this process ([`steps::WarmUp`]).
    warmed: bool,
    /// `--algo search`: the cache directory.
    algo_search: Option<std::path::PathBuf>,
    /// What the search found.
    algo_record: Option<crate::record::algo::AlgoRecord>,
    state: Option<State>,
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
    /// Every row and column sum of the last repetition's C (GEMM only): their partials, the
    /// sums (rows, then columns; the reference before the warm-up), and their host copy.
    lines: Option<Lines>,
    /// Repetitions run since `prepare` (the test-only fault's clock).
    repetitions: u32,
    /// The next repetitions compute their line sums ([`Backend::set_line_sums`]).
    lines_on: bool,
    /// The last repetition computed them.
    lines_fresh: bool,
    /// The cuBLASLt algorithm `--algo search` chose over the default path, if it did.
    lt: Option<LtChoice>,
    /// fp8's default path: cuBLAS has no FP8 GEMM outside cuBLASLt, so it is cublasLtMatmul
    /// with the heuristic's first algorithm for the problem (as `torch._scaled_mm` calls it).
    default_lt: Option<LtChoice>,
    /// The helper thread warming cuBLAS up, until the first repetition waits for it.
    warm_up: Option<std::thread::JoinHandle<Result<Second, Error>>>,
}

/// A cuBLASLt algorithm with its handle and problem: what `--algo search` chose over the default
/// path, or fp8's default path.
struct LtChoice {
    lt: lt::Lt,
    problem: lt::Problem,
    algo: cudarc::cublaslt::sys::cublasLtMatmulAlgo_t,
    name: String,
    split_k: i64,
}

impl LtChoice {
    fn new(
        lt: lt::Lt,
        problem: lt::Problem,
        algo: cudarc::cublaslt::sys::cublasLtMatmulAlgo_t,
    ) -> LtChoice {
        LtChoice {
            name: lt::describe(&algo),
            split_k: lt::split_k(&algo),
            lt,
            problem,
            algo,
        }
    }
}

/// The checksums' buffers (module docs of [`crate::verify::LineChecker`]).
struct Lines {
    part: CudaSlice<f64>,
    sums: CudaSlice<f64>,
    host: PinnedHostSlice<f64>,
}

/// Queues one repetition's device work: event 0, the GEMM (the default path, or `lt`), event 1,
/// the test-only `fault`, s = Σ C, event 2 and, with `lines`, every row and column sum of C and
/// event 3. The one sequence a measured repetition and `--algo search`'s timed calls share.
fn queue_repetition(
    g: &Gpu,
    st: &mut State,
    p: gemm::GemmParams,
    fault: Option<Fault>,
    lt: Option<steps::LtCall<'_>>,
    lines: bool,
) -> Result<(), Error> {
    // The default path through cuBLASLt (fp8) is lent to the step and put back, whatever the
    // step returns.
    let mut default_lt = if lt.is_none() {
        st.default_lt.take()
    } else {
        None
    };
    let lt = lt.or_else(|| {
        default_lt
            .as_mut()
            .map(|c| (&mut c.lt, &c.problem, &c.algo))
    });
    let queued = queue_steps(g, st, p, fault, lt, lines);
    if default_lt.is_some() {
        st.default_lt = default_lt;
    }
    queued
}

/// [`queue_repetition`]'s launches, with the GEMM's path decided.
fn queue_steps(
    g: &Gpu,
    st: &mut State,
    p: gemm::GemmParams,
    fault: Option<Fault>,
    lt: Option<steps::LtCall<'_>>,
    lines: bool,
) -> Result<(), Error> {
    g.record(0)?;
    let multiply = Multiply {
        gpu: g,
        typed: g.kernels.for_dtype(st.dtype),
        st: Step {
            n: st.n,
            dtype: st.dtype,
            op: st.op,
            reduce_blocks: st.reduce_blocks,
            partial: &mut st.partial,
            sum: &mut st.sum,
        },
        p,
        fault,
        lt,
    };
    multiply.map(&mut st.bufs)?;
    g.record(2)?;
    if let Some(buffers) = st.lines.as_mut().filter(|_| lines) {
        let k = g.kernels.for_dtype(st.dtype);
        let sums = steps::LineSums {
            stream: &g.stream,
            fns: (&k.linesum_partial, &g.kernels.linesum_finish),
            n: st.n as u32,
            part: &mut buffers.part,
            lines: &mut buffers.sums,
        };
        sums.map(&mut st.bufs)?;
        g.record(3)?;
    }
    Ok(())
}

/// Maps a cudarc driver error to ours, naming `what` failed and keeping the error as source.
fn driver(what: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| {
        let name = probe::driver_error_name(&e);
        if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
            Error::OutOfMemory(format!("{what}: the GPU ran out of memory ({name})"))
        } else {
            Error::device(format!("{what} failed on the GPU ({name})"), e)
        }
    }
}

/// Maps a cuBLAS error to ours, naming `what` failed and keeping the error as source.
fn cublas(what: &'static str) -> impl Fn(cudarc::cublas::result::CublasError) -> Error {
    move |e| Error::device(format!("{what} failed in cuBLAS ({:?})", e.0), e)
}

impl CudaBackend {
    /// GPU memory this process holds for the run (A and C), about: how NVML's process list
    /// tells this process from others inside a container.
    fn own_byte(&self) -> u64 {
        self.state
            .as_ref()
            .and_then(|st| matrices_byte(st.n, st.dtype))
            .unwrap_or(0)
    }

    /// Waits for the helper thread warming cuBLAS up ([`steps::WarmUp`]), once, and notes in
    /// the start-up steps how long it took and how long was waited. Before the first call on
    /// the cuBLAS handle: the handle is not to be used by two threads at once.
    fn finish_warm_up(&mut self) {
        if let Some(helper) = self.state.as_mut().and_then(|st| st.warm_up.take()) {
            let start = std::time::Instant::now();
            // A failed warm-up only loses its head start: the real call reports any error.
            if let Ok(Ok(took)) = helper.join() {
                let waited = start.elapsed().as_secs_f64();
                self.startup_steps
                    .push(("cublas_warm_up (helper thread)", took));
                self.startup_steps.push(("cublas_warm_up_wait", waited));
            }
        }
    }

    /// The GPU's handles beside the prepared run's state; `missing` is the error text when
    /// `prepare` has not run.
    fn parts(&mut self, missing: &'static str) -> Result<(&Gpu, &mut State), Error> {
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg(missing))?;
        Ok((&self.gpu, st))
    }
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
        let state = self.state.as_ref();
        let chosen = match state.and_then(|st| st.lt.as_ref()) {
            Some(c) => format!(
                "; --algo search ran it through cublasLtMatmul instead, with {}",
                c.name
            ),
            None => String::new(),
        };
        let default_algo = match state.and_then(|st| st.default_lt.as_ref()) {
            Some(c) => format!(", the heuristic's first algorithm: {}", c.name),
            None => String::new(),
        };
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
            DType::Fp8 => lt::FP8_COMPUTED,
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
        format!(
            "{gemm}{default_algo}{chosen}; kernels {}{override_note}",
            self.kernel_form
        )
    }

    fn prepare(&mut self, n: usize, dtype: DType) -> Result<(), Error> {
        self.state = None;
        let n32 = u32::try_from(n).map_err(|_| {
            Error::InvalidArgument(format!("n = {n} is too large for the GPU kernels"))
        })?;
        let p = gemm::a_times_a_transposed(n)?;
        dtype.check_size(n)?;
        let capability = self.device.compute_capability.clone().unwrap_or_default();
        if dtype == DType::Fp8 && !gemm::has_fp8_tensor_cores(&capability) {
            return Err(Error::NoDevice(format!(
                "GPU {} ({}) has compute capability {capability} and no FP8 tensor cores; --dtype fp8 needs compute capability 8.9 or newer (Ada, Hopper, Blackwell)",
                self.device.index.unwrap_or(0),
                self.device.name
            )));
        }
        let col_chunks = launch::colsum_chunks(n32);
        let reduce_blocks =
            launch::grid_stride_blocks((n as u64 * n as u64).div_ceil(4), self.gpu.multiprocessors);
        let with_lines = self.op == MatOp::Gemm;
        let line_len = if with_lines {
            launch::line_partials(n32, dtype.c_byte() as u32) as u64 + 2 * n as u64
        } else {
            0
        };
        // f64 work buffers: column-sum partials, the verification results, reduce partials,
        // the line sums.
        let extra = 8
            * (u64::from(col_chunks.0) * n as u64
                + flat_len(n) as u64
                + u64::from(reduce_blocks)
                + 1
                + line_len);
        let need = matrices_byte(n, dtype)
            .and_then(|m| m.checked_add(extra))
            .ok_or_else(|| Error::OutOfMemory(format!("n = {n} is too large to address")))?;
        let (free, _total) = self
            .gpu
            .ctx
            .mem_get_info()
            .map_err(driver("reading free GPU memory"))?;
        let free = free as u64;
        if need.saturating_add(HEADROOM_BYTE) > free {
            return Err(Error::OutOfMemory(format!(
                "n = {n} in {dtype} needs {} on GPU {} (A and C, n²·{} bytes, plus {} of work space); {} is free",
                format_byte(need + HEADROOM_BYTE),
                self.device.index.unwrap_or(0),
                dtype.a_byte() + dtype.c_byte(),
                format_byte(extra + HEADROOM_BYTE),
                format_byte(free)
            )));
        }
        let len = n * n;
        let bufs = Buffers::new(&self.gpu.stream, dtype, len)?;
        // Only the first run of the process pays cuBLAS's one-time cost (fp8 calls cuBLASLt,
        // which the warm-up does not load: its first call is a warm-up repetition's).
        let warm_up = (!self.warmed && dtype != DType::Fp8).then(|| {
            let job = steps::WarmUp {
                ctx: self.gpu.ctx.clone(),
                blas: self.gpu.blas.clone(),
                stream: self.gpu.stream.clone(),
                dtype,
                op: self.op,
            };
            std::thread::spawn(move || job.run())
        });
        self.warmed |= warm_up.is_some();
        let default_lt = if dtype == DType::Fp8 {
            let handle = lt::Lt::new(&self.gpu.stream)?;
            let problem = lt::Problem::new(dtype, &p, &self.gpu.stream)?;
            let first = lt::candidates(&handle, &problem, 1)?.into_iter().next();
            let algo = first.ok_or_else(|| {
                Error::device_msg(format!(
                    "cuBLASLt offered no FP8 algorithm for n = {n} on this GPU"
                ))
            })?;
            Some(LtChoice::new(handle, problem, algo))
        } else {
            None
        };
        let lines = if with_lines {
            Some(Lines {
                part: self
                    .gpu
                    .alloc(launch::line_partials(n32, dtype.c_byte() as u32))?,
                sums: self.gpu.alloc(2 * n)?,
                // SAFETY: every element read back is first written by a copy from `sums`.
                host: unsafe { self.gpu.ctx.alloc_pinned_with_flags::<f64>(2 * n, 0) }
                    .map_err(driver("allocating page-locked host memory"))?,
            })
        } else {
            None
        };
        self.state = Some(State {
            n,
            dtype,
            op: self.op,
            bufs,
            reduce_blocks,
            // the GEMM reduction's blocks, or (SYRK) one partial per row
            partial: self.gpu.alloc((reduce_blocks as usize).max(n))?,
            sum: self.gpu.alloc(1)?,
            col_chunks,
            col_partial: self.gpu.alloc(col_chunks.0 as usize * n)?,
            checks: self.gpu.alloc(flat_len(n))?,
            // SAFETY: every element read back is first written by the copy from `checks`.
            host_checks: unsafe { self.gpu.ctx.alloc_pinned_with_flags::<f64>(flat_len(n), 0) }
                .map_err(driver("allocating page-locked host memory"))?,
            lines,
            repetitions: 0,
            lines_on: true,
            lines_fresh: false,
            lt: None,
            default_lt,
            warm_up,
        });
        self.gpu.sync()
    }

    fn generate(&mut self, seed: u64) -> Result<Second, Error> {
        let (g, st) = self.parts("prepare() first")?;
        let fill = Fill {
            stream: &g.stream,
            philox: &g.kernels.for_dtype(st.dtype).philox,
            len: (st.n * st.n) as u64,
            seed,
            sms: g.multiprocessors,
        };
        g.record(0)?;
        fill.map(&mut st.bufs)?;
        g.record(1)?;
        g.sync()?;
        g.elapsed(0, 1)
    }

    fn iterate(&mut self) -> Result<Iteration, Error> {
        self.finish_warm_up();
        let fault = self.fault;
        let (g, st) = self.parts("prepare() first")?;
        let p = gemm::a_times_a_transposed(st.n)?;
        st.repetitions += 1;
        let (n, repetition) = (st.n, st.repetitions);
        let fault = fault.filter(|f| f.repetition == repetition && f.row < n && f.col < n);
        st.lines_fresh = st.lines_on && st.lines.is_some();
        // The chosen algorithm is lent to the step and put back, whatever the step returns.
        let mut chosen = st.lt.take();
        let lt = chosen.as_mut().map(|c| (&mut c.lt, &c.problem, &c.algo));
        let queued = queue_repetition(g, st, p, fault, lt, st.lines_fresh);
        st.lt = chosen;
        queued?;
        if let Some(lines) = st.lines.as_mut().filter(|_| st.lines_fresh) {
            g.stream
                .memcpy_dtoh(&lines.sums, &mut lines.host)
                .map_err(driver("copying the line sums"))?;
        }
        let mut sum = [0f64];
        g.stream
            .memcpy_dtoh(&st.sum, &mut sum)
            .map_err(driver("copying the sum"))?;
        g.sync()?;
        Ok(Iteration {
            matmul_s: g.elapsed(0, 1)?,
            reduce_s: g.elapsed(1, 2)?,
            sum: sum[0],
            lines_s: if st.lines_fresh {
                Some(g.elapsed(2, 3)?)
            } else {
                None
            },
        })
    }

    fn line_reference(&mut self) -> Option<(Vec<f64>, Option<String>)> {
        let fault = self.fault.map(|f| f.describe());
        let (g, st) = self.parts("prepare() first").ok()?;
        let lines = st.lines.as_mut()?;
        let n = st.n;
        let k = g.kernels.for_dtype(st.dtype);
        let reference = steps::LineReference {
            stream: &g.stream,
            fns: (&k.colsum_partial, &g.kernels.colsum_finish, &k.lineref),
            n: n as u32,
            chunks: st.col_chunks,
            col_partial: &mut st.col_partial,
            lines: &mut lines.sums,
        };
        let mut out = vec![0f64; n];
        let copied = reference.map(&mut st.bufs).and_then(|()| {
            g.stream
                .memcpy_dtoh(&lines.sums.slice(..n), &mut out)
                .map_err(driver("copying the line reference"))?;
            g.sync_as("computing the line reference")
        });
        // A failure here shows again, with its message, at the first repetition.
        copied.ok().map(|()| (out, fault))
    }

    /// cuBLAS: "all cuBLAS API routines from a given toolkit version generate the same
    /// bit-wise results at every run when executed on GPUs with the same architecture and the
    /// same number of SMs" (one stream, no atomics mode, as here); our sums add in a fixed order.
    fn reproducible(&self) -> bool {
        // A split-K algorithm may add its partial products in an order that varies.
        self.state
            .as_ref()
            .and_then(|st| st.lt.as_ref().or(st.default_lt.as_ref()))
            .is_none_or(|c| c.split_k <= 1)
    }

    fn set_algo_search(&mut self, cache_dir: Option<std::path::PathBuf>) -> Result<(), Error> {
        self.algo_search = cache_dir;
        Ok(())
    }

    fn algo_record(&self) -> Option<crate::record::algo::AlgoRecord> {
        self.algo_record.clone()
    }

    fn tune(&mut self) -> Result<Option<Second>, Error> {
        let Some(dir) = self.algo_search.clone() else {
            return Ok(None);
        };
        // The helper must be done with the cuBLAS handle before the search uses it: a first
        // call racing the helper's left the default path 13–18% slower for the whole process
        // on the H200 (2026-11-30), which the search then measured as the default's regret.
        self.finish_warm_up();
        let start = std::time::Instant::now();
        let key_head = (
            self.device.name.clone(),
            self.device.compute_capability.clone().unwrap_or_default(),
            self.device.multiprocessors.unwrap_or(0),
            self.device.cublas_version.clone().unwrap_or_default(),
        );
        let (op, dtype) = self
            .state
            .as_ref()
            .map(|s| (s.op, s.dtype))
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        if op == MatOp::Syrk {
            return Err(Error::InvalidArgument(algo::SYRK_NOT_SEARCHED.into()));
        }
        let default_name = self.math_mode(dtype);
        let default_name = default_name
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        let (g, st) = self.parts("prepare() first")?;
        let (choice, record) = search::search(g, st, &dir, key_head, &default_name)?;
        if !record.cached {
            // Let the GPU shed the search's heat before the warm-up and the measured
            // repetitions, so they start as in a process that did not search: a pause as long
            // as the search, at most 2 s (in `tune_s`). Without it the default path's f16 run
            // at n = 10000 after a search timed 2.90 ms against 2.52 ms in a run of its own
            // (H200, 2026-11-30); with it 2.52 against 2.55.
            std::thread::sleep(start.elapsed().min(std::time::Duration::from_secs(2)));
        }
        st.lt = choice;
        self.algo_record = Some(record);
        Ok(Some(start.elapsed().as_secs_f64()))
    }

    fn set_line_sums(&mut self, on: bool) {
        if let Some(st) = self.state.as_mut() {
            st.lines_on = on;
        }
    }

    fn line_sums(&self) -> Option<(&[f64], &[f64])> {
        let st = self.state.as_ref().filter(|st| st.lines_fresh)?;
        let host = st.lines.as_ref()?.host.as_slice().ok()?;
        Some(host.split_at(st.n))
    }

    fn verification_data(&mut self, rows: &[usize]) -> Result<VerificationData<'_>, Error> {
        let (g, st) = self.parts("prepare() first")?;
        let n = st.n;
        let (rows, sample) = sample_rows(rows, n);
        let k = g.kernels.for_dtype(st.dtype);
        let verify = Verify {
            stream: &g.stream,
            fns: (&k.colsum_partial, &g.kernels.colsum_finish, &k.rowcheck),
            n: n as u32,
            chunks: st.col_chunks,
            col_partial: &mut st.col_partial,
            sample,
            nrows: rows.len() as u32,
            upper: u32::from(st.op == MatOp::Syrk),
            checks: &mut st.checks,
        };
        g.record(0)?;
        verify.map(&mut st.bufs)?;
        g.record(1)?;
        let used = (1 + 2 * rows.len()) * n;
        g.stream
            .memcpy_dtoh(&st.checks.slice(..used), &mut st.host_checks)
            .map_err(driver("copying the checks"))?;
        g.record(2)?;
        g.sync_as("running the verification kernels")?;
        let steps_s = vec![
            ("kernels".to_string(), g.elapsed(0, 1)?),
            ("copy".to_string(), g.elapsed(1, 2)?),
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
        let (g, st) = self.parts("the CUDA backend was used before prepare()")?;
        let m = Download(&g.stream).map(&mut st.bufs)?;
        g.sync()?;
        Ok(m)
    }

    fn others_using(&self) -> Option<Result<Vec<crate::record::health::GpuProcess>, String>> {
        Some(match &self.device.uuid {
            Some(uuid) => crate::telemetry::others_on(uuid, self.own_byte()),
            None => Err("the driver gave no UUID for this GPU, so NVML cannot find it".into()),
        })
    }

    fn start_telemetry(&self) -> Option<Result<crate::telemetry::Sampler, String>> {
        Some(match &self.device.uuid {
            Some(uuid) => crate::telemetry::start(uuid, self.own_byte()),
            None => Err("the driver gave no UUID for this GPU, so NVML cannot find it".into()),
        })
    }

    fn startup_steps(&self) -> Vec<(String, Second)> {
        self.startup_steps
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }
}
