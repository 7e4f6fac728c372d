//! When the run loop stops measuring: after a fixed count, or, with `--reps auto`, once the
//! median matmul time is known well enough.
//!
//! The rule is a pure function, [`decide`], of the repetitions so far, the precision of their
//! median and the seconds spent measuring, so it is tested without a clock. With `--reps auto`
//! measuring stops, checked after every repetition, at the first of:
//!
//! 1. **converged**: at least [`MIN_AUTO_REPS`] repetitions and a relative standard error of
//!    the median of at most [`TARGET_MEDIAN_RSE`] (1%);
//! 2. **max_time**: the budget (`--max-time`) is spent and at least [`MIN_AUTO_REPS`]
//!    repetitions ran, or only one did (a single repetition longer than the budget is not
//!    repeated four more times);
//! 3. **max_reps**: [`MAX_REPS`] repetitions ran.
//!
//! The standard error of the median is the normal-theory estimate √(π/2)·s/√k
//! ([`MEDIAN_SE_FACTOR`] ≈ 1.2533, s the sample standard deviation, k the samples), not a
//! bootstrap: it is checked after every repetition, up to 100 000 of them, so it must stay
//! cheap, O(log k) per repetition (a running mean and variance, and a running median in two
//! heaps), where a bootstrap costs O(B·k) per check and needs a seeded random generator to
//! give the same answer twice. It is also the
//! cautious choice for timings: their outliers are slow ones, which inflate s more than they
//! move the median, so the estimate errs towards more repetitions, not fewer. Anyone can
//! recompute it from a record: `MEDIAN_SE_FACTOR · matmul.stddev_s / √config.reps /
//! matmul.median_s`.

use crate::model::Second;
use crate::model::reps::{
    MAX_DURATION_REPS, MAX_REPS, MIN_AUTO_REPS, Reps, RepsStop, TARGET_MEDIAN_RSE,
};
use crate::model::stats::Summary;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// √(π/2): the standard error of the median of k normal samples is √(π/2)·σ/√k for large k.
pub const MEDIAN_SE_FACTOR: f64 = 1.253_314_137_315_500_3;

/// The stopping rule, after `k` measured repetitions whose median has relative standard error
/// `median_rse` (`None` when it is not known: fewer than two samples, or a median of 0), with
/// `elapsed_s` seconds spent measuring. `None`: run another repetition.
pub fn decide(reps: Reps, k: u32, median_rse: Option<f64>, elapsed_s: Second) -> Option<RepsStop> {
    match reps {
        Reps::Fixed(count) => (k >= count).then_some(RepsStop::Count),
        Reps::Duration { seconds } => {
            if elapsed_s >= seconds {
                Some(RepsStop::Duration)
            } else if k >= MAX_DURATION_REPS {
                Some(RepsStop::MaxReps)
            } else {
                None
            }
        }
        Reps::Auto { max_time_s } => {
            if k >= MIN_AUTO_REPS && median_rse.is_some_and(|r| r <= TARGET_MEDIAN_RSE) {
                Some(RepsStop::Converged)
            } else if elapsed_s >= max_time_s && (k >= MIN_AUTO_REPS || k == 1) {
                Some(RepsStop::MaxTime)
            } else if k >= MAX_REPS {
                Some(RepsStop::MaxReps)
            } else {
                None
            }
        }
    }
}

/// [`decide`] over the samples themselves (what [`RunningMedian`] computes incrementally).
pub fn should_stop(reps: Reps, samples: &[Second], elapsed_s: Second) -> Option<RepsStop> {
    let k = u32::try_from(samples.len()).unwrap_or(u32::MAX);
    decide(reps, k, median_rel_std_error(samples), elapsed_s)
}

/// Relative standard error of the median of `samples`: √(π/2)·s/√k / median. `None` for fewer
/// than two samples, a median that is not above 0, or a sample that is not finite.
pub fn median_rel_std_error(samples: &[Second]) -> Option<f64> {
    let s = Summary::from_samples(samples)?;
    rel_std_error(samples.len(), s.stddev_s, s.median_s)
}

fn rel_std_error(k: usize, stddev: f64, median: f64) -> Option<f64> {
    let rse = MEDIAN_SE_FACTOR * stddev / (k as f64).sqrt() / median;
    (k >= 2 && median > 0.0 && rse.is_finite()).then_some(rse)
}

