//! Launch geometry for the kernels in `kernels/matbench.cu`, kept pure for unit tests.

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
