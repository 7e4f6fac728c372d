//! Launches of the kernels in `kernels/matbench.cu`, and their geometry.
//!
//! The geometry (block counts, column chunking) is kept in pure functions so it is unit-tested
//! without a GPU; the launches are generic over the storage type, since the typed kernels take
//! the same arguments whatever A and C hold. Each launch is one `unsafe` block at the FFI
//! edge, its `// SAFETY:` line saying which sizes make the kernel's accesses stay in bounds.

use super::driver;
use crate::error::Error;
use crate::verify::MAX_SAMPLE_ROWS;
use cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
};
use std::sync::Arc;

/// Threads per block for every kernel (a multiple of 32, as `block_sum` needs).
pub const BLOCK: u32 = 256;
/// Threads of the single block that adds partial sums.
pub const FINISH_BLOCK: u32 = 1024;
/// Resident blocks per multiprocessor aimed at by grid-stride kernels.
pub const BLOCKS_PER_SM: u32 = 8;
/// Columns of C one `rowcheck` block handles (the kernel's `ROWCHECK_J`).
pub const ROWCHECK_J: u32 = 8;
/// Row chunks for the column-sum kernel.
pub const COLSUM_MAX_CHUNKS: u32 = 128;

/// Grid size for a grid-stride loop over `items` work items: enough blocks to fill the GPU,
/// never more than the items need, at least one.
pub fn grid_stride_blocks(items: u64, multiprocessors: u32) -> u32 {
    let wanted = items.div_ceil(u64::from(BLOCK)).max(1);
    let cap = u64::from(multiprocessors.max(1) * BLOCKS_PER_SM);
    wanted.min(cap) as u32
}

/// Row chunking for the column sums of an n×n matrix: `(chunks, rows_per_chunk)` with
/// `chunks · rows_per_chunk ≥ n` and no empty chunk.
pub fn colsum_chunks(n: u32) -> (u32, u32) {
    let chunks = n.clamp(1, COLSUM_MAX_CHUNKS);
    let rows = n.div_ceil(chunks).max(1);
    (n.div_ceil(rows).max(1), rows)
}

/// A one-dimensional launch of `blocks` blocks of `threads` threads.
pub(super) fn grid(blocks: u32, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches one Philox fill of `a` (len elements).
pub(super) fn launch_generate<T>(
    stream: &Arc<CudaStream>,
    f: &CudaFunction,
    a: &mut CudaSlice<T>,
    len: u64,
    seed: u64,
    per_block: u64,
    sms: u32,
) -> Result<(), Error> {
    let cfg = grid(grid_stride_blocks(len.div_ceil(per_block), sms), BLOCK);
    let mut b = stream.launch_builder(f);
    b.arg(a).arg(&len).arg(&seed);
    // SAFETY: the kernel writes exactly `len` elements of `a`, which holds n·n = len elements;
    // argument types match the kernel signature (T*, u64, u64).
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(driver("launching the generator"))
}

/// `--op syrk`: s = 2·(strict upper triangle) + diagonal, one partial per row, then the fixed-order finish.
pub(super) fn launch_reduce_upper<T>(
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
pub(super) fn launch_finish(
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
pub(super) fn launch_reduce<T>(
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
pub(super) struct SampleRows(pub(super) [u32; MAX_SAMPLE_ROWS]);

// SAFETY: a plain array of u32, laid out as the kernels' `struct SampleRows { u32 r[MAX_SAMPLE_ROWS]; }`.
unsafe impl DeviceRepr for SampleRows {}

/// Launches the column sums of `a` into `checks[..n]` and the sampled-row check of `c` against
/// `a` into `checks[n..]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn launch_verify<T>(
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
    unsafe { b.launch(grid(n.div_ceil(ROWCHECK_J), BLOCK)) }
        .map(|_| ())
        .map_err(driver("launching the row checks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_stride_is_bounded_both_ways() {
        assert_eq!(grid_stride_blocks(0, 132), 1);
        assert_eq!(grid_stride_blocks(1, 132), 1);
        assert_eq!(grid_stride_blocks(257, 132), 2);
        assert_eq!(grid_stride_blocks(100_000_000, 132), 132 * BLOCKS_PER_SM);
    }

    #[test]
    fn colsum_chunks_cover_all_rows_without_empty_chunks() {
        for n in [1u32, 2, 127, 128, 129, 1000, 10_000, 65_537] {
            let (chunks, rows) = colsum_chunks(n);
            assert!(chunks * rows >= n, "n={n}");
            assert!((chunks - 1) * rows < n, "n={n}: last chunk empty");
            assert!(chunks <= COLSUM_MAX_CHUNKS);
        }
    }
}
