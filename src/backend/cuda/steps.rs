//! The run's device steps over A and C (fill, multiply and reduce, verify, download), each a
//! [`Map`] written once, generic over the storage type.
//!
//! They live apart from the [`Backend`](crate::backend::Backend) impl so that `mod.rs` reads
//! as the sequence of events and copies around each step, while what a step launches is here.
//! Each holds references to the GPU's handles and to the run's f64 work buffers, borrowed
//! beside the A and C that [`Map::map`] hands it.

#![deny(unsafe_code)]

use super::context::Gpu;
use super::kernels::TypedKernels;
use super::launch::{self, SampleRows};
use super::storage::{Element, Map};
use super::{blas, driver, gemm};
use crate::backend::HostMatrix;
use crate::backend::fault::{self, Fault};
use crate::error::Error;
use crate::model::dtype::DType;
use crate::model::vocab::MatOp;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream};
use std::sync::Arc;

/// Philox fill of A.
pub(super) struct Fill<'a> {
    pub(super) stream: &'a Arc<CudaStream>,
    pub(super) philox: &'a CudaFunction,
    pub(super) len: u64,
    pub(super) seed: u64,
    pub(super) sms: u32,
}

impl Map for Fill<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, _: &mut CudaSlice<T::C>) -> Result<(), Error> {
        let per_thread = T::PHILOX_PER_THREAD;
        let (stream, f) = (self.stream, self.philox);
        launch::launch_generate(stream, f, a, self.len, self.seed, per_thread, self.sms)
    }
}

/// The algorithm `--algo search` chose over the default path: cuBLASLt's handle, the problem's
/// descriptors, and the algorithm.
pub(super) type LtCall<'a> = (
    &'a mut super::lt::Lt,
    &'a super::lt::Problem,
    &'a cudarc::cublaslt::sys::cublasLtMatmulAlgo_t,
);

/// C = A·Aᵀ (GEMM or SYRK), event 1 recorded, the test-only fault if this repetition has one,
/// then s = Σ C into `sum`.
pub(super) struct Multiply<'a> {
    pub(super) gpu: &'a Gpu,
    pub(super) typed: &'a TypedKernels,
    pub(super) st: Step<'a>,
    pub(super) p: gemm::GemmParams,
    pub(super) fault: Option<Fault>,
    /// The GEMM through cuBLASLt with this algorithm instead of the default path.
    pub(super) lt: Option<LtCall<'a>>,
}

/// One GEMM, C = A·Aᵀ, by the default path or with a cuBLASLt algorithm (the search's timed
/// call, and [`Multiply`]'s).
pub(super) struct OneGemm<'a> {
    pub(super) gpu: &'a Gpu,
    pub(super) dtype: DType,
    pub(super) p: gemm::GemmParams,
    pub(super) lt: Option<LtCall<'a>>,
}

impl Map for OneGemm<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, c: &mut CudaSlice<T::C>) -> Result<(), Error> {
        let g = self.gpu;
        match self.lt {
            Some((lt, problem, algo)) => super::lt::matmul(lt, problem, algo, &g.stream, a, c),
            None => blas::run_gemm(&g.blas, &g.stream, self.dtype, &self.p, a, c),
        }
    }
}

/// The run's shape and the f64 work buffers of the reduction.
pub(super) struct Step<'a> {
    pub(super) n: usize,
    pub(super) dtype: DType,
    pub(super) op: MatOp,
    pub(super) reduce_blocks: u32,
    pub(super) partial: &'a mut CudaSlice<f64>,
    pub(super) sum: &'a mut CudaSlice<f64>,
}

