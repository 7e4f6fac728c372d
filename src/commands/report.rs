//! `matbench report`: many hosts' records side by side, naming the outliers.
//!
//! Records are grouped by the one benchmark key (backend, device model, dtype, op, n:
//! [`BenchKey`]); within a benchmark, by
//! host (`host.hostname`, which a Kubernetes pod sets to its node's name through
//! `MATBENCH_HOSTNAME`) and, on the GPU, by GPU ordinal, since one node may carry one slow card.
//! Each machine's figure is the median TFLOP/s of its runs; the fleet's is the median over
//! machines. A machine more than `--margin` percent below the fleet median is an outlier and is
//! named; `--check` turns any outlier into [`Exit::Regression`] (exit 1).

use crate::cli::{ReportArgs, ReportFormat};
use crate::error::{Error, Exit};
use crate::output::Stdout;
use crate::output::escape::{md, plain};
use crate::record::RunRecord;
use crate::record::key::BenchKey;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One machine's figure for one benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Host name.
    pub host: String,
    /// GPU ordinal (GPU runs).
    pub gpu: Option<usize>,
    /// Runs pooled.
    pub runs: usize,
    /// Median of the runs' TFLOP/s.
    pub tflop_per_s: f64,
    /// Relative to the fleet median (−0.2 = 20% slower).
    pub vs_fleet: f64,
    /// More than the margin below the fleet median.
    pub outlier: bool,
    /// Median share of the GPU's datasheet peak over its runs (`null` on the CPU, for a model
    /// without a known peak, and in records made before matbench recorded it).
    pub share_of_peak: Option<f64>,
    /// Why its runs failed `--check` (`matbench gpu … --check`), once each; empty when they
    /// passed or were not checked.
    pub failed_check: Vec<String>,
    /// Another process used the GPU during one of its runs (NVML).
    pub shared: bool,
    /// Median sustained TFLOP/s of its `--duration` runs (`null` without one).
    pub sustained_tflop_per_s: Option<f64>,
    /// What its health counters said against the card (ECC, row remapping, PCIe, Xid), once
    /// each; empty when nothing did.
    pub health: Vec<String>,
    /// The scheduler's job(s) its runs belonged to (`host.job`), one summary each, e.g.
    /// `slurm job 12 (array 11, task 2) on node2`; empty outside a scheduler.
    pub jobs: Vec<String>,
}

