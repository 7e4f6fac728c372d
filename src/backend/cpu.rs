//! The CPU backend: faer's GEMM by default, matrixmultiply (through ndarray) on request.
//!
//! Both read A in place with transposed strides, so C = A·Aᵀ is one GEMM call and no copy of
//! A is made. All work runs inside one rayon pool sized by `--threads`. matrixmultiply keeps its
//! own threads, sized by `MATMUL_NUM_THREADS` ([`set_library_threads`], called by `main`
//! before any thread starts) and capped
//! at 4 by the crate.

use crate::backend::blas::{BlasElement, Cblas};
use crate::backend::{Backend, HostMatrix, Iteration, format_byte, matrices_byte};
use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::vocab::{BackendKind, CpuEngine, MatOp};
use crate::philox::Uniform;
use crate::record::DeviceRecord;
use crate::verify::{VerificationData, flat_len};
use rayon::prelude::*;
use std::time::Instant;

/// Sizes the thread pools that libraries create on their own, from the environment, before
/// matbench can call them: matrixmultiply reads `MATMUL_NUM_THREADS` once, on first use (it
/// has no other way to set it), and a CBLAS starts its pool when it is loaded (OpenBLAS one
/// thread per core, whatever `--threads` says: under a thread or address-space limit that
/// fails inside the library). The library's own call sets the count again after loading.
/// Call it before any thread of this process starts.
#[allow(unsafe_code)]
pub fn set_library_threads(threads: usize) {
    for var in [
        "MATMUL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BLIS_NUM_THREADS",
    ] {
        // SAFETY: `main` calls this right after parsing the command line, before any thread
        // (signal watchdog, pools, helpers) exists, so nothing reads the environment
        // concurrently.
        unsafe { std::env::set_var(var, threads.to_string()) };
    }
}

/// Bytes faer's GEMM maps per thread, once, on its first call (its `private_gemm_x8`
/// thread-local workspace, whatever n is; seen as "memory allocation of 545259520 bytes
/// failed" under `ulimit -v`).
pub const FAER_GEMM_WORKSPACE_BYTE: u64 = 545_259_520;

/// Address space a CBLAS maps for its buffers by its first call (OpenBLAS 0.3.21 was seen to
/// grow the process by about 380 MiB at its first GEMM, and under a tighter `ulimit -v` it
/// spins instead of failing): reserved, with room to spare, before the first call.
pub const BLAS_WORKSPACE_BYTE: u64 = 512 << 20;

/// Address space kept free beyond the matrices and the workspace: thread stacks, the
/// allocator's arenas, the libraries mapped later.
const ADDRESS_SPACE_MARGIN_BYTE: u64 = 64 << 20;

/// Refuses, with the "does not fit" error (exit 4), a problem that would not fit: the
/// matrices (`need`) against the host's available memory and the cgroup's limit (resident
/// memory), and the matrices plus the GEMM library's `workspace` against the address-space
/// limit (mapped memory; the workspace is mapped whole but touched only in part, so it is not
/// held against the resident limits).
fn check_fits(
    n: usize,
    dtype: DType,
    need: u64,
    workspace: u64,
    available: Option<u64>,
    limits: crate::host::MemoryLimits,
) -> Result<(), Error> {
    let what = format!(
        "n = {n} in {dtype} needs {} of host memory (A, C and the check buffers)",
        format_byte(need)
    );
    let refuse = |text: String| Err(Error::OutOfMemory(text));
    if let Some(free) = available
        && need > free
    {
        return refuse(format!("{what}; {} is available", format_byte(free)));
    }
    if let Some(free) = limits.cgroup_left_byte
        && need > free
    {
        return refuse(format!(
            "{what}; the job's memory limit (cgroup) leaves {}: ask the scheduler for more memory or use a smaller n",
            format_byte(free)
        ));
    }
    if let Some(free) = limits.address_space_left_byte
        && need
            .saturating_add(workspace)
            .saturating_add(ADDRESS_SPACE_MARGIN_BYTE)
            > free
    {
        return refuse(format!(
            "{what}{}; the address-space limit (ulimit -v) leaves {}: raise it, lower --threads, or use --cpu-engine matrixmultiply",
            if workspace > 0 {
                format!(
                    " plus {} of address space for the GEMM library's workspace",
                    format_byte(workspace)
                )
            } else {
                String::new()
            },
            format_byte(free)
        ));
    }
    Ok(())
}

/// Rows handed to one rayon task when generating and reducing.
const ROWS_PER_TASK: usize = 16;

