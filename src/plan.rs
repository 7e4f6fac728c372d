//! Raw arguments in, a validated [`Plan`] out. Everything a user can get wrong on the command
//! line is caught here, with one sentence saying what is wrong; nothing later re-validates.
//! (Device memory is checked by the backend before it allocates: only it can see the device.)

use crate::cli::{CpuArgs, Format, GpuArgs, RunArgs};
use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::job::{CheckRule, Job};
use crate::model::reps::{MAX_DURATION_S, MAX_REPS, Reps, Warmup, default_warmup_min_s};
use crate::model::vocab::{AlgoMode, BackendKind, DeviceSelection, MatOp};
use std::path::PathBuf;

/// Largest n accepted (A alone would need 4 TiB in f32).
pub const MAX_N: usize = 1 << 20;
/// Most warm-up repetitions accepted.
pub const MAX_WARMUP: u32 = 10_000;
/// Longest `--warmup-time` accepted, in seconds.
pub const MAX_WARMUP_TIME_S: Second = 60.0;
/// Most CPU threads accepted, as a multiple of the logical CPUs: more threads than that only
/// make a run slower (a tiny run on 4096 threads of a 2-core machine takes minutes).
pub const MAX_THREADS_PER_CPU: usize = 4;
/// `--max-time` when `--reps auto` is given without it.
pub const DEFAULT_MAX_TIME_S: Second = 10.0;
/// Longest `--max-time` accepted (an hour of repetitions per run).
pub const MAX_MAX_TIME_S: Second = 3600.0;

/// A `gpu` or `cpu` command, checked and ready: what to measure, and where the output goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// What the run measures.
    pub job: Job,
    /// Output on stdout.
    pub format: Format,
    /// Where to save the record, `None` for `--no-save`.
    pub results_dir: Option<PathBuf>,
}

/// Longest `--timeout` accepted (a week).
pub const MAX_TIMEOUT_S: Second = 7.0 * 24.0 * 3600.0;

/// Checks `--timeout` (before anything else runs: the watchdog is armed first).
pub fn check_timeout(timeout: Option<f64>) -> Result<Option<Second>, Error> {
    match timeout {
        Some(t) if !(t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT_S) => {
            Err(Error::InvalidArgument(format!(
                "--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_S} (a week), got {t}"
            )))
        }
        t => Ok(t),
    }
}

/// Parses the matrix size the way a user types it.
pub fn parse_size(text: &str) -> Result<usize, Error> {
    let t = text.trim();
    let value: i128 = t.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "matrix size must be a positive whole number, got '{text}'"
        ))
    })?;
    if value <= 0 {
        return Err(Error::InvalidArgument(format!(
            "matrix size must be at least 1, got {value}"
        )));
    }
    if value > MAX_N as i128 {
        return Err(Error::InvalidArgument(format!(
            "matrix size {value} is too large: at most {MAX_N} (A alone would need {} TiB in f32)",
            value.saturating_mul(value).saturating_mul(4) >> 40
        )));
    }
    Ok(value as usize)
}

/// Refuses a dtype the backend does not compute.
pub fn check_dtype(kind: BackendKind, dtype: DType) -> Result<(), Error> {
    if kind.supported_dtypes().contains(&dtype) {
        return Ok(());
    }
    let names: Vec<&str> = kind.supported_dtypes().iter().map(|d| d.name()).collect();
    Err(Error::InvalidArgument(format!(
        "the {} backend does not support --dtype {dtype} yet (supported: {})",
        kind.name(),
        names.join(", ")
    )))
}

/// Checks `--warmup`, `--warmup-time`, `--reps` and `--max-time` together: `--reps` is a count from 1 to
/// [`MAX_REPS`] or the word `auto`; `--max-time` is a finite number of seconds in
/// (0, [`MAX_MAX_TIME_S`]] and only goes with `--reps auto`.
/// `--warmup-time` is a finite number of seconds from 0 to [`MAX_WARMUP_TIME_S`].
pub fn check_counts(
    warmup: u32,
    warmup_time: Option<f64>,
    kind: BackendKind,
    reps: &crate::cli::RepsArgs,
) -> Result<(Warmup, Reps), Error> {
    let warmup_time = warmup_time.unwrap_or_else(|| default_warmup_min_s(kind));
    let warmup = check_warmup(warmup, warmup_time)?;
    match reps.duration {
        Some(seconds) => Ok((warmup, check_duration(seconds, reps)?)),
        None => Ok((warmup, check_reps(&reps.reps, reps.max_time)?)),
    }
}