/// One benchmark across the fleet.
#[derive(Clone, Debug, Serialize)]
pub struct Benchmark {
    /// "cuda NVIDIA H200 bf16 n=16384".
    pub name: String,
    /// Median over machines of their TFLOP/s.
    pub fleet_median_tflop_per_s: f64,
    /// Every machine, slowest first.
    pub machines: Vec<Machine>,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
pub struct FleetReport {
    /// Margin as a fraction (0.10 = 10%).
    pub margin: f64,
    /// Every benchmark, by name.
    pub benchmarks: Vec<Benchmark>,
    /// "host" or "host GPU i" of every outlier, once each.
    pub outliers: Vec<String>,
    /// "host" or "host GPU i" (benchmark) of every run that failed verification: left out of
    /// the figures, named here.
    pub failed_verification: Vec<String>,
    /// "host" or "host GPU i" of every machine whose own `--check` failed (below its floor
    /// share of peak, slower than its siblings), once each.
    pub failed_check: Vec<String>,
}

/// One machine's runs of one benchmark, as they are gathered.
#[derive(Default)]
struct Runs {
    tflop_per_s: Vec<f64>,
    shares: Vec<f64>,
    sustained: Vec<f64>,
    jobs: Vec<String>,
    failed_check: Vec<String>,
    shared: bool,
    health: Vec<String>,
}

fn push_once(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    crate::model::stats::median(&mut v).unwrap_or(0.0)
}

fn machine_name(host: &str, gpu: Option<usize>) -> String {
    match gpu {
        Some(i) => format!("{host} GPU {i}"),
        None => host.to_string(),
    }
}

/// Builds the report; failed verifications are left out of the figures (their speed means
/// nothing) and named in `failed_verification`.
pub fn build(records: &[RunRecord], margin: f64) -> FleetReport {
    let failed_verification = records
        .iter()
        .filter(|r| !r.verification.passed)
        .map(|r| {
            format!(
                "{} ({})",
                machine_name(&r.host.hostname, r.config.gpu_index),
                BenchKey::of(r)
            )
        })
        .collect();
    // benchmark → machine (host, GPU) → its runs
    let mut groups: BTreeMap<BenchKey, BTreeMap<(String, Option<usize>), Runs>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.verification.passed) {
        let runs = groups
            .entry(BenchKey::of(r))
            .or_default()
            .entry((r.host.hostname.clone(), r.config.gpu_index))
            .or_default();
        runs.tflop_per_s.push(r.matmul_tflop_per_s);
        runs.shares
            .extend(r.peak.as_ref().and_then(|p| p.matmul_share));
        if let Some(job) = r.host.job.as_ref().map(|j| j.summary()) {
            push_once(&mut runs.jobs, job);
        }
        for reason in r.check.iter().flat_map(|c| c.reasons.iter()) {
            push_once(&mut runs.failed_check, reason.clone());
        }
        runs.sustained
            .extend(r.soak.as_ref().map(|s| s.sustained_tflop_per_s));
        if let Some(h) = &r.health {
            runs.shared |= h.shared;
            for bad in h.bad_card_reasons() {
                push_once(&mut runs.health, bad);
            }
        }
    }
    let mut outliers: Vec<String> = Vec::new();
    let mut failed_check: Vec<String> = Vec::new();
    let benchmarks = groups
        .into_iter()
        .map(|(key, machines)| {
            let per_machine: Vec<_> = machines
                .into_iter()
                .map(|((host, gpu), runs)| (host, gpu, median(runs.tflop_per_s.clone()), runs))
                .collect();
            let fleet = median(per_machine.iter().map(|m| m.2).collect());
            let mut machines: Vec<Machine> = per_machine
                .into_iter()
                .map(|(host, gpu, t, runs)| {
                    let vs_fleet = if fleet > 0.0 { t / fleet - 1.0 } else { 0.0 };
                    Machine {
                        host,
                        gpu,
                        runs: runs.tflop_per_s.len(),
                        tflop_per_s: t,
                        vs_fleet,
                        outlier: vs_fleet < -margin,
                        share_of_peak: (!runs.shares.is_empty()).then(|| median(runs.shares)),
                        failed_check: runs.failed_check,
                        shared: runs.shared,
                        sustained_tflop_per_s: (!runs.sustained.is_empty())
                            .then(|| median(runs.sustained)),
                        health: runs.health,
                        jobs: runs.jobs,
                    }
                })
                .collect();
            machines.sort_by(|a, b| a.tflop_per_s.total_cmp(&b.tflop_per_s));
            for m in &machines {
                let who = machine_name(&m.host, m.gpu);
                if m.outlier {
                    push_once(&mut outliers, who.clone());
                }
                if !m.failed_check.is_empty() {
                    push_once(&mut failed_check, who);
                }
            }
            Benchmark {
                name: key.to_string(),
                fleet_median_tflop_per_s: fleet,
                machines,
            }
        })
        .collect();
    FleetReport {
        margin,
        benchmarks,
        outliers,
        failed_verification,
        failed_check,
    }
}