/// Largest product `auto`'s probe times: the leading block of A, so the probe costs a few
/// products of at most this size whatever n is.
const PROBE_N: usize = 2048;
/// Timed products per engine in the probe, after one untimed each: at least this many, and
/// more, up to [`PROBE_MAX_REPS`], until [`PROBE_MIN_S`] has passed (small products are
/// cheap, and the best of many is robust against a moment's interruption).
const PROBE_REPS: usize = 3;
const PROBE_MIN_S: Second = 0.1;
const PROBE_MAX_REPS: usize = 50;
/// How long a BLAS's idle threads may spin after a call: OpenBLAS's 2²⁸ cycles (0.07 to
/// 0.27 s for clocks of 1 to 4 GHz), Intel OpenMP's 200 ms for MKL.
const BLAS_SPIN_S: Second = 0.3;
/// faer replaces the machine's BLAS only when it is faster by more than this share: the BLAS
/// is what the machine's owner runs, so a tie goes to it.
const PROBE_MARGIN: f64 = 0.05;

/// The host CPU as a [`Backend`].
pub struct CpuBackend {
    pool: rayon::ThreadPool,
    threads: usize,
    engine: CpuEngine,
    op: MatOp,
    device: DeviceRecord,
    state: Option<Matrices>,
    /// Whether the GEMM has run on this pool (its per-thread workspace is then mapped).
    gemm_ran: bool,
    /// The machine's CBLAS, when the engine is `blas` or `auto` found one.
    blas: Option<Cblas>,
    /// `auto` found a BLAS: each problem's engine, BLAS or faer, is chosen by [`Backend::tune`].
    choosing: bool,
    /// A test-only fault to put into C ([`super::fault`]).
    fault: Option<super::fault::Fault>,
    /// Repetitions run since `prepare` (the fault's clock).
    repetitions: u32,
}

enum Matrices {
    F32(State<f32>),
    F64(State<f64>),
}

struct State<T> {
    n: usize,
    /// GEMM, or SYRK (only the row-major upper triangle of C is computed).
    op: MatOp,
    a: Vec<T>,
    c: Vec<T>,
    /// Verification results, flat (see [`VerificationData::from_flat`]).
    checks: Vec<f64>,
    /// The last product's row sums of C (GEMM only), f64.
    row_sums: Vec<f64>,
    /// The last product's column sums of C (GEMM only), f64.
    column_sums: Vec<f64>,
}

/// What the CPU paths need of an element type.
trait Element:
    Uniform + faer::traits::ComplexField + ndarray::LinalgScalar + BlasElement + Into<f64> + Default
{
    const ONE: Self;
}

impl Element for f32 {
    const ONE: f32 = 1.0;
}

impl Element for f64 {
    const ONE: f64 = 1.0;
}

/// `engine` resolved: `auto` becomes `blas` when a CBLAS loads, `faer` otherwise; `blas`
/// fails with the loader's reason. Returns the engine, the library, and why (for `auto`).
fn resolve(
    engine: CpuEngine,
    blas_lib: Option<&std::path::Path>,
    threads: usize,
) -> Result<(CpuEngine, Option<Cblas>, Option<String>), Error> {
    match engine {
        CpuEngine::Blas => Ok((
            CpuEngine::Blas,
            Some(crate::backend::blas::load(blas_lib, threads)?),
            None,
        )),
        CpuEngine::Auto => match crate::backend::blas::load(blas_lib, threads) {
            Ok(blas) => {
                let why = format!("auto: the machine's BLAS, {}", blas.description);
                Ok((CpuEngine::Blas, Some(blas), Some(why)))
            }
            // A library the user named must work; a search that finds none falls back.
            Err(e) if blas_lib.is_some() => Err(e),
            Err(e) => Ok((
                CpuEngine::Faer,
                None,
                Some(format!("auto: faer, since {e}")),
            )),
        },
        other => Ok((other, None, None)),
    }
}

impl CpuBackend {
    /// A backend with a pool of `threads` workers using `engine` (not `auto` or `blas`, which
    /// need [`CpuBackend::with_blas`]) for the GEMM.
    pub fn new(threads: usize, engine: CpuEngine) -> Result<CpuBackend, Error> {
        CpuBackend::with_blas(threads, engine, None)
    }