impl Map for Multiply<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, c: &mut CudaSlice<T::C>) -> Result<(), Error> {
        let (g, st) = (self.gpu, self.st);
        let finish = &g.kernels.sum_finish;
        if st.op == MatOp::Syrk {
            blas::run_syrk(&g.blas, &g.stream, st.n, a, c)?;
            g.record(1)?;
            let upper = T::sum_upper(&g.kernels)?;
            let n32 = st.n as u32;
            launch::launch_reduce_upper(&g.stream, finish, upper, c, n32, st.partial, st.sum)
        } else {
            let call = OneGemm {
                gpu: g,
                dtype: st.dtype,
                p: self.p,
                lt: self.lt,
            };
            call.f(a, c)?;
            g.record(1)?;
            if let Some(f) = self.fault {
                let n = st.n as u32;
                let (rows, cols) = match f.kind {
                    fault::Kind::Zero | fault::Kind::Double => (1, 1),
                    fault::Kind::Tile => (fault::TILE, fault::TILE),
                };
                let clip = |at: usize, len: usize| len.min(st.n.saturating_sub(at)) as u32;
                let at = (f.row as u32, f.col as u32);
                let size = (clip(f.row, rows), clip(f.col, cols));
                let twice = f.kind == fault::Kind::Double;
                launch::launch_inject(&g.stream, &self.typed.inject, c, n, at, size, twice)?;
            }
            let len = (st.n * st.n) as u64;
            let (partial_fn, blocks) = (&self.typed.sum_partial, st.reduce_blocks);
            launch::launch_reduce(
                &g.stream, finish, partial_fn, c, len, blocks, st.partial, st.sum,
            )
        }
    }
}

/// The column sums of A and the sampled-row check of C, into `checks`.
pub(super) struct Verify<'a> {
    pub(super) stream: &'a Arc<CudaStream>,
    pub(super) fns: (&'a CudaFunction, &'a CudaFunction, &'a CudaFunction),
    pub(super) n: u32,
    pub(super) chunks: (u32, u32),
    pub(super) col_partial: &'a mut CudaSlice<f64>,
    pub(super) sample: SampleRows,
    pub(super) nrows: u32,
    pub(super) upper: u32,
    pub(super) checks: &'a mut CudaSlice<f64>,
}

impl Map for Verify<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, c: &mut CudaSlice<T::C>) -> Result<(), Error> {
        let v = self;
        launch::launch_verify(
            v.stream,
            v.fns,
            a,
            c,
            v.n,
            v.chunks,
            v.col_partial,
            v.sample,
            v.nrows,
            v.upper,
            v.checks,
        )
    }
}

/// Every row and column sum of C into `lines` (the checksums of every repetition).
pub(super) struct LineSums<'a> {
    pub(super) stream: &'a Arc<CudaStream>,
    pub(super) fns: (&'a CudaFunction, &'a CudaFunction),
    pub(super) n: u32,
    pub(super) part: &'a mut CudaSlice<f64>,
    pub(super) lines: &'a mut CudaSlice<f64>,
}

impl Map for LineSums<'_> {
    type Out = ();
    fn f<T: Element>(self, _: &mut CudaSlice<T>, c: &mut CudaSlice<T::C>) -> Result<(), Error> {
        launch::launch_line_sums(self.stream, self.fns, c, self.n, self.part, self.lines)
    }
}

/// The exact reference of those sums, A·(column sums of A), into `lines[..n]`.
pub(super) struct LineReference<'a> {
    pub(super) stream: &'a Arc<CudaStream>,
    pub(super) fns: (&'a CudaFunction, &'a CudaFunction, &'a CudaFunction),
    pub(super) n: u32,
    pub(super) chunks: (u32, u32),
    pub(super) col_partial: &'a mut CudaSlice<f64>,
    pub(super) lines: &'a mut CudaSlice<f64>,
}

impl Map for LineReference<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, _: &mut CudaSlice<T::C>) -> Result<(), Error> {
        let v = self;
        launch::launch_line_reference(v.stream, v.fns, a, v.n, v.chunks, v.col_partial, v.lines)
    }
}

