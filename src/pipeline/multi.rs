//! Several GPUs at once (`matbench gpu N --gpu all`, or `--gpu 0,1`): one thread and one CUDA
//! context per GPU, all started together, each running the whole single-GPU job (and
//! recording it) on its own device. A GPU slower than the fastest by more than a margin is
//! flagged; `--check` turns that into [`Exit::CheckFailed`](crate::error::Exit::CheckFailed).
//!
//! The threads open their backends first and then wait at a barrier, so the timed repetitions
//! of every GPU overlap; each record keeps its own start time and the summary shows the window
//! in which all of them were running.

use super::{Finished, check};
use crate::bench::RunContext;
use crate::error::Error;
use crate::model::Second;
use crate::model::job::{CheckRule, Job};
use crate::model::vocab::DeviceSelection;
use crate::record::{RunRecord, store};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Instant;

/// One GPU's row of the summary.
#[derive(Clone, Debug, Serialize)]
pub struct GpuRow {
    /// CUDA ordinal.
    pub index: usize,
    /// GPU name.
    pub name: String,
    /// The record's `matmul_tflop_per_s` (FLOP of the op / median), 10¹² FLOP/s.
    pub tflop_per_s: f64,
    /// Median matmul time.
    pub median_s: Second,
    /// Verification verdict.
    pub passed: bool,
    /// Slower than the fastest GPU by more than the margin.
    pub slow: bool,
    /// Telemetry marked the run throttled.
    pub throttled: bool,
    /// Share of the GPU's datasheet peak (`null` for a model without a known peak).
    pub share_of_peak: Option<f64>,
    /// Another process used the GPU during the run (NVML).
    pub shared: bool,
    /// `--duration`: the burst and the sustained TFLOP/s of its soak.
    pub soak: Option<(f64, f64)>,
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
            share_of_peak: r.peak.as_ref().and_then(|p| p.matmul_share),
            shared: r.health.as_ref().is_some_and(|h| h.shared),
            soak: r
                .soak
                .as_ref()
                .map(|s| (s.burst_tflop_per_s, s.sustained_tflop_per_s)),
        })
        .collect();
    MultiSummary {
        gpus,
        aggregate_tflop_per_s: records.iter().map(|r| r.matmul_tflop_per_s).sum(),
        slow_margin,
        overlap_s,
    }
}

/// Runs `job` on every GPU in `indices` at the same time, each through the pipeline (and so
/// saved into `results_dir`); returns the finished runs by ordinal and how long their measured
/// repetitions overlapped.
pub fn run_all(
    job: &Job,
    indices: &[usize],
    results_dir: Option<&Path>,
    ctx: &RunContext,
) -> Result<(Vec<Finished>, Second), Error> {
    let barrier = Arc::new(Barrier::new(indices.len()));
    let handles: Vec<_> = indices
        .iter()
        .map(|&index| {
            let barrier = barrier.clone();
            let mut job = job.clone();
            job.selection = DeviceSelection::Gpu { index };
            let results_dir = results_dir.map(Path::to_path_buf);
            let ctx = ctx.clone();
            std::thread::Builder::new()
                .name(format!("matbench-gpu-{index}"))
                .spawn(move || -> Result<(Finished, Instant, Instant), Error> {
                    let opened = super::open(&job.selection);
                    // Everyone waits here, opened or not, so no thread is left at the barrier.
                    barrier.wait();
                    let mut opened = opened?;
                    let start = Instant::now();
                    let finished =
                        super::measure_and_save(&job, &mut opened, results_dir.as_deref(), &ctx);
                    let end = Instant::now();
                    opened.leak();
                    Ok((finished?, start, end))
                })
                .map_err(|e| {
                    Error::System(format!("could not start a thread for GPU {index}: {e}"))
                })
        })
        .collect::<Result<_, _>>()?;
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        let joined = h
            .join()
            .map_err(|_| Error::device_msg("a GPU thread stopped unexpectedly"))?;
        results.push(joined?);
    }
    let latest_start = results.iter().map(|r| r.1).max();
    let earliest_end = results.iter().map(|r| r.2).min();
    let overlap_s = match (latest_start, earliest_end) {
        (Some(s), Some(e)) if e > s => (e - s).as_secs_f64(),
        _ => 0.0,
    };
    Ok((results.into_iter().map(|r| r.0).collect(), overlap_s))
}

/// The multi-GPU rule's reason for GPU `index`, when the summary flagged it slow.
pub fn slow_reason(summary: &MultiSummary, record: &RunRecord) -> Option<String> {
    let index = record.config.gpu_index.unwrap_or(0);
    let fastest = summary
        .gpus
        .iter()
        .map(|g| g.tflop_per_s)
        .fold(0.0, f64::max);
    let g = summary.gpus.iter().find(|g| g.index == index && g.slow)?;
    Some(format!(
        "{} ran at {:.2} TFLOP/s, more than {:.0}% below the fastest GPU's {:.2} (--slow-margin)",
        check::gpu_name(record),
        g.tflop_per_s,
        summary.slow_margin * 100.0,
        fastest
    ))
}

/// `--check` on several GPUs: each run's verdict with its siblings' rule added, written into
/// its record and over its saved file (a failed rewrite is one of the run's problems).
pub fn judge(finished: &mut [Finished], summary: &MultiSummary, rule: &CheckRule) {
    for f in finished {
        let slow = slow_reason(summary, &f.record);
        f.record.check = Some(check::verdict(&f.record, rule, slow));
        if let Some(path) = &f.saved
            && let Err(e) = store::replace(path, &f.record)
        {
            f.problems.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slow_gpu_fails_the_check_and_its_saved_record_says_why() {
        let base = crate::record::fixtures::records("h200-2026-11-28")
            .remove(0)
            .1;
        let records: Vec<RunRecord> = [(0, 52.0), (1, 40.0)]
            .into_iter()
            .map(|(i, t)| {
                let mut r = crate::record::fixtures::at_rate(base.clone(), t);
                r.config.gpu_index = Some(i);
                r
            })
            .collect();
        let s = summarise(&records, 0.10, 1.0);
        assert_eq!((s.gpus[0].slow, s.gpus[1].slow), (false, true));
        assert!((s.aggregate_tflop_per_s - 92.0).abs() < 1e-9);
        assert!(summarise(&records, 0.30, 1.0).gpus.iter().all(|g| !g.slow));

        let dir = tempfile::tempdir().unwrap();
        let mut finished: Vec<Finished> = records
            .into_iter()
            .map(|record| Finished {
                saved: Some(store::save(dir.path(), &record).unwrap()),
                record,
                problems: Vec::new(),
            })
            .collect();
        judge(&mut finished, &s, &CheckRule { min_share: 0.5 });
        assert!(finished[0].record.check.as_ref().unwrap().passed);
        let slow = finished[1].record.check.clone().unwrap();
        assert!(!slow.passed);
        assert!(
            slow.reasons[0].starts_with(
                "GPU 1 (NVIDIA H200) ran at 40.00 TFLOP/s, more than 10% below the fastest GPU's 52.00 (--slow-margin)"
            ),
            "{slow:?}"
        );
        let saved = finished[1].saved.clone().unwrap();
        let back = crate::record::read::read_all(&[saved]).unwrap().remove(0).1;
        assert_eq!(
            back.check,
            Some(slow),
            "the saved record carries the verdict"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no file left behind"
        );
        let e = check::outcome(finished.iter().map(|f| &f.record)).unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::CheckFailed);
        assert!(e.to_string().starts_with("GPU 1 (NVIDIA H200)"), "{e}");
    }
}
