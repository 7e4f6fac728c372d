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
    CudaFunction, CudaSlice, CudaStream, CudaViewMut, DeviceRepr, LaunchConfig, PushKernelArg,
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

/// The column sums of `a` (n×n) into `out` (n doubles): row-chunk partials, then their
/// fixed-order finish.
fn launch_colsums<T>(
    stream: &Arc<CudaStream>,
    (colsum_fn, finish_fn): (&CudaFunction, &CudaFunction),
    a: &CudaSlice<T>,
    n: u32,
    (chunks, rows_per_chunk): (u32, u32),
    col_partial: &mut CudaSlice<f64>,
    out: &mut CudaViewMut<'_, f64>,
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
    let mut b = stream.launch_builder(finish_fn);
    b.arg(&*col_partial).arg(&n).arg(&chunks).arg(out);
    // SAFETY: reads chunks·n partials, writes n sums into `out` (n long); the kernel's block
    // shape is 32×8, as launched.
    unsafe { b.launch(finish_grid(n, 1)) }
        .map(|_| ())
        .map_err(driver("launching the column sums"))
}

/// `colsum_finish` and `linesum_finish`: 32 columns × 8 groups of chunks per block, `parts`
/// sets of sums along y.
fn finish_grid(n: u32, parts: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(32), parts, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches the column sums of `a` into `checks[..n]` and the sampled-row check of `c` against
/// `a` into `checks[n..]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn launch_verify<T, TC>(
    stream: &Arc<CudaStream>,
    (colsum_fn, finish_fn, rowcheck_fn): (&CudaFunction, &CudaFunction, &CudaFunction),
    a: &CudaSlice<T>,
    c: &CudaSlice<TC>,
    n: u32,
    chunks: (u32, u32),
    col_partial: &mut CudaSlice<f64>,
    rows: SampleRows,
    nrows: u32,
    upper: u32,
    checks: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let (mut colsum, mut rowchecks) = checks.split_at_mut(n as usize);
    let fns = (colsum_fn, finish_fn);
    launch_colsums(stream, fns, a, n, chunks, col_partial, &mut colsum)?;
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

/// Threads of a line-sum block (the kernel's `LINE_THREADS`), each owning 16 bytes of columns.
pub const LINE_THREADS: u32 = 128;
/// Rows of C one line-sum block takes (the kernel's `LINE_TILE_ROWS`).
pub const LINE_TILE_ROWS: u32 = 128;

/// The line sums' geometry for an n×n C of `elem_byte`-byte elements: `(tile columns, tile
/// rows)` of the grid, each tile `LINE_TILE_ROWS` rows by `LINE_THREADS · 16 / elem_byte`
/// columns.
pub fn line_tiles(n: u32, elem_byte: u32) -> (u32, u32) {
    let cols = LINE_THREADS * (16 / elem_byte.clamp(1, 16));
    (n.div_ceil(cols).max(1), n.div_ceil(LINE_TILE_ROWS).max(1))
}

/// `(row chunks, column chunks)`: how many partials each row sum (one per tile column and
/// warp) and each column sum (one per tile row) has.
pub fn line_chunks(n: u32, elem_byte: u32) -> (u32, u32) {
    let (tile_cols, tile_rows) = line_tiles(n, elem_byte);
    (tile_cols * (LINE_THREADS / 32), tile_rows)
}

/// f64 partials the line sums need.
pub fn line_partials(n: u32, elem_byte: u32) -> usize {
    let (row_chunks, col_chunks) = line_chunks(n, elem_byte);
    (row_chunks as usize + col_chunks as usize) * n as usize
}

/// Every row sum of `c` into `lines[..n]` and every column sum into `lines[n..2n]`, in f64:
/// one pass over C into `part` ([`line_partials`] long), then the fixed-order finish.
pub(super) fn launch_line_sums<T>(
    stream: &Arc<CudaStream>,
    (partial_fn, finish_fn): (&CudaFunction, &CudaFunction),
    c: &CudaSlice<T>,
    n: u32,
    part: &mut CudaSlice<f64>,
    lines: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let elem_byte = std::mem::size_of::<T>() as u32;
    let (tile_cols, tile_rows) = line_tiles(n, elem_byte);
    let (row_chunks, col_chunks) = line_chunks(n, elem_byte);
    let (mut row_part, mut col_part) = part.split_at_mut(row_chunks as usize * n as usize);
    let mut b = stream.launch_builder(partial_fn);
    b.arg(c).arg(&n).arg(&mut row_part).arg(&mut col_part);
    let cfg = LaunchConfig {
        grid_dim: (tile_cols, tile_rows, 1),
        block_dim: (LINE_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: block (x, y) reads C's rows [128y, 128y+128) at the columns its threads own,
    // [(128x + t)·V, +V) with V = 16/size_of::<T>(), clipped to n; it writes
    // row_part[(4x + warp)·n + r] (row_chunks·n long) and col_part[y·n + j] (the rest of
    // `part`, col_chunks·n long); the kernel's block is LINE_THREADS threads, as launched.
    unsafe { b.launch(cfg) }.map_err(driver("launching the line sums"))?;
    let mut b = stream.launch_builder(finish_fn);
    b.arg(&mut row_part)
        .arg(&row_chunks)
        .arg(&mut col_part)
        .arg(&col_chunks)
        .arg(&n)
        .arg(lines);
    // SAFETY: reads the partials written above, writes 2n doubles of `lines` (2n long).
    unsafe { b.launch(finish_grid(n, 2)) }
        .map(|_| ())
        .map_err(driver("launching the line sums"))
}

/// The exact reference of every line sum, A·(column sums of A), into `lines[..n]`, with the
/// column sums themselves left in `lines[n..2n]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn launch_line_reference<T>(
    stream: &Arc<CudaStream>,
    (colsum_fn, finish_fn, lineref_fn): (&CudaFunction, &CudaFunction, &CudaFunction),
    a: &CudaSlice<T>,
    n: u32,
    chunks: (u32, u32),
    col_partial: &mut CudaSlice<f64>,
    lines: &mut CudaSlice<f64>,
) -> Result<(), Error> {
    let (mut reference, mut colsum) = lines.split_at_mut(n as usize);
    launch_colsums(
        stream,
        (colsum_fn, finish_fn),
        a,
        n,
        chunks,
        col_partial,
        &mut colsum,
    )?;
    let mut b = stream.launch_builder(lineref_fn);
    b.arg(a).arg(&n).arg(&mut colsum).arg(&mut reference);
    let cfg = LaunchConfig {
        grid_dim: (n.div_ceil(8), 1, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: one warp per row r < n reads row r of `a` and the n column sums, writes
    // reference[r] (n long); the kernel's block shape is 32×8, as launched.
    unsafe { b.launch(cfg) }
        .map(|_| ())
        .map_err(driver("launching the line reference"))
}

/// The test-only fault: the block of `rows`×`cols` elements of `c` from (row, col) zeroed, or
/// doubled (`twice`). The caller clips the block to C.
#[allow(clippy::too_many_arguments)]
pub(super) fn launch_inject<T>(
    stream: &Arc<CudaStream>,
    inject_fn: &CudaFunction,
    c: &mut CudaSlice<T>,
    n: u32,
    (row, col): (u32, u32),
    (rows, cols): (u32, u32),
    twice: bool,
) -> Result<(), Error> {
    let twice = u32::from(twice);
    let mut b = stream.launch_builder(inject_fn);
    b.arg(c)
        .arg(&n)
        .arg(&row)
        .arg(&col)
        .arg(&rows)
        .arg(&cols)
        .arg(&twice);
    // SAFETY: writes C[row + t / cols, col + t % cols] for t < rows·cols, inside C because the
    // caller clipped row + rows and col + cols to n.
    unsafe { b.launch(grid((rows * cols).div_ceil(BLOCK).max(1), BLOCK)) }
        .map(|_| ())
        .map_err(driver("launching the injected fault"))
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

    #[test]
    fn line_tiles_cover_c_and_size_the_partials() {
        assert_eq!(line_tiles(1, 4), (1, 1));
        // f32: 512 columns a tile; bf16: 1024; f64: 256
        assert_eq!(line_tiles(512, 4), (1, 4));
        assert_eq!(line_tiles(513, 4), (2, 5));
        assert_eq!(line_tiles(10_000, 2), (10, 79));
        assert_eq!(line_tiles(10_000, 8), (40, 79));
        assert_eq!(line_chunks(10_000, 2), (40, 79));
        assert_eq!(line_partials(10_000, 2), 119 * 10_000);
        for eb in [2u32, 4, 8] {
            let width = LINE_THREADS * 16 / eb;
            for n in [1u32, 127, 128, 129, 4096, 65_537] {
                let (tc, tr) = line_tiles(n, eb);
                assert!(tc * width >= n && (tc - 1) * width < n, "n={n}");
                assert!(
                    tr * LINE_TILE_ROWS >= n && (tr - 1) * LINE_TILE_ROWS < n,
                    "n={n}"
                );
            }
        }
    }
}
