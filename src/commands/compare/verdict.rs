//! The comparison itself, as one serde struct: what `--format json` prints, and what the text
//! and Markdown renderers read. Units are in the field names (`_s` seconds, `_percent`,
//! `_tflop_per_s` 10¹² FLOP/s).

use super::bootstrap::{self, CONFIDENCE_PERCENT, RESAMPLES};
use super::pool::{BenchKey, Pool};
use crate::model::Second;
use crate::model::stats::Summary;
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::model::bootstrap::Verdict;

/// One side's pooled runs of one benchmark.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// Runs pooled.
    pub runs: usize,
    /// Matmul repetitions over all those runs.
    pub samples: usize,
    /// Median matmul time over all samples.
    pub median_s: Second,
    /// Fastest sample.
    pub min_s: Second,
    /// Slowest sample.
    pub max_s: Second,
    /// Sample standard deviation (n − 1) over all samples.
    pub stddev_s: Second,
    /// The FLOP of the key's op / median, in 10¹² FLOP/s.
    pub tflop_per_s: f64,
    /// Distinct setups of the runs (`faer, 2 threads`; `cuBLAS 13.1.0, driver 580.159.04`).
    pub setups: Vec<String>,
    /// Distinct host names of the runs.
    pub hosts: Vec<String>,
    /// The results files.
    pub files: Vec<String>,
}

impl Side {
    /// Summarises a pool; `None` only if it holds no sample (which [`super::pool::group`]
    /// prevents).
    pub fn of(pool: &Pool) -> Option<Side> {
        let s = Summary::from_samples(&pool.samples_s())?;
        Some(Side {
            runs: pool.runs.len(),
            samples: pool.sample_count(),
            median_s: s.median_s,
            min_s: s.min_s,
            max_s: s.max_s,
            stddev_s: s.stddev_s,
            tflop_per_s: pool.key.flop_per_matmul() / s.median_s / 1e12,
            setups: pool.setups(),
            hosts: pool.hosts(),
            files: pool
                .runs
                .iter()
                .map(|r| r.path.display().to_string())
                .collect(),
        })
    }
}

/// A benchmark found on both sides.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// `cuda NVIDIA H200 f32 n=10000`.
    pub name: String,
    /// Backend, device, dtype, op and n.
    #[serde(flatten)]
    pub key: BenchKey,
    /// The baseline's runs.
    pub baseline: Side,
    /// The candidate's runs.
    pub candidate: Side,
    /// Median candidate / median baseline (above 1: the candidate is slower).
    pub ratio: f64,
    /// (ratio − 1) · 100: change of the median time, in percent (positive: slower).
    pub change_percent: f64,
    /// Lower bound of the bootstrap interval of the ratio.
    pub ratio_low: f64,
    /// Upper bound of the bootstrap interval of the ratio.
    pub ratio_high: f64,
    /// The verdict from the interval and the threshold.
    pub verdict: Verdict,
    /// What a reader should know: differing setups or hosts, failed verifications.
    pub notes: Vec<String>,
}

/// A benchmark found on one side only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unmatched {
    /// `cuda NVIDIA H200 f32 n=10000`.
    pub name: String,
    /// Backend, device, dtype, op and n.
    #[serde(flatten)]
    pub key: BenchKey,
    /// Its runs.
    pub runs: Side,
}

/// A run whose answer failed verification: listed, never pooled or given a verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailedRun {
    /// `baseline` or `candidate`.
    pub side: String,
    /// Its benchmark, `cuda NVIDIA H200 f32 n=10000`.
    pub name: String,
    /// The results file.
    pub file: String,
    /// The record's verification line (PASS/FAIL with the errors).
    pub verification: String,
}

/// How many benchmarks got each verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Verdict "faster".
    pub faster: usize,
    /// Verdict "slower".
    pub slower: usize,
    /// Verdict "same".
    pub same: usize,
    /// Verdict "unclear".
    pub unclear: usize,
    /// Benchmarks only the baseline has.
    pub only_in_baseline: usize,
    /// Benchmarks only the candidate has.
    pub only_in_candidate: usize,
    /// Runs that failed verification (on either side).
    pub failed_verification: usize,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The baseline path as given.
    pub baseline: String,
    /// The candidate path as given.
    pub candidate: String,
    /// t, in percent: changes of the median within ±t count as "same".
    pub threshold_percent: f64,
    /// Two-sided confidence of the bootstrap interval, in percent.
    pub confidence_percent: f64,
    /// Bootstrap resamples per comparison.
    pub resamples: usize,
    /// Seed of the bootstrap's fixed generator (the same inputs always give the same report).
    pub bootstrap_seed: u64,
    /// Whether "unclear" fails the comparison (`--fail-on-unclear`).
    pub fail_on_unclear: bool,
    /// The process's exit code: 0 no regression, 1 regression, 8 a run failed verification.
    pub exit_code: u8,
    /// The rule, in words.
    pub rule: String,
    /// Verdict counts.
    pub counts: Counts,
    /// Benchmarks on both sides, ordered by backend, device, dtype, n.
    pub comparisons: Vec<Comparison>,
    /// Benchmarks only the baseline has.
    pub only_in_baseline: Vec<Unmatched>,
    /// Benchmarks only the candidate has.
    pub only_in_candidate: Vec<Unmatched>,
    /// Runs that failed verification: never pooled, never a verdict.
    pub failed_verification: Vec<FailedRun>,
}

