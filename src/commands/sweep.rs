//! `matbench sweep`: a grid of sizes × devices × dtypes.
//!
//! Every backend is opened once, before the first run, so a missing GPU stops the sweep before
//! any work is done and start-up is paid once per device. Each run's record is written the
//! moment the run finishes, so an interrupted sweep keeps everything it finished. Progress is
//! counted in floating-point work (n³ per run), so the ETA stays honest when sizes grow (with
//! `--reps auto` it is an estimate: a run's count is known only when it stops).

use crate::backend::monotonic_s;
use crate::bench::RunContext;
use crate::cli::{Format, SweepArgs};
use crate::error::{Error, Exit};
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::job::Job;
use crate::model::reps::{Reps, Warmup};
use crate::model::vocab::{BackendKind, DeviceSelection, MatOp};
use crate::output::{self, Stdout};
use crate::pipeline::{self, Finished, Opened};
use crate::plan;
use crate::record::RunRecord;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Most runs one sweep may ask for.
pub const MAX_RUNS: usize = 1000;

/// Sizes as a list (`1024,2048`) or a doubling range (`1024..16384`: 1024, 2048, …, 16384).
pub fn parse_sizes(text: &str) -> Result<Vec<usize>, Error> {
    let mut sizes = if let Some((a, b)) = text.split_once("..") {
        let (lo, hi) = (plan::parse_size(a)?, plan::parse_size(b)?);
        if lo > hi {
            return Err(Error::InvalidArgument(format!(
                "--sizes {text}: the range is empty ({lo} > {hi})"
            )));
        }
        std::iter::successors(Some(lo), |&n| n.checked_mul(2))
            .take_while(|&n| n <= hi)
            .collect()
    } else {
        text.split(',')
            .map(plan::parse_size)
            .collect::<Result<Vec<_>, _>>()?
    };
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// `cpu`, `gpu` (or `cuda`), comma-separated, each once.
pub fn parse_devices(text: &str) -> Result<Vec<BackendKind>, Error> {
    let mut kinds = Vec::new();
    for word in text.split(',').map(str::trim) {
        let kind = match word {
            "cpu" => BackendKind::Cpu,
            "gpu" | "cuda" => BackendKind::Cuda,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "--devices: unknown device '{other}' (use cpu, gpu or cpu,gpu)"
                )));
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// Dtype names, comma-separated, each once.
pub fn parse_dtypes(text: &str) -> Result<Vec<DType>, Error> {
    let mut dtypes = Vec::new();
    for word in text.split(',').map(str::trim) {
        let dtype = DType::from_str(word, true).map_err(|_| {
            let known: Vec<&str> = DType::value_variants().iter().map(|d| d.name()).collect();
            Error::InvalidArgument(format!(
                "--dtypes: unknown dtype '{word}' ({})",
                known.join(", ")
            ))
        })?;
        if !dtypes.contains(&dtype) {
            dtypes.push(dtype);
        }
    }
    Ok(dtypes)
}

/// One finished (or failed) run of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRun {
    /// Backend.
    pub backend: BackendKind,
    /// Device name.
    pub device: String,
    /// Element type.
    pub dtype: DType,
    /// Matrix size.
    pub n: usize,
    /// Median matmul time.
    pub median_s: Option<Second>,
    /// The record's `matmul_tflop_per_s` (FLOP of the op / median).
    pub tflop_per_s: Option<f64>,
    /// Verification verdict.
    pub passed: Option<bool>,
    /// The error of s against the exact reference (`verification.sum_rel_error`).
    pub sum_rel_error: Option<f64>,
    /// The largest error of the sampled elements of C (`verification.max_element_rel_error`):
    /// the price of the precision, beside its speed.
    pub max_element_rel_error: Option<f64>,
    /// Where the record was written.
    pub record: Option<String>,
    /// Why the run did not finish, if it did not.
    pub error: Option<String>,
}

impl SweepRun {
    /// The row of a finished run.
    fn of(finished: &Finished) -> SweepRun {
        let r = &finished.record;
        SweepRun {
            backend: r.config.backend,
            device: r.device.name.clone(),
            dtype: r.config.dtype,
            n: r.config.n,
            median_s: Some(r.matmul.median_s),
            tflop_per_s: Some(r.matmul_tflop_per_s),
            passed: Some(r.verification.passed),
            sum_rel_error: Some(r.verification.sum_rel_error),
            max_element_rel_error: Some(r.verification.max_element_rel_error),
            record: finished.saved.as_ref().map(|p| p.display().to_string()),
            error: None,
        }
    }