/// `--duration`: a finite number of seconds in (0, [`MAX_DURATION_S`]], instead of a count;
/// `--reps auto` and `--max-time` are refused beside it (a count is simply replaced).
fn check_duration(seconds: f64, reps: &crate::cli::RepsArgs) -> Result<Reps, Error> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_DURATION_S) {
        return Err(Error::InvalidArgument(format!(
            "--duration must be a number of seconds above 0 and at most {MAX_DURATION_S} (an hour), got {seconds}"
        )));
    }
    if reps.reps.trim().eq_ignore_ascii_case("auto") || reps.max_time.is_some() {
        return Err(Error::InvalidArgument(
            "--duration runs for a time, --reps auto until the median is known: choose one (drop --reps auto and --max-time)".into(),
        ));
    }
    Ok(Reps::Duration { seconds })
}

fn check_warmup(runs: u32, min_s: f64) -> Result<Warmup, Error> {
    if runs > MAX_WARMUP {
        return Err(Error::InvalidArgument(format!(
            "--warmup {runs} is too many (at most {MAX_WARMUP})"
        )));
    }
    if !min_s.is_finite() || !(0.0..=MAX_WARMUP_TIME_S).contains(&min_s) {
        return Err(Error::InvalidArgument(format!(
            "--warmup-time must be a number of seconds from 0 to {MAX_WARMUP_TIME_S}, got {min_s}"
        )));
    }
    Ok(Warmup { runs, min_s })
}

fn check_reps(reps_text: &str, max_time: Option<f64>) -> Result<Reps, Error> {
    if let Some(t) = max_time {
        check_max_time(t)?;
    }
    let text = reps_text.trim();
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Reps::Auto {
            max_time_s: max_time.unwrap_or(DEFAULT_MAX_TIME_S),
        });
    }
    let count: i128 = text.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "--reps must be a count (1 to {MAX_REPS}) or auto, got '{reps_text}'"
        ))
    })?;
    if count < 1 {
        return Err(Error::InvalidArgument(format!(
            "--reps must be at least 1, or auto (got '{reps_text}')"
        )));
    }
    if count > i128::from(MAX_REPS) {
        return Err(Error::InvalidArgument(format!(
            "--reps {count} is too many (at most {MAX_REPS}; --reps auto stops on its own)"
        )));
    }
    if let Some(t) = max_time {
        return Err(Error::InvalidArgument(format!(
            "--max-time {t} only applies to --reps auto (--reps is {count}): pass --reps auto, or drop --max-time"
        )));
    }
    // In range: 1 ≤ count ≤ MAX_REPS fits a u32.
    Ok(Reps::Fixed(count as u32))
}

/// Refuses a `--max-time` that is not a finite number of seconds in (0, [`MAX_MAX_TIME_S`]].
fn check_max_time(seconds: f64) -> Result<(), Error> {
    if !seconds.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "--max-time must be a finite number of seconds, got {seconds}"
        )));
    }
    if seconds <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "--max-time must be more than 0 seconds, got {seconds}"
        )));
    }
    if seconds > MAX_MAX_TIME_S {
        return Err(Error::InvalidArgument(format!(
            "--max-time {seconds} is too long (at most {MAX_MAX_TIME_S} seconds per run)"
        )));
    }
    Ok(())
}

/// The thread count to use: the default, or a checked `--threads`.
pub fn check_threads(threads: Option<usize>, cpu_threads: usize) -> Result<usize, Error> {
    let threads = threads.unwrap_or(cpu_threads.max(1));
    if threads == 0 {
        return Err(Error::InvalidArgument(
            "--threads must be at least 1".into(),
        ));
    }
    let most = MAX_THREADS_PER_CPU * cpu_threads.max(1);
    if threads > most {
        return Err(Error::InvalidArgument(format!(
            "--threads {threads} is too many for {} logical CPUs (at most {most}, \
             {MAX_THREADS_PER_CPU} per CPU)",
            cpu_threads.max(1)
        )));
    }
    Ok(threads)
}

/// `--seed`, or a fresh one below 2⁵³ ([`crate::philox::fresh_seed`]).
pub fn seed_or_fresh(seed: Option<u64>) -> Result<u64, Error> {
    match seed {
        Some(s) => Ok(s),
        None => crate::philox::fresh_seed()
            .map_err(|e| Error::System(format!("the OS random source failed: {e}"))),
    }
}