/// The report as text or Markdown.
pub fn render(report: &FleetReport, markdown: bool) -> String {
    let mut out = String::new();
    let verdict = if report.outliers.is_empty() {
        format!(
            "no outliers (no machine more than {:.0}% below its fleet's median)",
            report.margin * 100.0
        )
    } else {
        let names = report.outliers.join(", ");
        format!(
            "outliers (more than {:.0}% below the fleet median): {}",
            report.margin * 100.0,
            if markdown { md(&names) } else { plain(&names) }
        )
    };
    let verdict = if report.failed_check.is_empty() {
        verdict
    } else {
        let names = report.failed_check.join(", ");
        format!(
            "FAILED --check: {}; {verdict}",
            if markdown { md(&names) } else { plain(&names) }
        )
    };
    let verdict = if report.failed_verification.is_empty() {
        verdict
    } else {
        let names = report.failed_verification.join(", ");
        format!(
            "FAILED verification (left out): {}; {verdict}",
            if markdown { md(&names) } else { plain(&names) }
        )
    };
    if markdown {
        let _ = writeln!(out, "**matbench report: {verdict}**\n");
        let _ = writeln!(
            out,
            "| benchmark | machine | runs | TFLOP/s | share of peak | vs fleet median | | job |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    } else {
        let _ = writeln!(out, "matbench report: {verdict}\n");
    }
    for b in &report.benchmarks {
        if !markdown {
            let _ = writeln!(
                out,
                "  {} (fleet median {:.2} TFLOP/s)",
                plain(&b.name),
                b.fleet_median_tflop_per_s
            );
        }
        for m in &b.machines {
            let who = machine_name(&m.host, m.gpu);
            let mut flags = Vec::new();
            if m.outlier {
                flags.push("OUTLIER".to_string());
            }
            if m.shared {
                flags.push("SHARED".to_string());
            }
            if !m.health.is_empty() {
                flags.push(format!("HEALTH: {}", m.health.join("; ")));
            }
            if let Some(s) = m.sustained_tflop_per_s {
                flags.push(format!("sustained {s:.2} TFLOP/s"));
            }
            if !m.failed_check.is_empty() {
                flags.push(format!("CHECK FAILED: {}", m.failed_check.join("; ")));
            }
            let flag = flags.join(", ");
            let share = m
                .share_of_peak
                .map_or_else(String::new, |s| format!("{:.1}%", 100.0 * s));
            let jobs = m.jobs.join("; ");
            if markdown {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.2} | {share} | {:+.1}% | {} | {} |",
                    md(&b.name),
                    md(&who),
                    m.runs,
                    m.tflop_per_s,
                    m.vs_fleet * 100.0,
                    md(&flag),
                    md(&jobs)
                );
            } else {
                let who = plain(&who);
                let job = if jobs.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", plain(&jobs))
                };
                let share = if share.is_empty() {
                    String::new()
                } else {
                    format!(" ({share} of peak)")
                };
                let _ = writeln!(
                    out,
                    "    {who:<32} {:>3} runs {:>10.2} TFLOP/s{share} {:>+7.1}%  {:<7}{job}",
                    m.runs,
                    m.tflop_per_s,
                    m.vs_fleet * 100.0,
                    plain(&flag)
                );
            }
        }
    }
    out
}

