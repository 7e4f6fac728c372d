//! A deterministic bootstrap of the ratio of two medians.
//!
//! Determinism matters more than speed here: the same two results files must always give the
//! same interval, or a CI job could pass on a rerun. The random numbers come from the crate's
//! own counter-based [`crate::philox`] generator with a fixed key, restarted for every
//! comparison, so one comparison's interval does not depend on which others are in the report.
//!
//! Each side's samples are pooled over its runs and resampled as one set, as the
//! repetitions of one run would be. The interval therefore measures the noise between
//! repetitions; a shift of a whole run (a busy machine, a clock change between runs) is not
//! modelled, which is why several runs per side, interleaved between baseline and candidate,
//! make a comparison more trustworthy. (Resampling runs first was tried: with the 2 or 3 runs a
//! CI job records, half or one in nine of the replicates then hold a single run repeated, the
//! interval spans the most extreme run medians, and an 80% slowdown on a 2-core machine, with
//! one of three runs disturbed, came out "unclear".)

use crate::model::Second;
use crate::philox;
use serde::Serialize;

/// What the bootstrap interval says about the candidate against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Interval entirely below 1 − t: the candidate is faster.
    Faster,
    /// Interval entirely above 1 + t: the candidate is slower (a regression).
    Slower,
    /// Interval entirely inside [1 − t, 1 + t]: no change larger than the threshold.
    Same,
    /// Anything else: the samples cannot tell.
    Unclear,
}

impl Verdict {
    /// The rule, for an interval [low, high] of the ratio candidate/baseline and a threshold
    /// `t` (a fraction, 0.05 for 5%). A NaN bound gives `Unclear`.
    pub fn decide(low: f64, high: f64, t: f64) -> Verdict {
        if low > 1.0 + t {
            Verdict::Slower
        } else if high < 1.0 - t {
            Verdict::Faster
        } else if low >= 1.0 - t && high <= 1.0 + t {
            Verdict::Same
        } else {
            Verdict::Unclear
        }
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::Same => "same",
            Verdict::Unclear => "unclear",
        }
    }
}

/// Fixed key of the generator ("matbench" in ASCII).
pub const SEED: u64 = 0x6d61_7462_656e_6368;

/// The default threshold of `compare` (`--threshold`), and the margin `--algo search` needs
/// before it prefers another algorithm to the default path: changes smaller than this many
/// percent count as "same".
pub const DEFAULT_THRESHOLD_PERCENT: f64 = 5.0;

/// Resamples drawn per comparison.
pub const RESAMPLES: usize = 2000;

/// Two-sided confidence of the interval, in percent.
pub const CONFIDENCE_PERCENT: f64 = 95.0;

/// Uniform draws from Philox4x32-10 with key [`SEED`], counter 0, 1, 2, …
struct Draws {
    block: u64,
    words: [u32; 4],
    next: usize,
}

impl Draws {
    fn new() -> Draws {
        Draws {
            block: 0,
            words: [0; 4],
            next: 4,
        }
    }

    fn next_u32(&mut self) -> u32 {
        if self.next == 4 {
            self.words = philox::block(SEED, self.block);
            self.block = self.block.wrapping_add(1);
            self.next = 0;
        }
        let word = self.words[self.next];
        self.next += 1;
        word
    }

    /// A uniform index in `0..len` (`len` > 0), by a 64×64→128-bit multiply: the bias is below
    /// len/2⁶⁴, far under anything a bootstrap can see.
    fn below(&mut self, len: usize) -> usize {
        let x = (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32());
        ((u128::from(x) * len as u128) >> 64) as usize
    }
}

/// The `q` quantile (0 ≤ q ≤ 1) of sorted values, interpolating linearly between order
/// statistics (R's type 7). NaN for no values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        len => {
            let h = (len - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = (h.floor() as usize).min(len - 2);
            sorted[lo] + (h - lo as f64) * (sorted[lo + 1] - sorted[lo])
        }
    }
}

/// One bootstrap replicate of a median: as many samples as there are, drawn with replacement.
fn resampled_median(samples: &[Second], draws: &mut Draws, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend((0..samples.len()).map(|_| samples[draws.below(samples.len())]));
    crate::model::stats::median(scratch).unwrap_or(f64::NAN)
}

/// The bootstrap interval of median(candidate) / median(baseline), at
/// [`CONFIDENCE_PERCENT`], from [`RESAMPLES`] replicates of each side's (pooled) samples.
/// `(NaN, NaN)` when a side has no samples.
pub fn ratio_interval(baseline: &[Second], candidate: &[Second]) -> (f64, f64) {
    if baseline.is_empty() || candidate.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut draws = Draws::new();
    let mut scratch = Vec::with_capacity(baseline.len().max(candidate.len()));
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let b = resampled_median(baseline, &mut draws, &mut scratch);
            let c = resampled_median(candidate, &mut draws, &mut scratch);
            c / b
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE_PERCENT / 100.0) / 2.0;
    (quantile(&ratios, tail), quantile(&ratios, 1.0 - tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&v, 0.125), 1.5);
        assert_eq!(quantile(&[9.0], 0.3), 9.0);
    }

    #[test]
    fn draws_cover_the_range_evenly() {
        let mut d = Draws::new();
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[d.below(5)] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn interval_is_deterministic_and_brackets_a_clear_shift() {
        let base: Vec<f64> = (0..10).map(|i| 1.0 + 0.01 * f64::from(i)).collect();
        let cand: Vec<f64> = base.iter().map(|s| s * 2.0).collect();
        let first = ratio_interval(&base, &cand);
        assert_eq!(first, ratio_interval(&base, &cand));
        assert!(first.0 > 1.8 && first.1 < 2.2, "{first:?}");
        let same = ratio_interval(&base, &base);
        assert!(same.0 < 1.0 && same.1 > 1.0, "{same:?}");
        let constant = ratio_interval(&[2.0, 2.0], &[3.0]);
        assert_eq!(constant, (1.5, 1.5));
    }

    #[test]
    fn empty_sides_give_no_interval_and_no_panic() {
        assert!(ratio_interval(&[], &[1.0]).0.is_nan());
        assert!(ratio_interval(&[1.0], &[]).1.is_nan());
    }
}