fn common(run: &RunArgs, kind: BackendKind) -> Result<(usize, Warmup, Reps, u64), Error> {
    let n = parse_size(&run.size)?;
    check_timeout(run.timeout)?;
    check_dtype(kind, run.dtype)?;
    run.dtype.check_size(n)?;
    if run.op == MatOp::Syrk && !matches!(run.dtype, DType::F32 | DType::F64) {
        return Err(Error::InvalidArgument(format!(
            "--op syrk runs in f32 or f64 (cuBLAS has no real {} SYRK); use --op gemm for --dtype {}",
            run.dtype, run.dtype
        )));
    }
    let (warmup, reps) = check_counts(run.warmup, run.warmup_time, kind, &run.reps)?;
    Ok((n, warmup, reps, seed_or_fresh(run.seed)?))
}

fn finish(
    run: &RunArgs,
    selection: DeviceSelection,
    (n, warmup, reps, seed): (usize, Warmup, Reps, u64),
) -> Plan {
    Plan {
        job: Job {
            selection,
            n,
            dtype: run.dtype,
            op: run.op,
            warmup,
            reps,
            seed,
            check: None,
            require_exclusive: false,
            line_sums: Default::default(),
            algo_search: None,
        },
        format: run.format,
        results_dir: (!run.no_save).then(|| run.results_dir.clone()),
    }
}

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
        if out.contains(&index) {
            return Err(Error::InvalidArgument(format!(
                "--gpu names GPU {index} twice: each GPU runs once (give each ordinal once, or all)"
            )));
        }
        out.push(index);
    }
    Ok(out)
}

/// `matbench gpu …` → plan.
/// `index` is the (first) GPU; `matbench gpu --gpu LIST` plans once and runs the plan on each.
pub fn gpu_plan(args: &GpuArgs, index: usize) -> Result<Plan, Error> {
    let c = common(&args.run, BackendKind::Cuda)?;
    if !(args.slow_margin.is_finite() && (0.0..100.0).contains(&args.slow_margin)) {
        return Err(Error::InvalidArgument(format!(
            "--slow-margin must be a percentage from 0 to under 100, got {}",
            args.slow_margin
        )));
    }
    if !(args.min_share.is_finite() && (0.0..=100.0).contains(&args.min_share)) {
        return Err(Error::InvalidArgument(format!(
            "--min-share must be a percentage from 0 to 100, got {}",
            args.min_share
        )));
    }
    let mut plan = finish(&args.run, DeviceSelection::Gpu { index }, c);
    plan.job.check = args.check.then_some(CheckRule {
        min_share: args.min_share / 100.0,
    });
    plan.job.require_exclusive = args.require_exclusive;
    plan.job.line_sums = args.line_sums;
    plan.job.algo_search = match args.algo {
        AlgoMode::Default => {
            if args.cache_dir.is_some() {
                return Err(Error::InvalidArgument(
                    "--cache-dir is for --algo search".into(),
                ));
            }
            None
        }
        AlgoMode::Search => {
            if plan.job.op == MatOp::Syrk {
                return Err(Error::InvalidArgument(
                    crate::backend::cuda::algo::SYRK_NOT_SEARCHED.into(),
                ));
            }
            let dir = match &args.cache_dir {
                Some(d) => d.clone(),
                None => crate::backend::cuda::algo::default_cache_dir()?,
            };
            if plan.results_dir.as_deref() == Some(dir.as_path()) {
                return Err(Error::InvalidArgument(format!(
                    "--cache-dir {} is the results directory, whose readers take every file there for a record: choose another",
                    dir.display()
                )));
            }
            Some(dir)
        }
    };
    Ok(plan)
}