impl Report {
    /// How the process ends: a failed verification first, then a regression.
    pub fn exit(&self) -> crate::error::Exit {
        use crate::error::Exit;
        if self.counts.failed_verification > 0 {
            Exit::RecordFailedVerification
        } else if self.counts.slower > 0 || (self.fail_on_unclear && self.counts.unclear > 0) {
            Exit::Regression
        } else {
            Exit::Success
        }
    }
}

/// The rule, as the report footers and the JSON state it.
pub fn rule_text(threshold_percent: f64) -> String {
    format!(
        "verdict from the {CONFIDENCE_PERCENT:.0}% bootstrap interval ({RESAMPLES} resamples, \
         fixed seed; each side's samples pooled over its runs) of the ratio of median matmul \
         times, candidate/baseline, with t = {threshold_percent}%: slower if the interval lies \
         entirely above 1+t, faster if entirely below 1-t, same if entirely inside [1-t, 1+t], \
         unclear otherwise"
    )
}

fn list(items: &[String]) -> String {
    items.join("; ")
}

fn notes(baseline: &Side, candidate: &Side) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, side) in [("baseline", baseline), ("candidate", candidate)] {
        if side.setups.len() > 1 {
            notes.push(format!(
                "{name} pools runs of different setups ({})",
                list(&side.setups)
            ));
        }
    }
    if baseline.setups != candidate.setups {
        notes.push(format!(
            "setup differs: baseline {}, candidate {}",
            list(&baseline.setups),
            list(&candidate.setups)
        ));
    }
    if baseline.hosts != candidate.hosts {
        notes.push(format!(
            "hosts differ: baseline {}, candidate {}",
            list(&baseline.hosts),
            list(&candidate.hosts)
        ));
    }
    notes
}

fn unmatched(pools: &[&Pool]) -> Vec<Unmatched> {
    pools
        .iter()
        .filter_map(|p| {
            Some(Unmatched {
                name: p.key.to_string(),
                key: p.key.clone(),
                runs: Side::of(p)?,
            })
        })
        .collect()
}

