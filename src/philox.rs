//! Philox4x32-10, the counter-based generator behind every input matrix.
//!
//! Written by hand rather than taken from a crate because it must match, bit for bit, the
//! kernel in `kernels/matbench.cu`: element `e` of A is a pure function of `(seed, e)`, so the
//! CPU and the GPU fill the same matrix independently, in parallel, in any order. The round
//! function and constants are Random123's (Salmon et al., SC'11) and are checked against its
//! published known-answer vectors below.
//!
//! Layout: one Philox call with counter `(block, 0)` (64-bit block index split lo/hi) and key
//! `seed` (lo/hi) yields four 32-bit words. For f32, block `b` gives elements `4b..4b+4`, each
//! `(word >> 8) · 2⁻²⁴`; for f64, block `b` gives elements `2b, 2b+1`, each from two words as
//! `((w_hi << 21) | (w_lo >> 11)) · 2⁻⁵³`. Both map to `[0, 1)` exactly.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// One Philox4x32 evaluation with 10 rounds.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = counter;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c0);
        let p1 = u64::from(M1) * u64::from(c2);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
    }
    [c0, c1, c2, c3]
}

/// The four words of block `block` for `seed`.
pub fn block(seed: u64, block: u64) -> [u32; 4] {
    philox4x32_10(
        [block as u32, (block >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

fn unit_f32(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

fn unit_f64(hi: u32, lo: u32) -> f64 {
    let bits = (u64::from(hi) << 21) | u64::from(lo >> 11);
    bits as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// The Philox stream of one seed as a Rust RNG (`rand_core`'s `Rng` through `TryRng`, and
/// `SeedableRng`), so it plugs into the Rust RNG ecosystem: word `i` it yields is word `i % 4`
/// of [`block`]`(seed, i / 4)`, the very words the matrix elements are made from. The float
/// conversion of the elements stays ours ([`Uniform`]), to match the GPU bit for bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhiloxRng {
    seed: u64,
    /// Index of the next word in the stream.
    next: u64,
}

impl PhiloxRng {
    /// The stream of `seed`, from its first word.
    pub fn new(seed: u64) -> PhiloxRng {
        PhiloxRng { seed, next: 0 }
    }

    fn word(&mut self) -> u32 {
        let w = block(self.seed, self.next / 4)[(self.next % 4) as usize];
        self.next = self.next.wrapping_add(1);
        w
    }
}

impl rand_core::TryRng for PhiloxRng {
    type Error = rand_core::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.word())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let lo = u64::from(self.word());
        Ok(lo | (u64::from(self.word()) << 32))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let bytes = self.word().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::SeedableRng for PhiloxRng {
    /// The 64-bit Philox key, little-endian.
    type Seed = [u8; 8];

    fn from_seed(seed: Self::Seed) -> PhiloxRng {
        PhiloxRng::new(u64::from_le_bytes(seed))
    }
}

/// Seeds are drawn below 2⁵³ so that every JSON reader (jq, JavaScript, any parser that holds
/// numbers as f64) reads a recorded seed back exactly, and any run can be repeated from its
/// record.
pub const SEED_LIMIT: u64 = 1 << 53;

/// A fresh seed below [`SEED_LIMIT`], from the operating system's random source through `rand`.
pub fn fresh_seed() -> Result<u64, String> {
    use rand_core::TryRng;
    rand::rngs::SysRng
        .try_next_u64()
        .map(|x| x >> 11)
        .map_err(|e| e.to_string())
}

/// An element type the generator can produce.
pub trait Uniform: Copy + Send + Sync + 'static {
    /// Elements one Philox call yields.
    const PER_BLOCK: usize;

    /// Element `index` of the stream for `seed`, in `[0, 1)`.
    fn uniform_at(seed: u64, index: u64) -> Self;

    /// Fills `out` with elements `first, first + 1, …`. `first` must be a multiple of
    /// [`Self::PER_BLOCK`]; the fast path computes each block once.
    fn fill(seed: u64, first: u64, out: &mut [Self]);
}

impl Uniform for f32 {
    const PER_BLOCK: usize = 4;

    fn uniform_at(seed: u64, index: u64) -> f32 {
        unit_f32(block(seed, index / 4)[(index % 4) as usize])
    }

    fn fill(seed: u64, first: u64, out: &mut [f32]) {
        debug_assert_eq!(first % 4, 0);
        for (b, chunk) in out.chunks_mut(4).enumerate() {
            let words = block(seed, first / 4 + b as u64);
            for (dst, word) in chunk.iter_mut().zip(words) {
                *dst = unit_f32(word);
            }
        }
    }
}

impl Uniform for f64 {
    const PER_BLOCK: usize = 2;

    fn uniform_at(seed: u64, index: u64) -> f64 {
        let w = block(seed, index / 2);
        if index.is_multiple_of(2) {
            unit_f64(w[0], w[1])
        } else {
            unit_f64(w[2], w[3])
        }
    }

    fn fill(seed: u64, first: u64, out: &mut [f64]) {
        debug_assert_eq!(first % 2, 0);
        for (b, chunk) in out.chunks_mut(2).enumerate() {
            let w = block(seed, first / 2 + b as u64);
            chunk[0] = unit_f64(w[0], w[1]);
            if let Some(second) = chunk.get_mut(1) {
                *second = unit_f64(w[2], w[3]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rng_yields_the_matrix_words_and_seeds_like_a_rust_rng() {
        use rand_core::{Rng, SeedableRng};
        let mut rng = PhiloxRng::new(42);
        let words: Vec<u32> = (0..8).map(|_| rng.next_u32()).collect();
        let want: Vec<u32> = block(42, 0).into_iter().chain(block(42, 1)).collect();
        assert_eq!(words, want);
        // f32 element i of A is the float of stream word i.
        let mut rng = PhiloxRng::from_seed(7u64.to_le_bytes());
        for i in 0..9 {
            assert_eq!(unit_f32(rng.next_u32()), f32::uniform_at(7, i));
        }
        let mut a = PhiloxRng::seed_from_u64(3);
        let mut b = a.clone();
        let mut bytes = [0u8; 6];
        a.fill_bytes(&mut bytes);
        let first = b.next_u32().to_le_bytes();
        assert_eq!(&bytes[..4], &first);
    }

    #[test]
    fn fresh_seeds_are_below_2_to_the_53_and_differ() {
        let seeds: Vec<u64> = (0..64).map(|_| fresh_seed().unwrap()).collect();
        assert!(seeds.iter().all(|&s| s < SEED_LIMIT));
        assert!(seeds.windows(2).any(|w| w[0] != w[1]));
    }

    /// Random123's `kat_vectors` for philox4x32 with 10 rounds.
    #[test]
    fn random123_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn fill_matches_uniform_at_including_odd_tails() {
        for len in [1usize, 3, 5, 8, 13] {
            let mut a = vec![0f32; len];
            f32::fill(7, 8, &mut a);
            for (i, v) in a.iter().enumerate() {
                assert_eq!(v.to_bits(), f32::uniform_at(7, 8 + i as u64).to_bits());
            }
            let mut b = vec![0f64; len];
            f64::fill(7, 4, &mut b);
            for (i, v) in b.iter().enumerate() {
                assert_eq!(v.to_bits(), f64::uniform_at(7, 4 + i as u64).to_bits());
            }
        }
    }

    #[test]
    fn values_are_uniform_in_unit_interval_and_depend_on_seed() {
        let mut a = vec![0f32; 100_000];
        f32::fill(1, 0, &mut a);
        assert!(a.iter().all(|&v| (0.0..1.0).contains(&v)));
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let mut b = vec![0f32; 100_000];
        f32::fill(2, 0, &mut b);
        assert_ne!(a, b);
        let mut d = vec![0f64; 100_000];
        f64::fill(1, 0, &mut d);
        assert!(d.iter().all(|&v| (0.0..1.0).contains(&v)));
        let var = d.iter().map(|v| (v - 0.5).powi(2)).sum::<f64>() / d.len() as f64;
        assert!((var - 1.0 / 12.0).abs() < 0.002, "variance {var}");
    }

    #[test]
    fn f32_elements_come_from_block_words() {
        let w = block(42, 3);
        assert_eq!(f32::uniform_at(42, 13), (w[1] >> 8) as f32 / 16_777_216.0);
    }
}