/// Runs `matbench report`.
pub fn run(args: &ReportArgs, out: &mut Stdout) -> Result<Exit, Error> {
    if !(args.margin.is_finite() && (0.0..100.0).contains(&args.margin)) {
        return Err(Error::InvalidArgument(format!(
            "--margin must be a percentage from 0 to under 100, got {}",
            args.margin
        )));
    }
    let records: Vec<RunRecord> = crate::record::read::read_all(&args.results)
        .map_err(Error::one_line)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let report = build(&records, args.margin / 100.0);
    if report.benchmarks.is_empty() && report.failed_verification.is_empty() {
        return Err(Error::InvalidArgument(
            "no verified runs to report on".into(),
        ));
    }
    let bytes = match args.format {
        ReportFormat::Text => render(&report, false).into_bytes(),
        ReportFormat::Markdown => render(&report, true).into_bytes(),
        ReportFormat::Json => crate::record::json::to_bytes(&report, "the fleet report")?,
    };
    out.write(&bytes)?;
    // A wrong answer on any machine fails the report whatever --check says: exit 8.
    Ok(if !report.failed_verification.is_empty() {
        Exit::RecordFailedVerification
    } else if args.check && !report.failed_check.is_empty() {
        Exit::CheckFailed
    } else if args.check && !report.outliers.is_empty() {
        Exit::Regression
    } else {
        Exit::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Vec<RunRecord> {
        let base = crate::record::fixtures::records("h200-2026-11-28")
            .into_iter()
            .map(|(_, r)| r)
            .find(|r| {
                r.config.n == 4096 && r.config.backend == crate::model::vocab::BackendKind::Cuda
            })
            .unwrap();
        [
            ("node-a", 50.0),
            ("node-b", 51.0),
            ("node-c", 49.5),
            ("node-d", 38.0),
        ]
        .into_iter()
        .map(|(host, t)| {
            let mut r = base.clone();
            r.host.hostname = host.into();
            r.matmul_tflop_per_s = t;
            r
        })
        .collect()
    }

    #[test]
    fn the_slow_node_is_named() {
        let report = build(&fleet(), 0.10);
        assert_eq!(report.outliers, vec!["node-d GPU 0".to_string()]);
        let b = &report.benchmarks[0];
        assert_eq!(b.machines.len(), 4);
        assert_eq!(b.machines[0].host, "node-d", "slowest first");
        assert!((b.fleet_median_tflop_per_s - 49.75).abs() < 1e-9);
        let text = render(&report, false);
        assert!(
            text.contains("outliers") && text.contains("node-d GPU 0") && text.contains("OUTLIER"),
            "{text}"
        );
        assert!(render(&report, true).starts_with("**matbench report: outliers"));
    }

    #[test]
    fn a_wide_margin_names_nobody_and_failed_runs_are_left_out() {
        assert!(build(&fleet(), 0.30).outliers.is_empty());
        let mut records = fleet();
        records[3].verification.passed = false;
        let report = build(&records, 0.10);
        assert!(report.outliers.is_empty());
        assert_eq!(report.benchmarks[0].machines.len(), 3);
        assert_eq!(report.failed_verification.len(), 1);
        assert!(report.failed_verification[0].starts_with("node-d GPU 0 ("));
        assert!(render(&report, false).contains("FAILED verification (left out): node-d GPU 0"));
    }

    #[test]
    fn each_machine_shows_the_scheduler_job_its_runs_belonged_to() {
        let mut records = fleet();
        for (i, r) in records.iter_mut().enumerate() {
            r.host.job = Some(crate::host::JobContext {
                scheduler: "slurm".into(),
                job_id: Some(format!("{}", 20 + i)),
                array_job_id: Some("20".into()),
                array_task_id: Some(i.to_string()),
                node: Some(r.host.hostname.clone()),
                ..Default::default()
            });
        }
        let report = build(&records, 0.10);
        let slow = &report.benchmarks[0].machines[0];
        assert_eq!(
            slow.jobs,
            vec!["slurm job 23 (array 20, task 3) on node-d".to_string()]
        );
        let text = render(&report, false);
        let line = text.lines().find(|l| l.contains("node-d GPU 0 ")).unwrap();
        assert!(
            line.contains("OUTLIER") && line.contains("[slurm job 23"),
            "{line}"
        );
        assert!(render(&report, true).contains("| slurm job 23 (array 20, task 3) on node-d |"));
    }

    #[test]
    fn each_machine_shows_its_share_of_peak_and_a_failed_check_is_named() {
        use crate::model::job::CheckRule;
        let rule = CheckRule { min_share: 0.5 };
        let records: Vec<RunRecord> = fleet()
            .into_iter()
            .map(|mut r| {
                // node-d at 38 of 67 (56.7%) is an outlier but above the floor; node-c is
                // made to fall below it.
                if r.host.hostname == "node-c" {
                    r.matmul_tflop_per_s = 30.0;
                }
                r.peak = Some(crate::record::peak::PeakRecord::for_gpu(
                    &r.device.name,
                    (r.config.dtype, r.config.op, r.config.n),
                    r.matmul_tflop_per_s,
                    r.reduce.median_s,
                ));
                r.check = Some(crate::pipeline::check::verdict(&r, &rule, None));
                r
            })
            .collect();
        let report = build(&records, 0.10);
        assert_eq!(report.failed_check, vec!["node-c GPU 0".to_string()]);
        let c = report.benchmarks[0]
            .machines
            .iter()
            .find(|m| m.host == "node-c")
            .unwrap();
        assert!((c.share_of_peak.unwrap() - 30.0 / 67.0).abs() < 1e-12);
        assert!(
            c.failed_check[0].contains("below the 50% floor"),
            "{:?}",
            c.failed_check
        );
        let text = render(&report, false);
        assert!(
            text.starts_with("matbench report: FAILED --check: node-c GPU 0;"),
            "{text}"
        );
        let line = text.lines().find(|l| l.contains("node-c GPU 0 ")).unwrap();
        assert!(
            line.contains("(44.8% of peak)") && line.contains("CHECK FAILED"),
            "{line}"
        );
        assert!(render(&report, true).contains("| 44.8% |"));

        // A shared run and a bad counter are flagged on their machine's line.
        let mut records = records;
        records[0].health = Some(crate::record::health::HealthRecord {
            shared: true,
            xid_errors: vec![79],
            ..Default::default()
        });
        let report = build(&records, 0.10);
        let a = report.benchmarks[0]
            .machines
            .iter()
            .find(|m| m.host == "node-a")
            .unwrap();
        assert!(a.shared && a.health == vec!["hardware Xid errors during the run: 79".to_string()]);
        let text = render(&report, false);
        let line = text.lines().find(|l| l.contains("node-a GPU 0 ")).unwrap();
        assert!(
            line.contains("SHARED, HEALTH: hardware Xid errors during the run: 79"),
            "{line}"
        );
    }
}