    /// A backend with a pool of `threads` workers; `engine` `auto` or `blas` loads the CBLAS
    /// named by `blas_lib`, or the first of the usual libraries found.
    pub fn with_blas(
        threads: usize,
        engine: CpuEngine,
        blas_lib: Option<&std::path::Path>,
    ) -> Result<CpuBackend, Error> {
        let choosing = engine == CpuEngine::Auto;
        let (engine, blas, engine_choice) = resolve(engine, blas_lib, threads)?;
        let choosing = choosing && blas.is_some();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("matbench-cpu-{i}"))
            .build()
            .map_err(|e| Error::System(format!("could not start {threads} CPU threads: {e}")))?;
        let host = crate::host::host_record();
        let device = DeviceRecord {
            kind: "cpu".into(),
            name: host.cpu_model,
            index: None,
            uuid: None,
            compute_capability: None,
            multiprocessors: None,
            memory_total_byte: host.memory_total_byte,
            driver_version: None,
            cuda_driver_version: None,
            cublas_version: None,
            nvrtc_version: None,
            threads: Some(effective_threads(threads, engine)),
            blas_library: blas.as_ref().map(Cblas::summary),
            engine_choice,
        };
        Ok(CpuBackend {
            pool,
            threads,
            engine,
            op: MatOp::Gemm,
            device,
            state: None,
            gemm_ran: false,
            blas,
            choosing,
            fault: super::fault::Fault::from_env()?,
            repetitions: 0,
        })
    }

    fn state(&mut self) -> Result<&mut Matrices, Error> {
        self.state
            .as_mut()
            .ok_or_else(|| Error::device_msg("the CPU backend was used before prepare()"))
    }
}

/// Threads the engine really uses: matrixmultiply stops at 4.
fn effective_threads(threads: usize, engine: CpuEngine) -> usize {
    match engine {
        CpuEngine::Matrixmultiply => threads.min(4),
        _ => threads,
    }
}

fn alloc<T: Element>(len: usize) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::OutOfMemory(format!(
            "the host could not allocate {} for a matrix",
            format_byte((len * std::mem::size_of::<T>()) as u64)
        ))
    })?;
    v.resize(len, T::default());
    Ok(v)
}

fn generate<T: Element>(s: &mut State<T>, seed: u64) {
    let n = s.n;
    // Chunks start on multiples of 4 elements, so each Philox block is computed once.
    let chunk = (ROWS_PER_TASK * n).div_ceil(4) * 4;
    s.a.par_chunks_mut(chunk.max(4))
        .enumerate()
        .for_each(|(i, part)| T::fill(seed, (i * chunk.max(4)) as u64, part));
}

/// The product with `engine` on the whole problem.
fn matmul<T: Element>(s: &mut State<T>, engine: CpuEngine, threads: usize, blas: Option<&Cblas>) {
    product(s, s.n, engine, threads, blas);
}

/// The product (GEMM, or SYRK's upper triangle) of the leading m×m block of A into C's, with
/// `engine`: m = n for the benchmark, smaller for [`CpuBackend::tune`]'s probe.
fn product<T: Element>(
    s: &mut State<T>,
    m: usize,
    engine: CpuEngine,
    threads: usize,
    blas: Option<&Cblas>,
) {
    let n = s.n;
    if let Some(blas) = blas.filter(|_| engine == CpuEngine::Blas) {
        match s.op {
            MatOp::Gemm => T::gemm(blas, m, n, &s.a, &mut s.c),
            MatOp::Syrk => T::syrk(blas, m, n, &s.a, &mut s.c),
        }
        return;
    }
    let a = faer::MatRef::from_row_major_slice(&s.a, n, n).submatrix(0, 0, m, m);
    let c = faer::MatMut::from_row_major_slice_mut(&mut s.c, n, n).submatrix_mut(0, 0, m, m);
    if s.op == MatOp::Syrk {
        // The upper triangle of C (j ≥ i), as cuBLAS's SYRK fills it on the GPU: half the work.
        use faer::linalg::matmul::triangular::{BlockStructure, matmul as tri};
        tri(
            c,
            BlockStructure::TriangularUpper,
            faer::Accum::Replace,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            T::ONE,
            faer::Par::rayon(threads),
        );
        return;
    }
    match engine {
        CpuEngine::Matrixmultiply => {
            // Shapes are (n, n) over slices of exactly n·n elements: from_shape cannot fail.
            let (Ok(a), Ok(mut c)) = (
                ndarray::ArrayView2::from_shape((n, n), &s.a),
                ndarray::ArrayViewMut2::from_shape((n, n), &mut s.c),
            ) else {
                return;
            };
            let (a, mut c) = (
                a.slice(ndarray::s![..m, ..m]),
                c.slice_mut(ndarray::s![..m, ..m]),
            );
            ndarray::linalg::general_mat_mul(T::ONE, &a, &a.t(), T::default(), &mut c);
        }
        // faer, and the resolved engines' fallback (`auto` and `blas` never reach here
        // without a library: they resolve when the backend opens).
        _ => faer::linalg::matmul::matmul(
            c,
            faer::Accum::Replace,
            a,
            a.transpose(),
            T::ONE,
            faer::Par::rayon(threads),
        ),
    }
}

