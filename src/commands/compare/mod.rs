//! `matbench compare BASELINE CANDIDATE`: verdicts a CI job can trust.
//!
//! Two medians alone cannot tell a regression from noise, so every verdict is decided from both
//! sides' repetitions:
//!
//! 1. Each side (a results file or a directory of them) is read with
//!    [`crate::record::read::read_all`] and its runs grouped by the one benchmark key
//!    (backend, device model, dtype, op, n: [`crate::record::key::BenchKey`], so a SYRK run is
//!    never compared with a GEMM run) ([`pool`]). Several runs of one benchmark are pooled: their matmul samples count
//!    together, and the report says how many runs and samples each side has.
//! 2. For each benchmark on both sides, a bootstrap ([`bootstrap`]; 2000 resamples, a fixed
//!    seed so the same files always give the same answer) gives the 95% interval of the ratio
//!    of medians, candidate / baseline, resampling each side's pooled samples. The interval
//!    reflects the noise between repetitions, not a shift of a whole run: several runs per
//!    side, interleaved between baseline and candidate, make such a shift less likely to
//!    decide the verdict.
//! 3. With t = `--threshold` / 100 (default 5%), the verdict is:
//!    - **slower** if the interval lies entirely above 1 + t,
//!    - **faster** if it lies entirely below 1 − t,
//!    - **same** if it lies entirely inside [1 − t, 1 + t],
//!    - **unclear** otherwise (too few or too noisy samples to say either way).
//!
//! Benchmarks found on one side only are listed as such, never dropped; if no benchmark is on
//! both sides that is an error. A run whose answer failed verification is never pooled or
//! given a verdict: it is listed as failed, and the comparison fails with exit 8. Exit codes:
//! 0 no regression, 1 any "slower" (or any "unclear" with `--fail-on-unclear`), 2 bad input,
//! 8 a run failed verification. The report ([`verdict::Report`]) is rendered by pure
//! functions ([`render`]) as a terminal table, GitHub Markdown or JSON; only [`run`] prints.

pub use crate::model::bootstrap;
pub mod pool;
pub mod render;
pub mod verdict;

use crate::cli::{CompareArgs, ReportFormat};
use crate::error::{Error, Exit};
use crate::output::Stdout;
use crate::record::read;
use pool::{BenchKey, Pool};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Checks `--threshold`: a finite number of percent, at least 0 and below 100.
pub fn check_threshold(percent: f64) -> Result<f64, Error> {
    if percent.is_finite() && (0.0..100.0).contains(&percent) {
        Ok(percent)
    } else {
        Err(Error::InvalidArgument(format!(
            "--threshold must be a number of percent, at least 0 and below 100 (got {percent})"
        )))
    }
}

/// One side, read: its verified runs pooled by key, every key it holds (failed runs too),
/// and its runs that failed verification.
struct SideRuns {
    pools: BTreeMap<BenchKey, Pool>,
    keys: BTreeSet<BenchKey>,
    failed: Vec<verdict::FailedRun>,
}

/// Reads one side; a run that failed verification is set apart, never pooled.
fn side(path: &Path, label: &str) -> Result<SideRuns, Error> {
    let records = read::read_all(&[path.to_path_buf()]).map_err(Error::one_line)?;
    let keys = records.iter().map(|(_, r)| BenchKey::of(r)).collect();
    let split = read::Verified::split(records);
    let failed = split
        .failed
        .iter()
        .map(|(path, r)| verdict::FailedRun {
            side: label.to_string(),
            name: BenchKey::of(r).to_string(),
            file: path.display().to_string(),
            verification: r.verification.summary_line(),
        })
        .collect();
    Ok(SideRuns {
        pools: pool::group(&split.passed),
        keys,
        failed,
    })
}

/// "cpu X f32 n=256, cuda Y f32 n=1024 and 3 more".
fn keys_phrase(keys: &BTreeSet<BenchKey>) -> String {
    const SHOWN: usize = 3;
    let mut text = keys
        .iter()
        .take(SHOWN)
        .map(BenchKey::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > SHOWN {
        text.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    text
}

/// Compares the two sides of `args` and renders the report. No output; the exit code is in
/// the report.
pub fn compare(args: &CompareArgs) -> Result<(verdict::Report, Vec<u8>), Error> {
    let threshold = check_threshold(args.threshold)?;
    let baseline = side(&args.baseline, "baseline")?;
    let candidate = side(&args.candidate, "candidate")?;
    if baseline.keys.is_disjoint(&candidate.keys) {
        return Err(Error::InvalidArgument(format!(
            "nothing to compare: no benchmark (backend, device, dtype, op, n) is in both {} and {}; \
             the baseline has {}, the candidate has {}",
            args.baseline.display(),
            args.candidate.display(),
            keys_phrase(&baseline.keys),
            keys_phrase(&candidate.keys)
        ))
        .one_line());
    }
    let report = verdict::build(
        &args.baseline.display().to_string(),
        &args.candidate.display().to_string(),
        &baseline.pools,
        &candidate.pools,
        threshold,
        args.fail_on_unclear,
        [baseline.failed, candidate.failed].concat(),
    );
    let bytes = match args.format {
        ReportFormat::Text => render::text(&report).into_bytes(),
        ReportFormat::Markdown => render::markdown(&report).into_bytes(),
        ReportFormat::Json => render::json(&report)?,
    };
    Ok((report, bytes))
}

/// Runs the subcommand: prints the report on stdout; success, a regression, or records that
/// failed verification.
pub fn run(args: &CompareArgs, out: &mut Stdout) -> Result<Exit, Error> {
    let (report, bytes) = compare(args)?;
    out.write(&bytes)?;
    Ok(report.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_states_the_method_this_code_uses() {
        let help = crate::cli::COMPARE_METHOD;
        assert!(help.contains(&format!("{} resamples", bootstrap::RESAMPLES)));
        assert!(help.contains(&format!("{:.0}% interval", bootstrap::CONFIDENCE_PERCENT)));
        for code in [0, 1, 2, 8] {
            assert!(help.contains(&format!("{code} ")), "exit {code}");
        }
    }

    #[test]
    fn threshold_must_be_a_finite_percentage_below_100() {
        for ok in [0.0, 5.0, 99.9] {
            assert_eq!(check_threshold(ok).unwrap(), ok);
        }
        for bad in [-1.0, 100.0, 250.0, f64::NAN, f64::INFINITY] {
            let e = check_threshold(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("--threshold"), "{e}");
        }
    }
}
