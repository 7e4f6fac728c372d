//! Summary statistics of repeated timings.

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// The median of `values` (reordered in place): the middle one, or the mean of the two middle
/// ones; `None` when there are none. O(n) by selection, not a sort: the bootstrap calls it
/// thousands of times, and the checksums once per repetition over every row and column.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let len = values.len();
    if len == 0 {
        return None;
    }
    let (below, upper, _) = values.select_nth_unstable_by(len / 2, f64::total_cmp);
    let upper = *upper;
    Some(if len % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    })
}

/// Statistics of one timed phase over the measured repetitions (warm-up excluded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Median, the figure reported and compared.
    pub median_s: Second,
    /// Fastest repetition.
    pub min_s: Second,
    /// Slowest repetition.
    pub max_s: Second,
    /// Arithmetic mean.
    pub mean_s: Second,
    /// Sample standard deviation (n − 1); 0 for a single repetition.
    pub stddev_s: Second,
    /// Every repetition, in the order they ran.
    pub samples_s: Vec<Second>,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none or one is not finite.
    pub fn from_samples(samples: &[Second]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let median_s = median(&mut samples.to_vec())?;
        let len = samples.len();
        let mean_s = samples.iter().sum::<f64>() / len as f64;
        let stddev_s = if len > 1 {
            (samples.iter().map(|s| (s - mean_s).powi(2)).sum::<f64>() / (len - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Summary {
            median_s,
            min_s: samples.iter().copied().fold(f64::INFINITY, f64::min),
            max_s: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean_s,
            stddev_s,
            samples_s: samples.to_vec(),
        })
    }

    /// Relative standard deviation (stddev / mean), 0 when the mean is 0.
    pub fn relative_stddev(&self) -> f64 {
        if self.mean_s > 0.0 {
            self.stddev_s / self.mean_s
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_by_selection_match_the_middle_values() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut [7.0]), Some(7.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn odd_and_even_medians() {
        let s = Summary::from_samples(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (s.median_s, s.min_s, s.max_s, s.mean_s),
            (2.0, 1.0, 3.0, 2.0)
        );
        assert!((s.stddev_s - 1.0).abs() < 1e-12);
        assert_eq!(s.samples_s, vec![3.0, 1.0, 2.0]);
        let e = Summary::from_samples(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.median_s, 2.5);
    }

    #[test]
    fn single_sample_has_zero_spread_and_empty_is_none() {
        let s = Summary::from_samples(&[0.5]).unwrap();
        assert_eq!((s.median_s, s.stddev_s), (0.5, 0.0));
        assert!(Summary::from_samples(&[]).is_none());
        assert!(Summary::from_samples(&[1.0, f64::NAN]).is_none());
    }
}