/// The probe of [`CpuBackend::tune`]: the product of the leading m×m block (m = min(n,
/// [`PROBE_N`])) by the BLAS, then by faer, each one untimed and then timed (at least
/// [`PROBE_REPS`] times, for at least [`PROBE_MIN_S`]); returns m and the best time of each,
/// BLAS first.
///
/// One engine after the other, not in turn, and faer only once the BLAS's threads have gone
/// to sleep: an OpenBLAS thread spins (yielding) for 2²⁸ cycles after it starts and after each
/// call, MKL's for 200 ms, and a faer product started then shares every core with them. On
/// 16 threads that made faer look six times slower than it is (12.4 against 2.0 ms at
/// n = 1024). Telling the library to sleep at once instead cost OpenBLAS up to 45% at
/// n = 1024 on 16 threads (waking its threads for every product), so the libraries keep
/// their defaults and the probe waits out [`BLAS_SPIN_S`] — only when the two pools cannot
/// both have their own cores.
fn probe<T: Element>(
    s: &mut State<T>,
    threads: usize,
    blas: Option<&Cblas>,
) -> (usize, [Second; 2]) {
    let m = s.n.min(PROBE_N);
    let mut best = [f64::INFINITY; 2];
    for (k, engine) in [(0, CpuEngine::Blas), (1, CpuEngine::Faer)] {
        if engine == CpuEngine::Faer && 2 * threads > crate::host::cpu_threads() {
            std::thread::sleep(std::time::Duration::from_secs_f64(BLAS_SPIN_S));
        }
        product(s, m, engine, threads, blas);
        let began = Instant::now();
        let mut reps = 0;
        while reps < PROBE_REPS
            || (began.elapsed().as_secs_f64() < PROBE_MIN_S && reps < PROBE_MAX_REPS)
        {
            let start = Instant::now();
            product(s, m, engine, threads, blas);
            best[k] = best[k].min(start.elapsed().as_secs_f64());
            reps += 1;
        }
    }
    (m, best)
}

/// Σ C in f64. For a GEMM, in the same one pass over C, every row sum and every column sum
/// (the checksums of every element, `verify::LineChecker`): eight accumulators per row (the
/// loop is memory-bound, this keeps it so), and s is the row sums added in row order, so it
/// does not depend on scheduling.
fn reduce<T: Element>(s: &mut State<T>) -> f64 {
    if s.op == MatOp::Syrk {
        // 2·(strictly above the diagonal) + diagonal, one partial per row, in row order.
        let n = s.n;
        let partials: Vec<f64> =
            s.c.par_chunks(n.max(1))
                .enumerate()
                .map(|(r, row)| {
                    let above: f64 = row[r + 1..].iter().map(|&v| v.into()).sum();
                    2.0 * above + row[r].into()
                })
                .collect();
        return partials.iter().sum();
    }
    let n = s.n;
    let State {
        c,
        row_sums,
        column_sums,
        ..
    } = s;
    row_sums.resize(n, 0.0);
    // A few tasks per thread: each keeps one vector of column partials.
    let rows_per_task = n.div_ceil(4 * rayon::current_num_threads().max(1)).max(1);
    *column_sums = c
        .par_chunks(n.max(1))
        .zip(row_sums.par_iter_mut())
        .with_min_len(rows_per_task)
        .fold(
            || vec![0f64; n],
            |mut cols, (row, out)| {
                let mut acc = [0f64; 8];
                let mut lanes = row.chunks_exact(8);
                let mut col_lanes = cols.chunks_exact_mut(8);
                for (x, cs) in (&mut lanes).zip(&mut col_lanes) {
                    for ((a, cl), &v) in acc.iter_mut().zip(cs.iter_mut()).zip(x) {
                        let v: f64 = v.into();
                        *a += v;
                        *cl += v;
                    }
                }
                let mut tail = 0.0;
                for (cl, &v) in col_lanes.into_remainder().iter_mut().zip(lanes.remainder()) {
                    let v: f64 = v.into();
                    tail += v;
                    *cl += v;
                }
                *out = acc.iter().sum::<f64>() + tail;
                cols
            },
        )
        .reduce(
            || vec![0f64; n],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                a
            },
        );
    row_sums.iter().sum()
}