/// `matbench cpu …` → plan; `cpu_threads` is the default thread count (all logical CPUs).
pub fn cpu_plan(args: &CpuArgs, cpu_threads: usize) -> Result<Plan, Error> {
    let c = common(&args.run, BackendKind::Cpu)?;
    let threads = check_threads(args.threads, cpu_threads)?;
    Ok(finish(
        &args.run,
        DeviceSelection::Cpu {
            threads,
            engine: args.cpu_engine,
            blas_lib: args.blas_lib.clone(),
        },
        c,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn plan_of(args: &[&str]) -> Result<Plan, Error> {
        let cli = Cli::try_parse_from(std::iter::once("matbench").chain(args.iter().copied()))
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        match cli.command {
            Command::Gpu(g) => gpu_plan(&g, 0),
            Command::Cpu(c) => cpu_plan(&c, 8),
            _ => Err(Error::InvalidArgument("not a run".into())),
        }
    }

    #[test]
    fn the_scripts_form_gives_defaults() {
        let p = plan_of(&["gpu", "10000"]).unwrap();
        let j = &p.job;
        assert_eq!(
            (j.n, j.dtype, j.warmup, j.reps),
            (
                10_000,
                DType::F32,
                Warmup {
                    runs: 2,
                    min_s: 0.0
                },
                Reps::Fixed(10)
            )
        );
        assert_eq!(j.selection, DeviceSelection::Gpu { index: 0 });
        let default_dir =
            std::env::var_os("MATBENCH_RESULTS_DIR").unwrap_or_else(|| "results".into());
        assert_eq!(p.results_dir, Some(PathBuf::from(default_dir)));
        let c = plan_of(&["cpu", "64", "--seed", "9", "--no-save", "--warmup", "0"]).unwrap();
        assert_eq!(
            c.job.selection,
            DeviceSelection::Cpu {
                threads: 8,
                engine: crate::model::vocab::CpuEngine::Auto,
                blas_lib: None,
            }
        );
        assert_eq!((c.job.seed, c.job.warmup.runs, c.results_dir), (9, 0, None));
        // The CPU warms up for half a second at least by default; a given time wins.
        let cpu = plan_of(&["cpu", "64"]).unwrap().job.warmup;
        assert_eq!(cpu.min_s, crate::model::reps::CPU_DEFAULT_WARMUP_MIN_S);
        let given = plan_of(&["gpu", "64", "--warmup-time", "2"])
            .unwrap()
            .job
            .warmup;
        assert_eq!((given.runs, given.min_s), (2, 2.0));
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        for (size, needle) in [
            ("0", "at least 1"),
            ("-5", "at least 1"),
            ("abc", "positive whole number"),
            ("1.5", "positive whole number"),
            ("99999999999999999999999", "too large"),
            ("2000000", "too large"),
        ] {
            let err = plan_of(&["cpu", size]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(needle), "{size}: {err}");
        }
    }

    #[test]
    fn bad_counts_and_dtypes_are_refused() {
        for args in [
            &["cpu", "8", "--reps", "0"][..],
            &["cpu", "8", "--reps", "1000000"],
            &["cpu", "8", "--warmup", "20000"],
            &["cpu", "8", "--warmup-time", "-1"],
            &["cpu", "8", "--warmup-time", "61"],
            &["cpu", "8", "--warmup-time", "nan"],
            &["cpu", "8", "--warmup-time", "inf"],
            &["cpu", "8", "--threads", "0"],
            &["cpu", "8", "--timeout", "0"],
            &["cpu", "8", "--timeout", "-3"],
            &["cpu", "8", "--timeout", "inf"],
            &["gpu", "8", "--timeout", "1e9"],
            &["cpu", "8", "--threads", "100000"],
            &["cpu", "8", "--threads", "33"],
            &["cpu", "8", "--dtype", "bf16"],
            &["cpu", "8", "--dtype", "tf32"],
        ] {
            let err = plan_of(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let err = plan_of(&["cpu", "8", "--dtype", "f16"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("supported: f32, f64"), "{err}");
    }

    #[test]
    fn duration_replaces_the_count_and_refuses_auto() {
        let reps = |args: &[&str]| plan_of(args).map(|p| p.job.reps);
        assert_eq!(
            reps(&["gpu", "64", "--duration", "60"]).unwrap(),
            Reps::Duration { seconds: 60.0 }
        );
        assert_eq!(
            reps(&["cpu", "64", "--reps", "3", "--duration", "0.5"]).unwrap(),
            Reps::Duration { seconds: 0.5 }
        );
        for bad in [
            &["gpu", "64", "--duration", "0"][..],
            &["gpu", "64", "--duration", "-5"],
            &["gpu", "64", "--duration", "nan"],
            &["gpu", "64", "--duration", "3601"],
            &["gpu", "64", "--duration", "5", "--reps", "auto"],
            &["gpu", "64", "--duration", "5", "--max-time", "3"],
        ] {
            assert_eq!(plan_of(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn check_carries_its_floor_and_a_floor_outside_0_to_100_is_refused() {
        let check = |args: &[&str]| plan_of(args).map(|p| p.job.check);
        assert_eq!(check(&["gpu", "64"]).unwrap(), None);
        assert_eq!(
            check(&["gpu", "64", "--check"]).unwrap(),
            Some(CheckRule { min_share: 0.5 })
        );
        assert_eq!(
            check(&["gpu", "64", "--check", "--min-share", "70"]).unwrap(),
            Some(CheckRule { min_share: 0.7 })
        );
        for bad in ["101", "-1", "nan"] {
            let e = plan_of(&["gpu", "64", "--check", "--min-share", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        let alone = plan_of(&["gpu", "64", "--min-share", "70"]).unwrap_err();
        assert!(
            alone.to_string().contains("--check"),
            "a floor without --check: {alone}"
        );
    }

    #[test]
    fn reps_is_a_count_or_auto_with_a_time_budget() {
        let reps = |args: &[&str]| plan_of(args).map(|p| p.job.reps);
        assert_eq!(reps(&["cpu", "8", "--reps", "1"]).unwrap(), Reps::Fixed(1));
        assert_eq!(
            reps(&["cpu", "8", "--reps", "100000"]).unwrap(),
            Reps::Fixed(MAX_REPS)
        );
        assert_eq!(
            reps(&["cpu", "8", "--reps", "auto"]).unwrap(),
            Reps::Auto {
                max_time_s: DEFAULT_MAX_TIME_S
            }
        );
        assert_eq!(
            reps(&["gpu", "8", "--reps", "AUTO", "--max-time", "0.5"]).unwrap(),
            Reps::Auto { max_time_s: 0.5 }
        );
        assert_eq!(
            reps(&["cpu", "8", "--max-time", "3600", "--reps", "auto"]).unwrap(),
            Reps::Auto { max_time_s: 3600.0 }
        );
        assert_eq!(Reps::Fixed(7).expected(), 7);
        assert_eq!(Reps::Auto { max_time_s: 1.0 }.expected(), 5);
    }

    #[test]
    fn bad_reps_and_max_time_are_refused_with_a_reason() {
        for (args, needle) in [
            (&["--reps", "0"][..], "--reps must be at least 1"),
            (&["--reps", "-1"], "'-1'"),
            (&["--reps", "100001"], "too many"),
            (&["--reps", "99999999999999999999999999"], "too many"),
            (
                &["--reps", "fast"],
                "count (1 to 100000) or auto, got 'fast'",
            ),
            (&["--reps", "2.5"], "got '2.5'"),
            (&["--reps", ""], "got ''"),
            (&["--reps", "auto", "--max-time", "0"], "more than 0"),
            (&["--reps", "auto", "--max-time", "-1"], "more than 0"),
            (&["--reps", "auto", "--max-time", "nan"], "finite"),
            (&["--reps", "auto", "--max-time", "inf"], "finite"),
            (&["--reps", "auto", "--max-time", "3601"], "too long"),
            (&["--max-time", "5"], "only applies to --reps auto"),
            (&["--reps", "20", "--max-time", "5"], "(--reps is 20)"),
            (&["--max-time", "0"], "more than 0"),
        ] {
            let full: Vec<&str> = ["cpu", "8"].iter().chain(args).copied().collect();
            let err = plan_of(&full).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn gpu_lists_and_all() {
        assert_eq!(parse_gpus("0", || Ok(4)).unwrap(), vec![0]);
        assert_eq!(parse_gpus("1,0", || Ok(4)).unwrap(), vec![1, 0]);
        let twice = parse_gpus("0,0", || Ok(4)).unwrap_err();
        assert_eq!(twice.exit_code(), 2);
        assert!(twice.to_string().contains("GPU 0 twice"), "{twice}");
        assert_eq!(parse_gpus("all", || Ok(3)).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_gpus("all", || Ok(0)).unwrap_err().exit_code(), 3);
        assert_eq!(parse_gpus("one", || Ok(1)).unwrap_err().exit_code(), 2);
        assert_eq!(parse_gpus("-1", || Ok(1)).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn fresh_seeds_differ() {
        let a = plan_of(&["cpu", "8"]).unwrap().job.seed;
        let b = plan_of(&["cpu", "8"]).unwrap().job.seed;
        assert_ne!(a, b);
    }
}