/// A sample ordered by [`f64::total_cmp`], so it can sit in a heap.
#[derive(Clone, Copy, Debug)]
struct Ordered(f64);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Median, mean and standard deviation of a growing series in O(log k) per sample: the lower
/// half in a max-heap, the upper half in a min-heap, and Welford's running mean and variance.
#[derive(Clone, Debug, Default)]
pub struct RunningMedian {
    lower: BinaryHeap<Ordered>,
    upper: BinaryHeap<Reverse<Ordered>>,
    mean: f64,
    m2: f64,
}

impl RunningMedian {
    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        match self.lower.peek() {
            Some(top) if x > top.0 => self.upper.push(Reverse(Ordered(x))),
            _ => self.lower.push(Ordered(x)),
        }
        // Keep `lower` equal to `upper` in size, or one larger.
        if self.lower.len() > self.upper.len() + 1 {
            if let Some(top) = self.lower.pop() {
                self.upper.push(Reverse(top));
            }
        } else if self.upper.len() > self.lower.len()
            && let Some(Reverse(bottom)) = self.upper.pop()
        {
            self.lower.push(bottom);
        }
        let k = self.len() as f64;
        let delta = x - self.mean;
        self.mean += delta / k;
        self.m2 += delta * (x - self.mean);
    }

    /// Samples so far.
    pub fn len(&self) -> u32 {
        u32::try_from(self.lower.len() + self.upper.len()).unwrap_or(u32::MAX)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    /// The median (the mean of the middle two for an even count), as [`Summary`]
    /// computes it.
    pub fn median(&self) -> Option<f64> {
        let low = self.lower.peek()?.0;
        match self.upper.peek() {
            Some(Reverse(high)) if self.lower.len() == self.upper.len() => {
                Some((low + high.0) / 2.0)
            }
            _ => Some(low),
        }
    }

    /// Sample standard deviation (n − 1); 0 for fewer than two samples.
    pub fn stddev(&self) -> f64 {
        let k = self.lower.len() + self.upper.len();
        if k > 1 {
            (self.m2 / (k - 1) as f64).max(0.0).sqrt()
        } else {
            0.0
        }
    }

    /// Relative standard error of the median, as [`median_rel_std_error`] defines it.
    pub fn rel_std_error(&self) -> Option<f64> {
        rel_std_error(
            self.lower.len() + self.upper.len(),
            self.stddev(),
            self.median()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO: Reps = Reps::Auto { max_time_s: 10.0 };

    /// Samples around 1.0 with the given relative spread, deterministic.
    fn noisy(k: usize, spread: f64) -> Vec<f64> {
        (0..k)
            .map(|i| 1.0 + spread * (((i * 7919) % 101) as f64 / 50.0 - 1.0))
            .collect()
    }

    #[test]
    fn fixed_count_stops_exactly_at_the_count() {
        let reps = Reps::Fixed(3);
        assert_eq!(decide(reps, 2, Some(0.0), 1e9), None);
        assert_eq!(decide(reps, 3, None, 0.0), Some(RepsStop::Count));
        assert_eq!(
            should_stop(reps, &[1.0, 5.0, 9.0], 0.0),
            Some(RepsStop::Count)
        );
    }

    #[test]
    fn steady_samples_converge_after_the_minimum() {
        let steady = [1.0; 5];
        assert_eq!(should_stop(AUTO, &steady[..4], 0.1), None, "fewer than 5");
        assert_eq!(should_stop(AUTO, &steady, 0.1), Some(RepsStop::Converged));
        // ±0.1% spread: the median's error is far below 1% from the fifth sample on.
        assert_eq!(
            should_stop(AUTO, &noisy(5, 0.001), 0.1),
            Some(RepsStop::Converged)
        );
    }

    #[test]
    fn noisy_samples_need_more_repetitions() {
        // ±20% spread: s ≈ 0.117, so 1.2533·s/√k ≤ 1% needs k ≥ ~215.
        let samples = noisy(400, 0.2);
        let first = (1..=samples.len())
            .find(|&k| should_stop(AUTO, &samples[..k], 0.0).is_some())
            .unwrap();
        assert!((150..=300).contains(&first), "{first}");
        let rse = median_rel_std_error(&samples[..first]).unwrap();
        assert!(rse <= TARGET_MEDIAN_RSE, "{rse}");
        let before = median_rel_std_error(&samples[..first - 1]).unwrap();
        assert!(before > TARGET_MEDIAN_RSE, "{before}");
    }

    #[test]
    fn the_budget_stops_a_noisy_run_but_not_before_five() {
        let samples = noisy(20, 0.5);
        for k in 2..5 {
            assert_eq!(should_stop(AUTO, &samples[..k], 11.0), None, "k = {k}");
        }
        assert_eq!(
            should_stop(AUTO, &samples[..5], 11.0),
            Some(RepsStop::MaxTime)
        );
        assert_eq!(
            should_stop(AUTO, &samples[..5], 10.0),
            Some(RepsStop::MaxTime)
        );
        assert_eq!(should_stop(AUTO, &samples[..5], 9.99), None);
    }

    #[test]
    fn a_first_repetition_longer_than_the_budget_is_the_only_one() {
        assert_eq!(should_stop(AUTO, &[12.0], 12.0), Some(RepsStop::MaxTime));
        assert_eq!(should_stop(AUTO, &[9.0], 9.0), None);
        assert_eq!(should_stop(AUTO, &[], 12.0), None, "nothing measured yet");
    }

    #[test]
    fn the_hard_cap_stops_a_run_that_never_converges() {
        assert_eq!(decide(AUTO, MAX_REPS - 1, Some(0.5), 1.0), None);
        assert_eq!(
            decide(AUTO, MAX_REPS, Some(0.5), 1.0),
            Some(RepsStop::MaxReps)
        );
        assert_eq!(decide(AUTO, MAX_REPS, None, 1.0), Some(RepsStop::MaxReps));
        // Convergence is the better news when both hold.
        assert_eq!(
            decide(AUTO, MAX_REPS, Some(0.001), 20.0),
            Some(RepsStop::Converged)
        );
    }

    #[test]
    fn unknown_precision_never_counts_as_converged() {
        assert_eq!(median_rel_std_error(&[1.0]), None);
        assert_eq!(median_rel_std_error(&[0.0; 8]), None, "median 0");
        assert_eq!(median_rel_std_error(&[1.0, f64::NAN, 1.0]), None);
        assert_eq!(should_stop(AUTO, &[0.0; 8], 1.0), None);
    }

    #[test]
    fn the_formula_is_root_half_pi_s_over_root_k_over_the_median() {
        let samples = [1.0, 2.0, 3.0, 4.0];
        let s = (5.0f64 / 3.0).sqrt();
        let want = MEDIAN_SE_FACTOR * s / 2.0 / 2.5;
        let got = median_rel_std_error(&samples).unwrap();
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        assert!((MEDIAN_SE_FACTOR - (std::f64::consts::PI / 2.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn running_median_agrees_with_the_summary_at_every_step() {
        let samples: Vec<f64> = noisy(300, 0.3)
            .into_iter()
            .enumerate()
            .map(|(i, x)| if i % 37 == 0 { x * 4.0 } else { x })
            .collect();
        let mut running = RunningMedian::default();
        assert!(running.is_empty() && running.median().is_none());
        for k in 1..=samples.len() {
            running.push(samples[k - 1]);
            let s = Summary::from_samples(&samples[..k]).unwrap();
            assert_eq!(running.len() as usize, k);
            assert_eq!(running.median(), Some(s.median_s), "k = {k}");
            assert!((running.stddev() - s.stddev_s).abs() <= 1e-12 * s.mean_s);
            match (running.rel_std_error(), median_rel_std_error(&samples[..k])) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12 * b, "k = {k}"),
                (a, b) => assert_eq!(a, b, "k = {k}"),
            }
        }
    }

    #[test]
    fn stop_names_are_the_record_words() {
        for stop in [
            RepsStop::Count,
            RepsStop::Converged,
            RepsStop::MaxTime,
            RepsStop::MaxReps,
        ] {
            let json = serde_json::to_string(&stop).unwrap();
            assert_eq!(json, format!("\"{}\"", stop.name()));
        }
    }
}
