//! Several GPUs at once (`matbench gpu N --gpu all`, or `--gpu 0,1`): one thread and one CUDA
//! context per GPU, all started together, each running the whole single-GPU job (and
//! recording it) on its own device. A GPU slower than the fastest by more than a margin is
//! flagged; `--check` turns that into exit code 7.
//!
//! The threads open their backends first and then wait at a barrier, so the timed repetitions
//! of every GPU overlap; each record keeps its own start time and the summary shows the window
//! in which all of them were running.

use crate::Second;
use crate::backend::DeviceSelection;
use crate::bench;
use crate::error::Error;
use crate::plan::Plan;
use crate::record::RunRecord;
use serde::Serialize;
use std::fmt::Write;
use std::sync::{Arc, Barrier};
use std::time::Instant;

/// Exit code when `--check` finds a GPU slower than the fastest by more than the margin.
pub const EXIT_SLOW_GPU: u8 = 7;

/// Parses `--gpu`: an ordinal, a comma-separated list, or `all` (given how many GPUs there are).
pub fn parse_gpus(
    text: &str,
    count: impl FnOnce() -> Result<usize, Error>,
) -> Result<Vec<usize>, Error> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        let n = count()?;
        if n == 0 {
            return Err(Error::NoDevice("the NVIDIA driver sees no GPU".into()));
        }
        return Ok((0..n).collect());
    }
    let mut out = Vec::new();
    for word in text.split(',').map(str::trim) {
        let index: usize = word.parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "--gpu takes an index, a list like 0,1, or all; got '{word}'"
            ))
        })?;
        if !out.contains(&index) {
            out.push(index);
        }
    }
    Ok(out)
}

/// One GPU's row of the summary.
#[derive(Clone, Debug, Serialize)]
pub struct GpuRow {
    /// CUDA ordinal.
    pub index: usize,
    /// GPU name.
    pub name: String,
    /// 2·n³ / median, 10¹² FLOP/s.
    pub tflop_per_s: f64,
    /// Median matmul time.
    pub median_s: Second,
    /// Verification verdict.
    pub passed: bool,
    /// Slower than the fastest GPU by more than the margin.
    pub slow: bool,
    /// Telemetry marked the run throttled.
    pub throttled: bool,
}

/// The summary of a multi-GPU run.
#[derive(Clone, Debug, Serialize)]
pub struct MultiSummary {
    /// One row per GPU, by ordinal.
    pub gpus: Vec<GpuRow>,
    /// Sum of the GPUs' TFLOP/s.
    pub aggregate_tflop_per_s: f64,
    /// The margin used, as a fraction (0.10 = 10%).
    pub slow_margin: f64,
    /// How long every GPU's measured repetitions overlapped, seconds.
    pub overlap_s: Second,
}

/// Flags GPUs whose TFLOP/s fall below (1 − margin) × the fastest.
pub fn summarise(records: &[RunRecord], slow_margin: f64, overlap_s: Second) -> MultiSummary {
    let best = records
        .iter()
        .map(|r| r.matmul_tflop_per_s)
        .fold(0.0, f64::max);
    let gpus = records
        .iter()
        .map(|r| GpuRow {
            index: r.config.gpu_index.unwrap_or(0),
            name: r.device.name.clone(),
            tflop_per_s: r.matmul_tflop_per_s,
            median_s: r.matmul.median_s,
            passed: r.verification.passed,
            slow: r.matmul_tflop_per_s < (1.0 - slow_margin) * best,
            throttled: r.telemetry.as_ref().is_some_and(|t| t.throttled),
        })
        .collect();
    MultiSummary {
        gpus,
        aggregate_tflop_per_s: records.iter().map(|r| r.matmul_tflop_per_s).sum(),
        slow_margin,
        overlap_s,
    }
}

/// The text table.
pub fn render(summary: &MultiSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<4} {:<24} {:>12} {:>12} {:>8}  flags",
        "gpu", "name", "median", "TFLOP/s", "verify"
    );
    for g in &summary.gpus {
        let mut flags = Vec::new();
        if g.slow {
            flags.push(format!(
                "SLOW (>{:.0}% below the fastest)",
                summary.slow_margin * 100.0
            ));
        }
        if g.throttled {
            flags.push("throttled".to_string());
        }
        let _ = writeln!(
            out,
            "  {:<4} {:<24} {:>9.3} ms {:>12.2} {:>8}  {}",
            g.index,
            g.name,
            g.median_s * 1e3,
            g.tflop_per_s,
            if g.passed { "PASS" } else { "FAIL" },
            flags.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  all  {} GPUs together: {:.2} TFLOP/s; measured repetitions overlapped for {:.3} s",
        summary.gpus.len(),
        summary.aggregate_tflop_per_s,
        summary.overlap_s
    );
    out
}

/// Runs `plan` on every GPU in `indices` at the same time; returns the records by ordinal.
pub fn run_all(
    plan: &Plan,
    indices: &[usize],
    process_start: Instant,
    args: &[String],
) -> Result<(Vec<RunRecord>, Second), Error> {
    let barrier = Arc::new(Barrier::new(indices.len()));
    let handles: Vec<_> = indices
        .iter()
        .map(|&index| {
            let barrier = barrier.clone();
            let mut plan = plan.clone();
            plan.selection = DeviceSelection::Gpu { index };
            let args = args.to_vec();
            std::thread::Builder::new()
                .name(format!("matbench-gpu-{index}"))
                .spawn(move || -> Result<(RunRecord, Instant, Instant), Error> {
                    let opened = Instant::now();
                    let backend = crate::backend::open(&plan.selection);
                    // Everyone waits here, opened or not, so no thread is left at the barrier.
                    barrier.wait();
                    let mut backend = backend?;
                    let startup_s = opened.elapsed().as_secs_f64();
                    let start = Instant::now();
                    let record =
                        bench::run(&plan, backend.as_mut(), startup_s, process_start, args)?;
                    let end = Instant::now();
                    std::mem::forget(backend);
                    Ok((record, start, end))
                })
                .map_err(|e| {
                    Error::Device(format!("could not start a thread for GPU {index}: {e}"))
                })
        })
        .collect::<Result<_, _>>()?;
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        results.push(
            h.join()
                .map_err(|_| Error::Device("a GPU thread panicked".into()))??,
        );
    }
    let latest_start = results.iter().map(|r| r.1).max();
    let earliest_end = results.iter().map(|r| r.2).min();
    let overlap_s = match (latest_start, earliest_end) {
        (Some(s), Some(e)) if e > s => (e - s).as_secs_f64(),
        _ => 0.0,
    };
    Ok((results.into_iter().map(|r| r.0).collect(), overlap_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_lists_and_all() {
        assert_eq!(parse_gpus("0", || Ok(4)).unwrap(), vec![0]);
        assert_eq!(parse_gpus("1,0,1", || Ok(4)).unwrap(), vec![1, 0]);
        assert_eq!(parse_gpus("all", || Ok(3)).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_gpus("all", || Ok(0)).unwrap_err().exit_code(), 3);
        assert_eq!(parse_gpus("one", || Ok(1)).unwrap_err().exit_code(), 2);
        assert_eq!(parse_gpus("-1", || Ok(1)).unwrap_err().exit_code(), 2);
    }
}