/// cuBLAS's one-time cost, paid off the critical path: the first GEMM of a process took
/// 113–138 ms on the H200 against 38 ms warm (library set-up, lazily loaded kernels). A helper
/// thread makes one 64×64 call of the run's own kind (routine, types, transposes) on small
/// buffers of its own while the main thread allocates, generates A and computes the line
/// reference; the first measured call waits for it, and the record's start-up steps say how
/// long it took and how long was waited. The helper never touches A or C, and its call is
/// queued on the run's stream before any repetition's events, so no repetition times it.
pub(super) struct WarmUp {
    pub(super) ctx: Arc<cudarc::driver::CudaContext>,
    pub(super) blas: Arc<cudarc::cublas::CudaBlas>,
    pub(super) stream: Arc<CudaStream>,
    pub(super) dtype: DType,
    pub(super) op: MatOp,
}

/// Side of the warm-up's matrices.
const WARM_N: usize = 64;

impl WarmUp {
    /// Runs on the helper thread; returns how long the call took on the host.
    pub(super) fn run(self) -> Result<crate::model::Second, Error> {
        let start = std::time::Instant::now();
        self.ctx
            .bind_to_thread()
            .map_err(driver("binding the context to the warm-up thread"))?;
        let mut bufs = super::storage::Buffers::new(&self.stream, self.dtype, WARM_N * WARM_N)?;
        let call = WarmCall {
            blas: &self.blas,
            stream: &self.stream,
            dtype: self.dtype,
            op: self.op,
        };
        call.map(&mut bufs)?;
        Ok(start.elapsed().as_secs_f64())
    }
}

struct WarmCall<'a> {
    blas: &'a cudarc::cublas::CudaBlas,
    stream: &'a Arc<CudaStream>,
    dtype: DType,
    op: MatOp,
}

impl Map for WarmCall<'_> {
    type Out = ();
    fn f<T: Element>(self, a: &mut CudaSlice<T>, c: &mut CudaSlice<T::C>) -> Result<(), Error> {
        if self.op == MatOp::Syrk {
            blas::run_syrk(self.blas, self.stream, WARM_N, a, c)
        } else {
            let p = gemm::a_times_a_transposed(WARM_N)?;
            blas::run_gemm(self.blas, self.stream, self.dtype, &p, a, c)
        }
    }
}

/// A copied to the host.
pub(super) struct Download<'a>(pub(super) &'a Arc<CudaStream>);

impl Map for Download<'_> {
    type Out = HostMatrix;
    fn f<T: Element>(
        self,
        a: &mut CudaSlice<T>,
        _: &mut CudaSlice<T::C>,
    ) -> Result<HostMatrix, Error> {
        let host = self.0.clone_dtoh(a).map_err(driver("copying A"))?;
        Ok(T::host(host))
    }
}

/// The rows to check: those below n, at most MAX_SAMPLE_ROWS, and their kernel argument.
pub(super) fn sample_rows(rows: &[usize], n: usize) -> (Vec<usize>, SampleRows) {
    let rows = crate::verify::usable_rows(rows, n);
    let mut sample = SampleRows::default();
    for (slot, &r) in sample.0.iter_mut().zip(&rows) {
        *slot = r as u32;
    }
    (rows, sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::MAX_SAMPLE_ROWS;

    #[test]
    fn sample_rows_drop_rows_past_n_and_keep_at_most_the_maximum() {
        let (rows, sample) = sample_rows(&[0, 5, 100, 2], 10);
        assert_eq!(rows, vec![0, 5, 2]);
        assert_eq!(&sample.0[..3], &[0, 5, 2]);
        assert!(sample.0[3..].iter().all(|&r| r == 0));
        let many: Vec<usize> = (0..MAX_SAMPLE_ROWS + 3).collect();
        let (rows, _) = sample_rows(&many, usize::MAX);
        assert_eq!(rows.len(), MAX_SAMPLE_ROWS);
    }
}