    /// The row of a run that stopped with `error`.
    fn failed(backend: BackendKind, device: String, job: &Job, error: &Error) -> SweepRun {
        SweepRun {
            backend,
            device,
            dtype: job.dtype,
            n: job.n,
            median_s: None,
            tflop_per_s: None,
            passed: None,
            sum_rel_error: None,
            max_element_rel_error: None,
            record: None,
            error: Some(error.to_string()),
        }
    }
}

/// GPU over CPU for one (dtype, n).
#[derive(Clone, Debug, Serialize)]
pub struct Speedup {
    /// Element type.
    pub dtype: DType,
    /// Matrix size.
    pub n: usize,
    /// GPU TFLOP/s divided by CPU TFLOP/s.
    pub gpu_over_cpu: f64,
}

/// What `sweep --format json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct SweepSummary {
    /// Every run, in the order it ran.
    pub runs: Vec<SweepRun>,
    /// GPU-over-CPU speed-up wherever both ran.
    pub speedup: Vec<Speedup>,
    /// Wall time of the whole sweep.
    pub wall_s: Second,
}

/// GPU over CPU wherever both devices finished the same (dtype, n).
pub fn speedups(runs: &[SweepRun]) -> Vec<Speedup> {
    let mut by_key: BTreeMap<(DType, usize), (Option<f64>, Option<f64>)> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.passed == Some(true)) {
        let slot = by_key.entry((r.dtype, r.n)).or_default();
        match r.backend {
            BackendKind::Cpu => slot.0 = r.tflop_per_s,
            BackendKind::Cuda => slot.1 = r.tflop_per_s,
        }
    }
    by_key
        .into_iter()
        .filter_map(|((dtype, n), (cpu, gpu))| match (cpu, gpu) {
            (Some(c), Some(g)) if c > 0.0 => Some(Speedup {
                dtype,
                n,
                gpu_over_cpu: g / c,
            }),
            _ => None,
        })
        .collect()
}

/// The terminal table: TFLOP/s and the largest element error per device for each (dtype, n)
/// (speed and its price side by side), and the speed-up.
pub fn render_table(summary: &SweepSummary) -> String {
    let mut out = String::new();
    let kinds: Vec<BackendKind> = [BackendKind::Cpu, BackendKind::Cuda]
        .into_iter()
        .filter(|k| summary.runs.iter().any(|r| r.backend == *k))
        .collect();
    let _ = write!(out, "  {:<6} {:>7}", "dtype", "n");
    for k in &kinds {
        let _ = write!(out, " {:>24}", format!("{} TFLOP/s · error", k.name()));
    }
    if kinds.len() == 2 {
        let _ = write!(out, " {:>9}", "GPU/CPU");
    }
    out.push('\n');
    let mut keys: Vec<(DType, usize)> = summary.runs.iter().map(|r| (r.dtype, r.n)).collect();
    keys.dedup();
    for (dtype, n) in keys {
        let _ = write!(out, "  {:<6} {:>7}", dtype.name(), n);
        for k in &kinds {
            let cell = summary
                .runs
                .iter()
                .find(|r| r.backend == *k && r.dtype == dtype && r.n == n);
            let text = match cell {
                Some(SweepRun {
                    tflop_per_s: Some(t),
                    passed: Some(true),
                    max_element_rel_error: e,
                    ..
                }) => match e {
                    Some(e) => format!("{t:.3} · {e:.1e}"),
                    None => format!("{t:.3}"),
                },
                Some(SweepRun {
                    passed: Some(false),
                    ..
                }) => "FAIL".to_string(),
                Some(SweepRun { error: Some(_), .. }) => "error".to_string(),
                _ => "-".to_string(),
            };
            let _ = write!(out, " {text:>24}");
        }
        if kinds.len() == 2 {
            let s = summary
                .speedup
                .iter()
                .find(|s| s.dtype == dtype && s.n == n);
            let _ = write!(
                out,
                " {:>9}",
                s.map_or("-".to_string(), |s| format!("{:.1}×", s.gpu_over_cpu))
            );
        }
        out.push('\n');
    }
    for r in summary.runs.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(
            out,
            "  error: {} {} n = {}: {}",
            r.backend.name(),
            r.dtype,
            r.n,
            r.error.as_deref().unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "  {} runs in {:.1} s",
        summary.runs.len(),
        summary.wall_s
    );
    out
}