/// Compares two sides' pools. `threshold_percent` must already be checked (finite, in
/// [0, 100)). No I/O; the same inputs always give the same report.
pub fn build(
    baseline_label: &str,
    candidate_label: &str,
    baseline: &BTreeMap<BenchKey, Pool>,
    candidate: &BTreeMap<BenchKey, Pool>,
    threshold_percent: f64,
    fail_on_unclear: bool,
    failed_verification: Vec<FailedRun>,
) -> Report {
    let t = threshold_percent / 100.0;
    let mut counts = Counts::default();
    let mut comparisons = Vec::new();
    for (key, base_pool) in baseline {
        let Some(cand_pool) = candidate.get(key) else {
            continue;
        };
        let (Some(base), Some(cand)) = (Side::of(base_pool), Side::of(cand_pool)) else {
            continue;
        };
        let (ratio_low, ratio_high) =
            bootstrap::ratio_interval(&base_pool.samples_s(), &cand_pool.samples_s());
        let verdict = Verdict::decide(ratio_low, ratio_high, t);
        match verdict {
            Verdict::Faster => counts.faster += 1,
            Verdict::Slower => counts.slower += 1,
            Verdict::Same => counts.same += 1,
            Verdict::Unclear => counts.unclear += 1,
        }
        let ratio = cand.median_s / base.median_s;
        comparisons.push(Comparison {
            name: key.to_string(),
            key: key.clone(),
            notes: notes(&base, &cand),
            baseline: base,
            candidate: cand,
            ratio,
            change_percent: (ratio - 1.0) * 100.0,
            ratio_low,
            ratio_high,
            verdict,
        });
    }
    let only_in_baseline = unmatched(
        &baseline
            .iter()
            .filter(|(k, _)| !candidate.contains_key(*k))
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
    );
    let only_in_candidate = unmatched(
        &candidate
            .iter()
            .filter(|(k, _)| !baseline.contains_key(*k))
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
    );
    counts.only_in_baseline = only_in_baseline.len();
    counts.only_in_candidate = only_in_candidate.len();
    counts.failed_verification = failed_verification.len();
    let mut report = Report {
        baseline: baseline_label.to_string(),
        candidate: candidate_label.to_string(),
        threshold_percent,
        confidence_percent: CONFIDENCE_PERCENT,
        resamples: RESAMPLES,
        bootstrap_seed: bootstrap::SEED,
        fail_on_unclear,
        exit_code: 0,
        rule: rule_text(threshold_percent),
        counts,
        comparisons,
        only_in_baseline,
        only_in_candidate,
        failed_verification,
    };
    report.exit_code = report.exit().code();
    report
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::commands::compare::pool::PooledRun;
    use std::path::PathBuf;

    /// A pool of the given runs for `cpu TestCPU f32 n=<n>`.
    pub(crate) fn pool(n: usize, runs: &[&[f64]], setup: &str) -> Pool {
        Pool {
            key: BenchKey {
                backend: crate::model::vocab::BackendKind::Cpu,
                device: "TestCPU".into(),
                dtype: crate::model::dtype::DType::F32,
                op: crate::model::vocab::MatOp::Gemm,
                n,
            },
            runs: runs
                .iter()
                .enumerate()
                .map(|(i, s)| PooledRun {
                    path: PathBuf::from(format!("r{i}.json")),
                    samples_s: s.to_vec(),
                    hostname: "host".into(),
                    setup: setup.into(),
                })
                .collect(),
        }
    }

    pub(crate) fn pools(list: Vec<Pool>) -> BTreeMap<BenchKey, Pool> {
        list.into_iter().map(|p| (p.key.clone(), p)).collect()
    }

    pub(crate) fn spread(center: f64) -> Vec<f64> {
        (0..10)
            .map(|i| center * (1.0 + 0.002 * f64::from(i)))
            .collect()
    }

    #[test]
    fn the_rule_at_its_edges() {
        let t = 0.05;
        assert_eq!(Verdict::decide(1.06, 1.2, t), Verdict::Slower);
        assert_eq!(Verdict::decide(1.05, 1.2, t), Verdict::Unclear);
        assert_eq!(Verdict::decide(0.8, 0.94, t), Verdict::Faster);
        assert_eq!(Verdict::decide(0.8, 0.95, t), Verdict::Unclear);
        assert_eq!(Verdict::decide(0.95, 1.05, t), Verdict::Same);
        assert_eq!(Verdict::decide(0.97, 1.08, t), Verdict::Unclear);
        assert_eq!(Verdict::decide(1.0, 1.0, 0.0), Verdict::Same);
        assert_eq!(Verdict::decide(f64::NAN, f64::NAN, t), Verdict::Unclear);
    }

    #[test]
    fn verdicts_counts_and_one_sided_benchmarks() {
        let (a, b, c) = (spread(1e-3), spread(2e-3), spread(1.001e-3));
        let base = pools(vec![
            pool(100, &[&a], "faer, 2 threads"),
            pool(200, &[&b], "faer, 2 threads"),
            pool(300, &[&a], "faer, 2 threads"),
            pool(400, &[&a], "faer, 2 threads"),
        ]);
        let cand = pools(vec![
            pool(100, &[&b], "faer, 1 thread"),
            pool(200, &[&a], "faer, 2 threads"),
            pool(300, &[&c, &a], "faer, 2 threads"),
            pool(500, &[&a], "faer, 2 threads"),
        ]);
        let r = build("base", "cand", &base, &cand, 5.0, false, vec![]);
        let verdicts: Vec<_> = r.comparisons.iter().map(|c| (c.key.n, c.verdict)).collect();
        assert_eq!(
            verdicts,
            vec![
                (100, Verdict::Slower),
                (200, Verdict::Faster),
                (300, Verdict::Same)
            ]
        );
        assert_eq!(r.exit_code, 1);
        assert_eq!(
            (r.counts.only_in_baseline, r.counts.only_in_candidate),
            (1, 1)
        );
        assert_eq!(r.only_in_baseline[0].key.n, 400);
        assert_eq!(r.only_in_candidate[0].key.n, 500);
        let slower = &r.comparisons[0];
        assert!((slower.change_percent - 100.0).abs() < 1e-9);
        assert!(slower.notes.iter().any(|n| n.contains("setup differs")));
        assert_eq!(r.comparisons[2].candidate.runs, 2);
        assert_eq!(r.comparisons[2].candidate.samples, 20);
        let base = &r.comparisons[0].baseline;
        assert!((base.tflop_per_s - 2e6 / base.median_s / 1e12).abs() < 1e-12);
    }

    #[test]
    fn unclear_fails_only_when_asked() {
        // Too few and too spread samples to tell anything.
        let base = pools(vec![pool(100, &[&[1.0, 1.3]], "s")]);
        let cand = pools(vec![pool(100, &[&[1.1, 1.2]], "s")]);
        let r = build("b", "c", &base, &cand, 5.0, false, vec![]);
        assert_eq!(r.comparisons[0].verdict, Verdict::Unclear);
        assert_eq!(r.exit_code, 0);
        assert_eq!(
            build("b", "c", &base, &cand, 5.0, true, vec![]).exit_code,
            1
        );
    }
}