/// Fills `s.checks` in the flat layout of [`VerificationData::from_flat`]: column sums of A,
/// then f64 dot products of each sampled row with every row, then the sampled rows of C.
fn fill_checks<T: Element>(s: &mut State<T>, rows: &[usize]) {
    let n = s.n;
    let a = &s.a;
    let partial_sums: Vec<Vec<f64>> = a
        .par_chunks(ROWS_PER_TASK * n)
        .map(|block| {
            let mut sums = vec![0f64; n];
            for row in block.chunks_exact(n) {
                for (acc, &v) in sums.iter_mut().zip(row) {
                    *acc += v.into();
                }
            }
            sums
        })
        .collect();
    let (column_sums, rest) = s.checks.split_at_mut(n);
    column_sums.fill(0.0);
    for part in &partial_sums {
        for (acc, v) in column_sums.iter_mut().zip(part) {
            *acc += v;
        }
    }
    let (references, computed) = rest.split_at_mut(rows.len() * n);
    for (k, &r) in rows.iter().enumerate() {
        let ar = &a[r * n..(r + 1) * n];
        references[k * n..(k + 1) * n]
            .par_iter_mut()
            .enumerate()
            .for_each(|(j, out)| {
                let aj = &a[j * n..(j + 1) * n];
                *out = ar
                    .iter()
                    .zip(aj)
                    .map(|(&x, &y)| x.into() * y.into())
                    .sum::<f64>();
            });
        for (j, out) in computed[k * n..(k + 1) * n].iter_mut().enumerate() {
            // SYRK wrote only j ≥ r of row r; C is symmetric, so C[r, j] = C[j, r] below.
            let at = if s.op == MatOp::Syrk && j < r {
                j * n + r
            } else {
                r * n + j
            };
            *out = s.c[at].into();
        }
    }
}

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn device(&self) -> &DeviceRecord {
        &self.device
    }

    fn set_op(&mut self, op: MatOp) -> Result<(), Error> {
        if op == MatOp::Syrk && self.engine == CpuEngine::Matrixmultiply {
            return Err(Error::InvalidArgument(
                "--op syrk needs --cpu-engine faer or blas (matrixmultiply has no triangular product)"
                    .into(),
            ));
        }
        self.op = op;
        Ok(())
    }

    fn math_mode(&self, dtype: DType) -> String {
        if let Some(blas) = self
            .blas
            .as_ref()
            .filter(|_| self.engine == CpuEngine::Blas)
        {
            let p = if dtype == DType::F64 { "d" } else { "s" };
            let call = match self.op {
                MatOp::Gemm => format!("cblas_{p}gemm (row-major, A·Aᵀ by the transpose flag)"),
                MatOp::Syrk => format!("cblas_{p}syrk (SYRK, upper triangle)"),
            };
            return format!(
                "{dtype}: {call} of {}, threads: {}; IEEE {dtype} arithmetic, sum accumulated in f64",
                blas.description, blas.threading
            );
        }
        let (call, bits) = match self.engine {
            CpuEngine::Matrixmultiply => ("ndarray general_mat_mul (matrixmultiply)", "SIMD"),
            _ if self.op == MatOp::Syrk => (
                "faer::linalg::matmul::triangular::matmul (SYRK, upper triangle)",
                "SIMD FMA",
            ),
            _ => ("faer::linalg::matmul::matmul", "SIMD FMA"),
        };
        format!("{dtype}: {call}, IEEE {dtype} arithmetic ({bits}), sum accumulated in f64")
    }

    fn cpu_engine(&self) -> Option<CpuEngine> {
        Some(self.engine)
    }

    fn prepare(&mut self, n: usize, dtype: DType) -> Result<(), Error> {
        self.state = None;
        self.repetitions = 0;
        let need = matrices_byte(n, dtype)
            .and_then(|m| m.checked_add(flat_len(n) as u64 * 8))
            .ok_or_else(|| Error::OutOfMemory(format!("n = {n} is too large to address")))?;
        // faer's GEMM maps a fixed workspace per thread on its first call; an allocation that
        // fails inside it aborts the process, so it is counted here, before anything runs.
        let workspace = match self.engine {
            _ if self.gemm_ran => 0,
            _ if self.choosing => {
                FAER_GEMM_WORKSPACE_BYTE * self.threads as u64 + BLAS_WORKSPACE_BYTE
            }
            CpuEngine::Faer => FAER_GEMM_WORKSPACE_BYTE * self.threads as u64,
            CpuEngine::Blas => BLAS_WORKSPACE_BYTE,
            _ => 0,
        };
        check_fits(
            n,
            dtype,
            need,
            workspace,
            crate::host::available_memory_byte(),
            crate::host::memory_limits(),
        )?;
        let len = n * n;
        self.state = Some(match dtype {
            DType::F32 => Matrices::F32(State {
                n,
                op: self.op,
                a: alloc(len)?,
                c: alloc(len)?,
                checks: alloc(flat_len(n))?,
                row_sums: Vec::new(),
                column_sums: Vec::new(),
            }),
            DType::F64 => Matrices::F64(State {
                n,
                op: self.op,
                a: alloc(len)?,
                c: alloc(len)?,
                checks: alloc(flat_len(n))?,
                row_sums: Vec::new(),
                column_sums: Vec::new(),
            }),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "the cpu backend does not compute {other}; use --dtype f32 or f64"
                )));
            }
        });
        Ok(())
    }

    fn generate(&mut self, seed: u64) -> Result<Second, Error> {
        let pool = &self.pool;
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let start = Instant::now();
        pool.install(|| match state {
            Matrices::F32(s) => generate(s, seed),
            Matrices::F64(s) => generate(s, seed),
        });
        Ok(start.elapsed().as_secs_f64())
    }

    /// `auto` with a BLAS: times the machine's BLAS and faer on the leading block of this
    /// problem (at most [`PROBE_N`]), alternating, and keeps the BLAS unless faer is faster
    /// by more than [`PROBE_MARGIN`].
    fn tune(&mut self) -> Result<Option<Second>, Error> {
        if !self.choosing {
            return Ok(None);
        }
        let start = Instant::now();
        let (threads, blas, pool) = (self.threads, self.blas.as_ref(), &self.pool);
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let (m, [blas_s, faer_s]) = pool.install(|| match state {
            Matrices::F32(s) => probe(s, threads, blas),
            Matrices::F64(s) => probe(s, threads, blas),
        });
        self.gemm_ran = true;
        let library = self.blas.as_ref().map_or(String::new(), Cblas::summary);
        let ms = |s: f64| format!("{:.3} ms", s * 1e3);
        let faer_wins = faer_s < blas_s * (1.0 - PROBE_MARGIN);
        self.engine = if faer_wins {
            CpuEngine::Faer
        } else {
            CpuEngine::Blas
        };
        self.device.engine_choice = Some(if faer_wins {
            format!(
                "auto: faer, {} against {} for the machine's BLAS ({library}) at n = {m} (best of at least {PROBE_REPS} each; the BLAS is kept unless faer is more than {:.0}% faster)",
                ms(faer_s),
                ms(blas_s),
                PROBE_MARGIN * 100.0
            )
        } else {
            format!(
                "auto: the machine's BLAS ({library}), {} against faer's {} at n = {m} (best of at least {PROBE_REPS} each)",
                ms(blas_s),
                ms(faer_s)
            )
        });
        self.device.blas_library = (!faer_wins).then_some(library);
        Ok(Some(start.elapsed().as_secs_f64()))
    }

    fn iterate(&mut self) -> Result<Iteration, Error> {
        let (engine, threads) = (self.engine, self.threads);
        let pool = &self.pool;
        let blas = self.blas.as_ref();
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        self.gemm_ran = true;
        self.repetitions += 1;
        let (fault, repetition) = (self.fault, self.repetitions);
        pool.install(|| {
            let start = Instant::now();
            match state {
                Matrices::F32(s) => matmul(s, engine, threads, blas),
                Matrices::F64(s) => matmul(s, engine, threads, blas),
            }
            let matmul_s = start.elapsed().as_secs_f64();
            if let Some(f) = fault {
                match state {
                    Matrices::F32(s) => f.apply(repetition, &mut s.c, s.n),
                    Matrices::F64(s) => f.apply(repetition, &mut s.c, s.n),
                }
            }
            let start = Instant::now();
            let sum = match state {
                Matrices::F32(s) => reduce(s),
                Matrices::F64(s) => reduce(s),
            };
            Ok(Iteration {
                matmul_s,
                reduce_s: start.elapsed().as_secs_f64(),
                sum,
                // the line sums are computed in the reduction's pass
                lines_s: None,
            })
        })
    }

    fn line_reference(&mut self) -> Option<(Vec<f64>, Option<String>)> {
        let fault = self.fault.map(|f| f.describe());
        let pool = &self.pool;
        let reference = match self.state.as_ref()? {
            Matrices::F32(s) if s.op == MatOp::Gemm => {
                pool.install(|| crate::verify::line_reference(s.n, |i| f64::from(s.a[i])))
            }
            Matrices::F64(s) if s.op == MatOp::Gemm => {
                pool.install(|| crate::verify::line_reference(s.n, |i| s.a[i]))
            }
            _ => return None,
        };
        Some((reference, fault))
    }

    fn line_sums(&self) -> Option<(&[f64], &[f64])> {
        match self.state.as_ref()? {
            Matrices::F32(s) if s.op == MatOp::Gemm => Some((&s.row_sums, &s.column_sums)),
            Matrices::F64(s) if s.op == MatOp::Gemm => Some((&s.row_sums, &s.column_sums)),
            _ => None,
        }
    }

    fn verification_data(&mut self, rows: &[usize]) -> Result<VerificationData<'_>, Error> {
        let pool = &self.pool;
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::device_msg("prepare() first"))?;
        let n = match state {
            Matrices::F32(s) => s.n,
            Matrices::F64(s) => s.n,
        };
        let rows = crate::verify::usable_rows(rows, n);
        let checks = pool.install(|| match state {
            Matrices::F32(s) => {
                fill_checks(s, &rows);
                &s.checks
            }
            Matrices::F64(s) => {
                fill_checks(s, &rows);
                &s.checks
            }
        });
        Ok(VerificationData::from_flat(checks, n, &rows))
    }

    fn download_matrix(&mut self) -> Result<HostMatrix, Error> {
        Ok(match self.state()? {
            Matrices::F32(s) => HostMatrix::F32(s.a.clone()),
            Matrices::F64(s) => HostMatrix::F64(s.a.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_does_not_fit_is_refused_with_the_limit_that_refuses_it() {
        use crate::host::MemoryLimits;
        let gib = 1u64 << 30;
        let none = MemoryLimits::default();
        assert!(check_fits(100, DType::F32, gib, 0, Some(2 * gib), none).is_ok());
        let e = check_fits(100, DType::F32, 3 * gib, 0, Some(2 * gib), none).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("is available"), "{e}");
        let cgroup = MemoryLimits {
            cgroup_left_byte: Some(gib / 2),
            ..none
        };
        let e = check_fits(100, DType::F32, gib, 0, None, cgroup).unwrap_err();
        assert!(e.to_string().contains("memory limit (cgroup)"), "{e}");
        // The workspace counts against the address space only.
        let as_limit = MemoryLimits {
            address_space_left_byte: Some(900 << 20),
            ..none
        };
        assert!(check_fits(64, DType::F32, 1 << 20, 0, None, as_limit).is_ok());
        let e = check_fits(
            64,
            DType::F32,
            1 << 20,
            2 * FAER_GEMM_WORKSPACE_BYTE,
            None,
            as_limit,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.to_string().contains("ulimit -v") && e.to_string().contains("--threads"),
            "{e}"
        );
    }

    fn naive_aat(a: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum();
            }
        }
        c
    }

    #[test]
    fn both_engines_compute_a_times_a_transposed() {
        for engine in [CpuEngine::Faer, CpuEngine::Matrixmultiply] {
            for n in [1usize, 7, 33] {
                let mut b = CpuBackend::new(2, engine).unwrap();
                b.prepare(n, DType::F64).unwrap();
                b.generate(11).unwrap();
                let it = b.iterate().unwrap();
                let Ok(HostMatrix::F64(a)) = b.download_matrix() else {
                    panic!("f64 expected")
                };
                let want = naive_aat(&a, n);
                let Some(Matrices::F64(s)) = &b.state else {
                    panic!("state")
                };
                for (got, want) in s.c.iter().zip(&want) {
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "{engine:?} n={n}"
                    );
                }
                let total: f64 = want.iter().sum();
                assert!((it.sum - total).abs() <= 1e-12 * total, "{engine:?} n={n}");
            }
        }
    }

    #[test]
    fn generated_matrix_is_the_philox_stream() {
        let mut b = CpuBackend::new(2, CpuEngine::Faer).unwrap();
        b.prepare(37, DType::F32).unwrap();
        b.generate(5).unwrap();
        let Ok(HostMatrix::F32(a)) = b.download_matrix() else {
            panic!("f32 expected")
        };
        for (i, v) in a.iter().enumerate() {
            assert_eq!(v.to_bits(), f32::uniform_at(5, i as u64).to_bits());
        }
    }

    #[test]
    fn unsupported_dtype_and_use_before_prepare_are_errors() {
        let mut b = CpuBackend::new(1, CpuEngine::Faer).unwrap();
        assert!(b.iterate().is_err());
        assert_eq!(b.prepare(8, DType::Bf16).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn too_large_for_host_memory_is_refused_before_allocating() {
        let mut b = CpuBackend::new(1, CpuEngine::Faer).unwrap();
        let err = b.prepare(1 << 22, DType::F64).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.to_string().contains("is available"), "{err}");
    }

    /// The machine's BLAS for `auto`/`blas` tests: CI installs one and sets
    /// `MATBENCH_REQUIRE_BLAS=1`, which makes its absence a failure; elsewhere a machine
    /// without one says so.
    fn blas_or_skip(test: &str) -> bool {
        match crate::backend::blas::load(None, 2) {
            Ok(_) => true,
            Err(e) if std::env::var_os("MATBENCH_REQUIRE_BLAS").is_none() => {
                eprintln!("SKIPPED {test}: {e}");
                false
            }
            Err(e) => panic!("MATBENCH_REQUIRE_BLAS is set and {e}"),
        }
    }

    #[test]
    fn every_engine_multiplies_the_leading_block_for_the_probe() {
        let (n, m) = (13usize, 6usize);
        let mut engines = vec![CpuEngine::Faer, CpuEngine::Matrixmultiply];
        if blas_or_skip("every_engine_multiplies_the_leading_block_for_the_probe (blas)") {
            engines.push(CpuEngine::Blas);
        }
        for engine in engines {
            let mut b = CpuBackend::with_blas(2, engine, None).unwrap();
            b.prepare(n, DType::F64).unwrap();
            b.generate(3).unwrap();
            let Ok(HostMatrix::F64(a)) = b.download_matrix() else {
                panic!("f64 expected")
            };
            let block: Vec<f64> = (0..m * m).map(|i| a[(i / m) * n + i % m]).collect();
            let want = naive_aat(&block, m);
            let (threads, blas) = (b.threads, b.blas.as_ref());
            let Some(Matrices::F64(s)) = &mut b.state else {
                panic!("state")
            };
            s.c.fill(-1.0);
            product(s, m, engine, threads, blas);
            for i in 0..n {
                for j in 0..n {
                    let got = s.c[i * n + j];
                    if i < m && j < m {
                        let w = want[i * m + j];
                        assert!((got - w).abs() <= 1e-12 * w.abs().max(1.0), "{engine:?}");
                    } else {
                        assert_eq!(
                            got, -1.0,
                            "{engine:?} wrote outside the block at ({i}, {j})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn auto_times_both_engines_keeps_the_faster_and_says_why() {
        if !blas_or_skip("auto_times_both_engines_keeps_the_faster_and_says_why") {
            return;
        }
        let mut b = CpuBackend::with_blas(2, CpuEngine::Auto, None).unwrap();
        for n in [5usize, 40] {
            b.prepare(n, DType::F64).unwrap();
            b.generate(11).unwrap();
            let tune_s = b.tune().unwrap().expect("auto with a BLAS tunes");
            assert!(tune_s >= 0.0);
            let why = b.device().engine_choice.clone().unwrap();
            assert!(why.contains(&format!("at n = {n}")), "{why}");
            match b.cpu_engine() {
                Some(CpuEngine::Blas) => {
                    assert!(why.starts_with("auto: the machine's BLAS"), "{why}");
                    assert!(b.device().blas_library.is_some());
                    assert!(b.math_mode(DType::F64).contains("cblas_dgemm"));
                }
                Some(CpuEngine::Faer) => {
                    assert!(
                        why.starts_with("auto: faer") && why.contains("faster"),
                        "{why}"
                    );
                    assert!(b.device().blas_library.is_none());
                    assert!(b.math_mode(DType::F64).contains("faer"));
                }
                other => panic!("auto resolved to {other:?}"),
            }
            let it = b.iterate().unwrap();
            let Ok(HostMatrix::F64(a)) = b.download_matrix() else {
                panic!("f64 expected")
            };
            let total: f64 = naive_aat(&a, n).iter().sum();
            assert!((it.sum - total).abs() <= 1e-12 * total, "n = {n}");
        }
    }

    #[test]
    fn a_named_engine_has_nothing_to_tune() {
        let mut b = CpuBackend::new(1, CpuEngine::Faer).unwrap();
        b.prepare(8, DType::F32).unwrap();
        b.generate(1).unwrap();
        assert_eq!(b.tune().unwrap(), None);
        assert_eq!(b.cpu_engine(), Some(CpuEngine::Faer));
    }
}