/// A sweep's grid, checked: every run it will make is valid before the first starts.
struct Grid {
    sizes: Vec<usize>,
    kinds: Vec<BackendKind>,
    dtypes: Vec<DType>,
    /// Each device's warm-up (the default time floor differs between CPU and GPU).
    warmups: Vec<(BackendKind, Warmup)>,
    reps: Reps,
    threads: usize,
    seed: u64,
}

impl Grid {
    fn of(args: &SweepArgs) -> Result<Grid, Error> {
        let sizes = parse_sizes(&args.sizes)?;
        let kinds = parse_devices(&args.devices)?;
        let dtypes = parse_dtypes(&args.dtypes)?;
        let mut warmups = Vec::new();
        let mut reps = None;
        for &kind in &kinds {
            let (warmup, r) = plan::check_counts(args.warmup, args.warmup_time, kind, &args.reps)?;
            warmups.push((kind, warmup));
            reps = Some(r);
        }
        let reps =
            reps.ok_or_else(|| Error::InvalidArgument("--devices names no device".into()))?;
        for &kind in &kinds {
            for &dtype in &dtypes {
                plan::check_dtype(kind, dtype)?;
                for &n in &sizes {
                    dtype.check_size(n)?;
                }
            }
        }
        let total_runs = sizes.len() * kinds.len() * dtypes.len();
        if total_runs > MAX_RUNS {
            return Err(Error::InvalidArgument(format!(
                "the sweep asks for {total_runs} runs (at most {MAX_RUNS})"
            )));
        }
        Ok(Grid {
            sizes,
            kinds,
            dtypes,
            warmups,
            reps,
            threads: plan::check_threads(args.threads, crate::host::cpu_threads())?,
            seed: plan::seed_or_fresh(args.seed)?,
        })
    }

    fn warmup(&self, kind: BackendKind) -> Warmup {
        self.warmups.iter().find(|(k, _)| *k == kind).map_or(
            Warmup {
                runs: 0,
                min_s: 0.0,
            },
            |(_, w)| *w,
        )
    }

    fn selection(&self, kind: BackendKind, args: &SweepArgs) -> DeviceSelection {
        match kind {
            BackendKind::Cpu => DeviceSelection::Cpu {
                threads: self.threads,
                engine: args.cpu_engine,
                blas_lib: args.blas_lib.clone(),
            },
            BackendKind::Cuda => DeviceSelection::Gpu { index: args.gpu },
        }
    }

    /// Work of one run at n, for the progress bar: n³ per repetition. With `--reps auto` the
    /// count is only known once a run stops, so each run is weighted by its minimum, which
    /// keeps the runs' shares in proportion to n³ and the ETA an estimate.
    fn work(&self, n: usize, warmup: u32) -> u64 {
        (n as u64)
            .pow(3)
            .saturating_mul(u64::from(warmup + self.reps.expected()))
            / 1_000_000
    }

    fn bar(&self, args: &SweepArgs) -> ProgressBar {
        let total: u64 = self
            .sizes
            .iter()
            .map(|&n| self.work(n, args.warmup))
            .sum::<u64>()
            * (self.kinds.len() * self.dtypes.len()) as u64;
        let target = if args.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total.max(1)), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg:<28} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    }
}

/// Opens every backend first, so a missing GPU stops the sweep before any run.
fn open_all(grid: &Grid, args: &SweepArgs) -> Result<Vec<(BackendKind, Opened)>, Error> {
    let mut opened = Vec::new();
    for &kind in &grid.kinds {
        let backend = pipeline::open(&grid.selection(kind, args)).map_err(|e| match e {
            Error::NoDevice(why) if grid.kinds.len() > 1 => Error::NoDevice(format!(
                "{why} (to sweep the CPU alone, pass --devices cpu)"
            )),
            other => other,
        })?;
        opened.push((kind, backend));
    }
    Ok(opened)
}

