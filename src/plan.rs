//! Raw arguments in, a validated [`Plan`] out. Everything a user can get wrong on the command
//! line is caught here, with one sentence saying what is wrong; nothing later re-validates.
//! (Device memory is checked by the backend before it allocates: only it can see the device.)

use crate::backend::{BackendKind, DeviceSelection};
use crate::cli::{CpuArgs, Format, GpuArgs, RunArgs};
use crate::dtype::DType;
use crate::error::Error;
use std::path::PathBuf;

/// Largest n accepted (A alone would need 4 TiB in f32).
pub const MAX_N: usize = 1 << 20;
/// Most measured repetitions accepted.
pub const MAX_REPS: u32 = 100_000;
/// Most warm-up repetitions accepted.
pub const MAX_WARMUP: u32 = 10_000;
/// Most CPU threads accepted.
pub const MAX_THREADS: usize = 4096;

/// A run, checked and ready.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Device and its settings.
    pub selection: DeviceSelection,
    /// Matrix size.
    pub n: usize,
    /// Element type (supported by the selected backend).
    pub dtype: DType,
    /// Untimed repetitions.
    pub warmup: u32,
    /// Measured repetitions (≥ 1).
    pub reps: u32,
    /// Philox seed.
    pub seed: u64,
    /// Output on stdout.
    pub format: Format,
    /// Where to save the record, `None` for `--no-save`.
    pub results_dir: Option<PathBuf>,
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

/// Refuses repetition counts of zero (reps) or absurd size.
pub fn check_counts(warmup: u32, reps: u32) -> Result<(), Error> {
    if reps == 0 {
        return Err(Error::InvalidArgument("--reps must be at least 1".into()));
    }
    if reps > MAX_REPS {
        return Err(Error::InvalidArgument(format!(
            "--reps {reps} is too many (at most {MAX_REPS})"
        )));
    }
    if warmup > MAX_WARMUP {
        return Err(Error::InvalidArgument(format!(
            "--warmup {warmup} is too many (at most {MAX_WARMUP})"
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
    if threads > MAX_THREADS {
        return Err(Error::InvalidArgument(format!(
            "--threads {threads} is too many (at most {MAX_THREADS})"
        )));
    }
    Ok(threads)
}

/// `--seed`, or a fresh one from the OS.
pub fn seed_or_fresh(seed: Option<u64>) -> Result<u64, Error> {
    match seed {
        Some(s) => Ok(s),
        None => {
            getrandom::u64().map_err(|e| Error::Device(format!("the OS random source failed: {e}")))
        }
    }
}

fn common(run: &RunArgs, kind: BackendKind) -> Result<(usize, u32, u32, u64), Error> {
    let n = parse_size(&run.size)?;
    check_dtype(kind, run.dtype)?;
    check_counts(run.warmup, run.reps)?;
    Ok((n, run.warmup, run.reps, seed_or_fresh(run.seed)?))
}

fn finish(
    run: &RunArgs,
    selection: DeviceSelection,
    (n, warmup, reps, seed): (usize, u32, u32, u64),
) -> Plan {
    Plan {
        selection,
        n,
        dtype: run.dtype,
        warmup,
        reps,
        seed,
        format: run.format,
        results_dir: (!run.no_save).then(|| run.results_dir.clone()),
    }
}

/// `matbench gpu …` → plan.
pub fn gpu_plan(args: &GpuArgs) -> Result<Plan, Error> {
    let c = common(&args.run, BackendKind::Cuda)?;
    Ok(finish(
        &args.run,
        DeviceSelection::Gpu { index: args.gpu },
        c,
    ))
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
            Command::Gpu(g) => gpu_plan(&g),
            Command::Cpu(c) => cpu_plan(&c, 8),
            _ => Err(Error::InvalidArgument("not a run".into())),
        }
    }

    #[test]
    fn seed_compatible_form_gives_defaults() {
        let p = plan_of(&["gpu", "10000"]).unwrap();
        assert_eq!(
            (p.n, p.dtype, p.warmup, p.reps),
            (10_000, DType::F32, 2, 10)
        );
        assert_eq!(p.selection, DeviceSelection::Gpu { index: 0 });
        let default_dir =
            std::env::var_os("MATBENCH_RESULTS_DIR").unwrap_or_else(|| "results".into());
        assert_eq!(p.results_dir, Some(PathBuf::from(default_dir)));
        let c = plan_of(&["cpu", "64", "--seed", "9", "--no-save", "--warmup", "0"]).unwrap();
        assert_eq!(
            c.selection,
            DeviceSelection::Cpu {
                threads: 8,
                engine: crate::backend::CpuEngine::Faer
            }
        );
        assert_eq!((c.seed, c.warmup, c.results_dir), (9, 0, None));
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
            &["cpu", "8", "--threads", "0"],
            &["cpu", "8", "--threads", "100000"],
            &["gpu", "8", "--dtype", "bf16"],
            &["cpu", "8", "--dtype", "tf32"],
        ] {
            let err = plan_of(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let err = plan_of(&["gpu", "8", "--dtype", "f16"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("supported: f32, f64"), "{err}");
    }

    #[test]
    fn fresh_seeds_differ() {
        let a = plan_of(&["cpu", "8"]).unwrap().seed;
        let b = plan_of(&["cpu", "8"]).unwrap().seed;
        assert_ne!(a, b);
    }
}