/// Runs `matbench sweep`.
pub fn run(args: &SweepArgs, ctx: &RunContext, out: &mut Stdout) -> Result<Exit, Error> {
    let sweep_start = monotonic_s();
    let grid = Grid::of(args)?;
    let mut backends = open_all(&grid, args)?;
    let bar = grid.bar(args);
    let mut runs = Vec::new();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut exit = Exit::Success;
    for &dtype in &grid.dtypes {
        for &n in &grid.sizes {
            for (kind, opened) in backends.iter_mut() {
                bar.set_message(format!("{} {dtype} n={n}", kind.name()));
                let job = Job {
                    selection: grid.selection(*kind, args),
                    n,
                    dtype,
                    op: MatOp::Gemm,
                    warmup: grid.warmup(*kind),
                    reps: grid.reps,
                    seed: grid.seed,
                    check: None,
                    require_exclusive: false,
                    line_sums: Default::default(),
                    algo_search: None,
                };
                let device = opened.backend.device().name.clone();
                let (row, run_exit) =
                    match pipeline::measure_and_save(&job, opened, Some(&args.results_dir), ctx) {
                        Ok(finished) => {
                            let row = SweepRun::of(&finished);
                            let run_exit = finished.exit();
                            for problem in finished.problems {
                                bar.suspend(|| {
                                    output::error(&problem.with_hint("pass --results-dir DIR"))
                                });
                            }
                            records.push(finished.record);
                            (row, run_exit)
                        }
                        Err(e) => {
                            bar.suspend(|| {
                                output::error(&Error::device_msg(format!(
                                    "{} {dtype} n = {n}: {e}",
                                    kind.name()
                                )))
                            });
                            (SweepRun::failed(*kind, device, &job, &e), e.exit())
                        }
                    };
                exit = exit.or(run_exit);
                runs.push(row);
                bar.inc(grid.work(n, args.warmup));
            }
        }
    }
    bar.finish_and_clear();
    for (_, opened) in backends {
        opened.leak();
    }
    let summary = SweepSummary {
        speedup: speedups(&runs),
        runs,
        wall_s: monotonic_s() - sweep_start,
    };
    print_summary(args, &summary, &records, out)?;
    Ok(exit)
}

/// The table (or JSON summary) on stdout, and the charts if asked for.
fn print_summary(
    args: &SweepArgs,
    summary: &SweepSummary,
    records: &[RunRecord],
    out: &mut Stdout,
) -> Result<(), Error> {
    match args.format {
        Format::Text => out.write(render_table(summary).as_bytes())?,
        Format::Json => out.write(&crate::record::json::to_bytes(
            summary,
            "the sweep summary",
        )?)?,
    }
    if let Some(dir) = &args.plot_dir
        && !records.is_empty()
    {
        let written = crate::commands::plot::write_charts(records, dir)
            .map_err(|e| e.with_hint("pass --plot-dir DIR"))?;
        for path in written {
            if args.format == Format::Text {
                out.line(&format!("  chart  {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_list_or_doubling_range() {
        assert_eq!(parse_sizes("512,128,512").unwrap(), vec![128, 512]);
        assert_eq!(
            parse_sizes("1024..8192").unwrap(),
            vec![1024, 2048, 4096, 8192]
        );
        assert_eq!(parse_sizes("1000..3000").unwrap(), vec![1000, 2000]);
        assert!(parse_sizes("8..4").is_err());
        assert!(parse_sizes("0,4").is_err());
        assert!(parse_sizes("a..b").is_err());
        assert!(parse_sizes("").is_err());
    }

    #[test]
    fn devices_and_dtypes_are_parsed_once_each() {
        assert_eq!(
            parse_devices("cpu,gpu,cpu").unwrap(),
            vec![BackendKind::Cpu, BackendKind::Cuda]
        );
        assert!(parse_devices("tpu").is_err());
        assert_eq!(
            parse_dtypes("f32,f64,f32").unwrap(),
            vec![DType::F32, DType::F64]
        );
        assert!(parse_dtypes("f8").is_err());
    }

    fn row(backend: BackendKind, n: usize, t: f64) -> SweepRun {
        SweepRun {
            backend,
            device: "d".into(),
            dtype: DType::F32,
            n,
            median_s: Some(1.0),
            tflop_per_s: Some(t),
            passed: Some(true),
            sum_rel_error: Some(1e-8),
            max_element_rel_error: Some(2.5e-6),
            record: None,
            error: None,
        }
    }

    #[test]
    fn speedup_needs_both_devices_and_the_table_shows_it() {
        let runs = vec![
            row(BackendKind::Cpu, 64, 0.5),
            row(BackendKind::Cuda, 64, 20.0),
            row(BackendKind::Cpu, 128, 0.6),
        ];
        let s = speedups(&runs);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].n, s[0].gpu_over_cpu), (64, 40.0));
        let table = render_table(&SweepSummary {
            runs,
            speedup: s,
            wall_s: 1.0,
        });
        assert!(table.contains("40.0×"), "{table}");
        assert!(
            table.contains("20.000 · 2.5e-6"),
            "the error beside the speed: {table}"
        );
        assert!(table.contains("cuda TFLOP/s"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.contains("128") && l.trim_end().ends_with('-')),
            "{table}"
        );
    }
}
