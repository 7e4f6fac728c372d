//! The run loop: prepare, generate, warm up, repeat until [`stopping::decide`] says so, verify,
//! and assemble the record. Written once against [`Backend`]; the clocks are the backend's
//! (device timers for the phases, [`Backend::wall_clock_s`] for budgets and one-off phases).

use crate::backend::{Backend, Iteration, monotonic_s};
use crate::bench::stopping::{self, RunningMedian};
use crate::error::Error;
use crate::model::Second;
use crate::model::job::Job;
use crate::model::reps::{Reps, RepsMode};
use crate::model::stats::Summary;
use crate::model::vocab::BackendKind;
use crate::model::vocab::{DeviceSelection, LineSumsMode};
use crate::record::peak::PeakRecord;
use crate::record::telemetry::Telemetry;
use crate::record::{ConfigRecord, Phases, Repetitions, RunRecord, SCHEMA_VERSION, Verification};
use crate::verify;
use crate::watchdog::Stage;
use std::collections::BTreeMap;

/// The git commit baked in by `build.rs`.
pub const GIT_COMMIT: &str = env!("MATBENCH_GIT_COMMIT");

/// Where the run sits in its process: what the record says about everything outside the loop.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// How long opening the backend took.
    pub startup_s: Second,
    /// [`monotonic_s`] when `main` began (for the record's `process_s`).
    pub process_start_s: Second,
    /// The command line, as given.
    pub args: Vec<String>,
}

/// What the measuring loop leaves behind.
struct Measured {
    /// Warm-up repetitions run (the count, and more to reach the time floor).
    warmup_runs: u32,
    generate_s: Second,
    tune_s: Option<Second>,
    /// The TensorFlow script's figure: generate + first matmul + reduce, result on the host.
    script_time_s: Second,
    /// Every repetition, warm-up first.
    iterations: Vec<Iteration>,
    repetitions: Repetitions,
    telemetry: Option<Result<crate::telemetry::Sampler, String>>,
    /// When each measured repetition ended, seconds after measuring started.
    ends_s: Vec<Second>,
    /// The backend's clock when measuring started.
    measuring_at: Second,
    /// Every repetition's row and column sums, checked (where the backend offers them).
    lines: Option<crate::record::LineSums>,
    /// Seconds spent on their reference, before the warm-up.
    line_reference_s: Option<Second>,
}

/// Runs `job` on an opened `backend`. Verification failure is not an error here: it is in the
/// record.
pub fn run(job: &Job, backend: &mut dyn Backend, ctx: &RunContext) -> Result<RunRecord, Error> {
    let started_utc = chrono::Utc::now();
    backend.set_op(job.op)?;
    let device = job.selection.label();
    let stage = |now: Stage| crate::watchdog::stage(&device, now);
    backend.set_algo_search(job.algo_search.clone())?;
    stage(Stage::Allocating { n: job.n });
    backend.prepare(job.n, job.dtype)?;
    let _draft = DraftGuard(device.clone());
    if let Ok(mut drafts) = drafts().lock() {
        drafts.retain(|d| d.device != device);
        drafts.push(Draft {
            device: device.clone(),
            job: job.clone(),
            ctx: ctx.clone(),
            started_utc: started_utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            config: config_record(job, backend, 0, 0),
            device_record: backend.device().clone(),
            math_mode: backend.math_mode(job.dtype),
            startup_steps_s: backend.startup_steps().into_iter().collect(),
            generate_s: 0.0,
            iterations: Vec::new(),
            warmup_runs: None,
        });
    }
    if job.require_exclusive {
        refuse_shared(&device, backend)?;
    }
    let measured = measure(job, backend, &stage, &device)?;
    let warmup_runs = measured.warmup_runs;
    stage(Stage::Verifying);
    let (mut verification, verify_s, mut verify_steps_s) =
        verify_run(job, backend, &measured.iterations)?;
    if let Some(lines) = measured.lines.clone() {
        verification.passed &= lines.failed_repetitions == 0;
        verification.line_sums = Some(lines);
    }
    if let Some(t) = measured.line_reference_s {
        verify_steps_s.insert("line sums' reference (before the warm-up)".into(), t);
    }
    let measured_reps = &measured.iterations[measured.warmup_runs as usize..];
    let summary = |f: fn(&Iteration) -> f64| {
        Summary::from_samples(&measured_reps.iter().map(f).collect::<Vec<_>>())
            .ok_or_else(|| Error::device_msg("a device timer returned no valid time"))
    };
    let matmul = summary(|i| i.matmul_s)?;
    let reduce = summary(|i| i.reduce_s)?;
    let reduce_median_s = reduce.median_s;
    let flop_per_matmul = job.op.flop(job.n);
    let per_s = |flop: f64| flop / matmul.median_s.max(f64::MIN_POSITIVE) / 1e12;
    let matmul_tflop_per_s = per_s(flop_per_matmul);
    let (telemetry, samples, health) = match measured.telemetry {
        Some(Ok(sampler)) => {
            let r = sampler.finish(matmul_tflop_per_s);
            (Some(r.telemetry), r.samples, Some(r.health))
        }
        Some(Err(reason)) => (Some(Telemetry::unavailable(reason)), Vec::new(), None),
        None => (None, Vec::new(), None),
    };
    let soak = match job.reps {
        Reps::Duration { seconds } => Some(super::soak::summarise(
            seconds,
            flop_per_matmul,
            &measured_reps.iter().map(|i| i.matmul_s).collect::<Vec<_>>(),
            &measured.ends_s,
            &samples,
            measured.measuring_at,
        )),
        _ => None,
    };
    let phases = Phases {
        startup_s: ctx.startup_s,
        startup_steps_s: backend.startup_steps().into_iter().collect(),
        generate_s: measured.generate_s,
        tune_s: measured.tune_s,
        verify_s,
        verify_steps_s,
        script_time_taken_s: ctx.startup_s + measured.script_time_s,
        process_s: monotonic_s() - ctx.process_start_s,
    };
    Ok(RunRecord {
        schema_version: SCHEMA_VERSION,
        matbench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: GIT_COMMIT.to_string(),
        started_utc: started_utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        args: ctx.args.clone(),
        config: config_record(job, backend, warmup_runs, measured_reps.len()),
        host: crate::host::host_record(),
        device: backend.device().clone(),
        math_mode: backend.math_mode(job.dtype),
        flop_per_matmul,
        phases,
        matmul_tflop_per_s,
        matmul_gemm_equivalent_tflop_per_s: per_s(crate::model::vocab::MatOp::Gemm.flop(job.n)),
        matmul,
        reduce,
        repetitions: Some(measured.repetitions),
        sum: measured.iterations.last().map_or(f64::NAN, |i| i.sum),
        verification,
        telemetry,
        peak: (backend.kind() == BackendKind::Cuda).then(|| {
            PeakRecord::for_gpu(
                &backend.device().name,
                (job.dtype, job.op, job.n),
                matmul_tflop_per_s,
                reduce_median_s,
            )
        }),
        check: None,
        soak,
        health,
        timed_out: None,
        algo: backend.algo_record(),
    })
}

/// A run in progress, kept beside it so that a run stopped by `--timeout` still leaves a record
/// of what it measured ([`salvage`]): the watchdog's thread builds it while the run's own
/// thread is stuck in the driver, so nothing here touches the backend.
struct Draft {
    device: String,
    job: Job,
    ctx: RunContext,
    started_utc: String,
    config: ConfigRecord,
    device_record: crate::record::DeviceRecord,
    math_mode: String,
    startup_steps_s: BTreeMap<String, Second>,
    generate_s: Second,
    iterations: Vec<Iteration>,
    /// Warm-up repetitions, once measuring has begun.
    warmup_runs: Option<u32>,
}

fn drafts() -> &'static std::sync::Mutex<Vec<Draft>> {
    static DRAFTS: std::sync::OnceLock<std::sync::Mutex<Vec<Draft>>> = std::sync::OnceLock::new();
    DRAFTS.get_or_init(|| std::sync::Mutex::new(Vec::new()))
}

/// Updates the draft of the run on `device`, if there is one.
fn draft_update(device: &str, f: impl FnOnce(&mut Draft)) {
    if let Ok(mut drafts) = drafts().lock()
        && let Some(d) = drafts.iter_mut().find(|d| d.device == device)
    {
        f(d);
    }
}

/// Removes the run's draft when the run ends, however it ends.
struct DraftGuard(String);

impl Drop for DraftGuard {
    fn drop(&mut self) {
        if let Ok(mut drafts) = drafts().lock() {
            drafts.retain(|d| d.device != self.0);
        }
    }
}

/// The records of the runs in progress that measured at least one repetition, marked
/// `timed_out` (limit `limit_s`, stopped `at`), without verification. Called by the watchdog
/// when `--timeout` passes.
pub fn salvage(limit_s: Second, at: &str) -> Vec<RunRecord> {
    // `try_lock`: a run thread stuck while holding the lock must not stop the verdict.
    let Ok(drafts) = drafts().try_lock() else {
        return Vec::new();
    };
    drafts
        .iter()
        .filter_map(|d| salvaged(d, limit_s, at))
        .collect()
}

fn salvaged(d: &Draft, limit_s: Second, at: &str) -> Option<RunRecord> {
    let warmup_runs = d.warmup_runs?;
    let measured = d.iterations.get(warmup_runs as usize..)?;
    let matmul = Summary::from_samples(&measured.iter().map(|i| i.matmul_s).collect::<Vec<_>>())?;
    let reduce = Summary::from_samples(&measured.iter().map(|i| i.reduce_s).collect::<Vec<_>>())?;
    let job = &d.job;
    let flop_per_matmul = job.op.flop(job.n);
    let per_s = |flop: f64| flop / matmul.median_s.max(f64::MIN_POSITIVE) / 1e12;
    let matmul_tflop_per_s = per_s(flop_per_matmul);
    let mut config = d.config.clone();
    config.warmup = warmup_runs;
    config.reps = u32::try_from(measured.len()).unwrap_or(u32::MAX);
    let reduce_median_s = reduce.median_s;
    Some(RunRecord {
        schema_version: SCHEMA_VERSION,
        matbench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: GIT_COMMIT.to_string(),
        started_utc: d.started_utc.clone(),
        args: d.ctx.args.clone(),
        config,
        host: crate::host::host_record(),
        device: d.device_record.clone(),
        math_mode: d.math_mode.clone(),
        flop_per_matmul,
        phases: Phases {
            startup_s: d.ctx.startup_s,
            startup_steps_s: d.startup_steps_s.clone(),
            generate_s: d.generate_s,
            tune_s: None,
            verify_s: 0.0,
            verify_steps_s: BTreeMap::new(),
            script_time_taken_s: d.ctx.startup_s + d.generate_s + d.iterations[0].matmul_s,
            process_s: monotonic_s() - d.ctx.process_start_s,
        },
        matmul_tflop_per_s,
        matmul_gemm_equivalent_tflop_per_s: per_s(crate::model::vocab::MatOp::Gemm.flop(job.n)),
        matmul,
        reduce,
        repetitions: None,
        sum: measured.last().map_or(0.0, |i| i.sum),
        verification: Verification {
            passed: false,
            sum_reference: 0.0,
            sum_rel_error: 0.0,
            sum_tolerance: 0.0,
            rows_checked: Vec::new(),
            elements_checked: 0,
            max_element_rel_error: 0.0,
            element_tolerance: 0.0,
            line_sums: None,
        },
        telemetry: None,
        peak: (d.config.backend == BackendKind::Cuda).then(|| {
            PeakRecord::for_gpu(
                &d.device_record.name,
                (job.dtype, job.op, job.n),
                matmul_tflop_per_s,
                reduce_median_s,
            )
        }),
        check: None,
        soak: None,
        health: None,
        timed_out: Some(crate::record::TimedOut {
            limit_s,
            at: at.to_string(),
        }),
        algo: None,
    })
}

/// `--require-exclusive`: an error when another process uses the device, or when who uses it
/// cannot be told.
fn refuse_shared(device: &str, backend: &dyn Backend) -> Result<(), Error> {
    match backend.others_using() {
        Some(Ok(others)) if others.is_empty() => Ok(()),
        Some(Ok(others)) => {
            let who: Vec<String> = others
                .iter()
                .map(crate::record::health::GpuProcess::describe)
                .collect();
            Err(Error::SharedGpu(format!(
                "{device} is in use by {}: --require-exclusive refuses to measure on a shared GPU",
                who.join(", ")
            )))
        }
        Some(Err(why)) => Err(Error::NoDevice(format!(
            "--require-exclusive: cannot tell who else uses {device}: {why}"
        ))),
        None => Ok(()),
    }
}

/// Generate, warm up, then repeat until the stopping rule says so (after the count, or, with
/// `--reps auto`, once the median is precise enough or the budget is spent), sampling the
/// device's telemetry during the measured repetitions only.
fn measure(
    job: &Job,
    backend: &mut dyn Backend,
    stage: &dyn Fn(Stage),
    device: &str,
) -> Result<Measured, Error> {
    let script_clock = backend.wall_clock_s();
    stage(Stage::Generating);
    let generate_s = backend.generate(job.seed)?;
    draft_update(device, |d| d.generate_s = generate_s);
    stage(Stage::Tuning);
    let tune_s = backend.tune()?;
    // The script made no choice: its time leaves the tuning out.
    let script_clock = script_clock + tune_s.unwrap_or(0.0);
    let mut script_time_s = None;
    // Every repetition's row and column sums, where the backend offers them (module docs of
    // `verify::LineChecker`); the reference is computed once, outside the timed work.
    let line_start = crate::backend::monotonic_s();
    let bounds = verify::line_bounds(job.dtype, job.n);
    let bitwise = backend.reproducible();
    let mut lines = backend
        .line_reference()
        .map(|(reference, fault)| verify::LineChecker::new(reference, bounds, fault, bitwise));
    let line_reference_s = lines
        .as_ref()
        .map(|_| crate::backend::monotonic_s() - line_start);
    let mut done = 0u32;
    // `--line-sums budget`: every warm-up is checked; the measured repetitions every k-th, k
    // set at the first measured one from the last checked repetition's cost (a backend that
    // sums lines in its reduction reports no cost and is checked every time).
    let budget = LineSumsMode::budget_share(job.dtype);
    let mut stride: Option<u32> = None;
    let mut last_cost: Option<(Second, Second)> = None;
    let mut measured_done = 0u32;
    let mut next = |backend: &mut dyn Backend, warmup: bool| -> Result<Iteration, Error> {
        crate::interrupt::check()?;
        if !warmup && stride.is_none() {
            stride =
                last_cost.map(|(l, m)| job.line_sums.stride(l / m.max(f64::MIN_POSITIVE), budget));
        }
        let check_this = warmup || stride.is_none_or(|k| measured_done.is_multiple_of(k));
        backend.set_line_sums(check_this);
        let it = backend.iterate()?;
        if !warmup {
            measured_done += 1;
        }
        if let Some(l) = it.lines_s {
            last_cost = Some((l, it.matmul_s));
        }
        draft_update(device, |d| d.iterations.push(it));
        script_time_s.get_or_insert_with(|| backend.wall_clock_s() - script_clock);
        if !(it.matmul_s.is_finite() && it.reduce_s.is_finite()) {
            return Err(Error::device_msg("a device timer returned no valid time"));
        }
        done += 1;
        if let (Some(checker), Some((rows, columns))) = (lines.as_mut(), backend.line_sums()) {
            checker.check(done, warmup, rows, columns);
        }
        Ok(it)
    };
    let mut iterations =
        Vec::with_capacity(job.warmup.runs as usize + job.reps.expected() as usize);
    let warming = backend.wall_clock_s();
    let mut warmup_runs = 0;
    while job
        .warmup
        .wants_more(warmup_runs, backend.wall_clock_s() - warming)
    {
        stage(Stage::Warmup(warmup_runs + 1));
        iterations.push(next(backend, true)?);
        warmup_runs += 1;
    }
    draft_update(device, |d| d.warmup_runs = Some(warmup_runs));
    let telemetry = backend.start_telemetry();
    let measuring = backend.wall_clock_s();
    let mut matmul_times = RunningMedian::default();
    let mut ends_s = Vec::new();
    let stop = loop {
        stage(Stage::Measured {
            k: u32::try_from(iterations.len() - warmup_runs as usize + 1).unwrap_or(u32::MAX),
            of: match job.reps {
                Reps::Fixed(count) => Some(count),
                _ => None,
            },
        });
        let it = next(backend, false)?;
        iterations.push(it);
        matmul_times.push(it.matmul_s);
        let elapsed_s = backend.wall_clock_s() - measuring;
        ends_s.push(elapsed_s);
        if let Some(stop) = stopping::decide(
            job.reps,
            matmul_times.len(),
            matmul_times.rel_std_error(),
            elapsed_s,
        ) {
            break stop;
        }
    };
    let repetitions = Repetitions {
        stop,
        median_rel_std_error: matmul_times.rel_std_error(),
        measured_s: backend.wall_clock_s() - measuring,
    };
    let lines = lines.map(|checker| {
        let costs: Vec<(Second, Second)> = iterations[warmup_runs as usize..]
            .iter()
            .filter_map(|i| i.lines_s.map(|l| (l, i.matmul_s)))
            .collect();
        let mut record = checker.finish(&costs);
        if job.line_sums == LineSumsMode::Budget && !costs.is_empty() {
            record.checked_every = stride;
            record.budget_share = Some(budget);
        }
        record
    });
    Ok(Measured {
        warmup_runs,
        generate_s,
        tune_s,
        script_time_s: script_time_s.unwrap_or_default(),
        iterations,
        repetitions,
        telemetry,
        ends_s,
        measuring_at: measuring,
        lines,
        line_reference_s,
    })
}

/// Verification on the backend's device, then the comparison on the host, with its steps
/// (wall clock: the borrow of the backend's buffers rules out asking the backend's clock).
fn verify_run(
    job: &Job,
    backend: &mut dyn Backend,
    iterations: &[Iteration],
) -> Result<(Verification, Second, BTreeMap<String, Second>), Error> {
    let start = monotonic_s();
    let rows = verify::sample_rows(job.n, job.seed);
    let data = backend.verification_data(&rows)?;
    let backend_s = monotonic_s() - start;
    let mut steps_s: BTreeMap<String, Second> = data.steps_s.iter().cloned().collect();
    let sums: Vec<f64> = iterations.iter().map(|i| i.sum).collect();
    let verification = verify::check(job.dtype, job.n, &data, &sums);
    let verify_s = monotonic_s() - start;
    steps_s.insert("backend (wall)".into(), backend_s);
    steps_s.insert("compare (host)".into(), verify_s - backend_s);
    Ok((verification, verify_s, steps_s))
}

/// The record's `config`: the job as run.
fn config_record(job: &Job, backend: &dyn Backend, warmup: u32, reps: usize) -> ConfigRecord {
    let (threads, cpu_engine, gpu_index) = match &job.selection {
        DeviceSelection::Cpu {
            threads, engine, ..
        } => {
            // The engine that ran: `auto` resolves to `blas` or `faer` when the backend opens.
            let ran = backend.cpu_engine().unwrap_or(*engine);
            (Some(*threads), Some(ran.name().to_string()), None)
        }
        DeviceSelection::Gpu { index } => (None, None, Some(*index)),
    };
    ConfigRecord {
        backend: backend.kind(),
        n: job.n,
        dtype: job.dtype,
        op: job.op,
        warmup,
        warmup_time_s: Some(job.warmup.min_s),
        reps: u32::try_from(reps).unwrap_or(u32::MAX),
        reps_mode: match job.reps {
            Reps::Fixed(_) => RepsMode::Fixed,
            Reps::Auto { .. } => RepsMode::Auto,
            Reps::Duration { .. } => RepsMode::Duration,
        },
        max_time_s: match job.reps {
            Reps::Fixed(_) | Reps::Duration { .. } => None,
            Reps::Auto { max_time_s } => Some(max_time_s),
        },
        duration_s: match job.reps {
            Reps::Duration { seconds } => Some(seconds),
            _ => None,
        },
        seed: job.seed,
        threads,
        cpu_engine,
        gpu_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::fake::FakeBackend;
    use crate::model::dtype::DType;
    use crate::model::reps::{MIN_AUTO_REPS, RepsStop, TARGET_MEDIAN_RSE, Warmup};
    use crate::model::vocab::CpuEngine;
    use crate::model::vocab::MatOp;

    /// A job with `warmup` repetitions and no time floor (the fake's clock is virtual).
    fn job(n: usize, dtype: DType, warmup: u32, reps: Reps) -> Job {
        Job {
            selection: DeviceSelection::Cpu {
                threads: 2,
                engine: CpuEngine::Faer,
                blas_lib: None,
            },
            n,
            dtype,
            op: MatOp::Gemm,
            warmup: Warmup {
                runs: warmup,
                min_s: 0.0,
            },
            reps,
            seed: 1234,
            check: None,
            require_exclusive: false,
            line_sums: Default::default(),
            algo_search: None,
        }
    }

    fn ctx() -> RunContext {
        RunContext {
            startup_s: 0.01,
            process_start_s: monotonic_s(),
            args: vec!["matbench".into()],
        }
    }

    /// `--line-sums budget` checks every warm-up and every k-th measured repetition, k from
    /// the last warm-up's cost against the dtype's budget; `all` checks every one.
    #[test]
    fn checksums_keep_to_their_budget_or_cover_every_repetition_when_asked() {
        use crate::model::vocab::LineSumsMode;
        // matmul 10 ms, sums 1 ms: 10%, twice bf16's 5% budget → every 2nd; f64's 1% → 10th
        for (dtype, mode, checked, every) in [
            (DType::Bf16, LineSumsMode::Budget, 2 + 4, Some(2)),
            (DType::F64, LineSumsMode::Budget, 2 + 1, Some(10)),
            (DType::Bf16, LineSumsMode::All, 2 + 7, None),
        ] {
            let mut b = FakeBackend::new(&[0.010]).with_line_sums(0.001);
            let mut j = job(6, dtype, 2, Reps::Fixed(7));
            j.line_sums = mode;
            let r = run(&j, &mut b, &ctx()).unwrap();
            let lines = r.verification.line_sums.unwrap();
            assert_eq!(lines.repetitions_checked, checked, "{dtype} {mode:?}");
            assert_eq!(lines.checked_every, every, "{dtype} {mode:?}");
            assert_eq!(lines.failed_repetitions, 0);
            assert!((lines.share_of_matmul.unwrap() - 0.1).abs() < 1e-12);
            assert!(r.verification.passed);
        }
        // no warm-up: the first measured repetition is checked and sets k
        let mut b = FakeBackend::new(&[0.010]).with_line_sums(0.001);
        let r = run(&job(6, DType::Bf16, 0, Reps::Fixed(5)), &mut b, &ctx()).unwrap();
        let lines = r.verification.line_sums.unwrap();
        assert_eq!(
            (lines.repetitions_checked, lines.checked_every),
            (3, Some(2))
        );
    }

    #[test]
    fn every_repetition_is_recorded_and_the_answer_verified() {
        let mut b = FakeBackend::new(&[0.004, 0.005, 0.006]);
        let r = run(&job(24, DType::F64, 1, Reps::Fixed(3)), &mut b, &ctx()).unwrap();
        assert_eq!(b.calls(), 4, "one warm-up and three measured");
        assert_eq!(r.matmul.samples_s, vec![0.005, 0.006, 0.004]);
        assert_eq!(r.reduce.samples_s.len(), 3);
        assert_eq!(r.matmul.median_s, 0.005);
        assert!(r.verification.passed, "{:?}", r.verification);
        assert_eq!(r.flop_per_matmul, 2.0 * 24f64.powi(3));
        assert!((r.matmul_tflop_per_s - r.flop_per_matmul / 0.005 / 1e12).abs() < 1e-15);
        assert_eq!(r.repetitions.as_ref().unwrap().stop, RepsStop::Count);
        assert_eq!(r.config.reps, 3);
        assert_eq!(r.telemetry, None, "the fake offers no telemetry");
        assert_eq!(crate::record::read::validate(&r), Ok(()));
    }

    #[test]
    fn the_script_time_is_generate_plus_the_first_repetition() {
        let mut b = FakeBackend::new(&[0.25]);
        let r = run(&job(8, DType::F64, 2, Reps::Fixed(1)), &mut b, &ctx()).unwrap();
        // start-up (0.01 s, the context's) + generate (1 ms on the fake's clock) + one matmul
        // (0.25 s) + one reduce (1 µs), as the script's clock ran from its tf.Session on
        assert!((r.phases.script_time_taken_s - 0.261_001).abs() < 1e-12);
        assert_eq!(r.phases.generate_s, 1e-3);
    }

    #[test]
    fn a_wrong_sum_in_any_repetition_fails_verification_but_is_recorded() {
        let mut b = FakeBackend::new(&[0.01]).corrupt_from(3);
        let r = run(&job(16, DType::F64, 1, Reps::Fixed(4)), &mut b, &ctx()).unwrap();
        assert!(!r.verification.passed);
        assert!(r.verification.sum_rel_error > 0.009, "{:?}", r.verification);
        assert_eq!(r.matmul.samples_s.len(), 4);
    }

    #[test]
    fn a_duration_run_repeats_for_its_time_and_reports_burst_and_sustained() {
        // 0.1 s products for 2 s, then 0.2 s ones: the fake's clock is virtual.
        let mut times = vec![0.1; 20];
        times.extend(vec![0.2; 40]);
        let mut b = FakeBackend::new(&times);
        let j = job(8, DType::F64, 0, Reps::Duration { seconds: 6.0 });
        let r = run(&j, &mut b, &ctx()).unwrap();
        assert_eq!(r.config.reps_mode, RepsMode::Duration);
        assert_eq!(r.config.duration_s, Some(6.0));
        assert_eq!(r.repetitions.as_ref().unwrap().stop, RepsStop::Duration);
        assert_eq!(r.config.reps, 40, "20 of 0.1 s and 20 of 0.2 s reach 6 s");
        let soak = r.soak.as_ref().unwrap();
        let flop = r.flop_per_matmul;
        assert!((soak.burst_tflop_per_s - flop / 0.1 / 1e12).abs() < 1e-12 * flop);
        assert!((soak.sustained_tflop_per_s - flop / 0.2 / 1e12).abs() < 1e-12 * flop);
        // 6 s asked for: six seconds, the last product's overrun (the fake's 1 µs per reduce)
        // counted in the sixth.
        assert_eq!(soak.seconds.len(), 6);
        assert_eq!(soak.seconds.iter().map(|s| s.reps).sum::<u32>(), 40);
        assert_eq!(crate::record::read::validate(&r), Ok(()));
        let text = crate::output::run_text::render(&r);
        assert!(
            text.contains("measured repetitions (--duration 6 s)"),
            "{text}"
        );
        assert!(
            text.contains("  soak      6 s back to back: burst "),
            "{text}"
        );
    }

    #[test]
    fn steady_times_converge_after_the_minimum() {
        let mut b = FakeBackend::new(&[0.01]);
        let j = job(8, DType::F64, 0, Reps::Auto { max_time_s: 100.0 });
        let r = run(&j, &mut b, &ctx()).unwrap();
        let reps = r.repetitions.unwrap();
        assert_eq!(reps.stop, RepsStop::Converged);
        assert_eq!(r.config.reps, MIN_AUTO_REPS);
        assert_eq!(r.config.reps_mode, RepsMode::Auto);
        assert_eq!(r.config.max_time_s, Some(100.0));
        assert!(reps.median_rel_std_error.unwrap() <= TARGET_MEDIAN_RSE);
    }

    #[test]
    fn noisy_times_run_until_the_budget_on_the_backends_clock() {
        // ±50% noise never converges in 10 repetitions; each takes 0.1 s on the fake's clock,
        // so a 1 s budget is spent after 10.
        let times: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 0.05 } else { 0.15 })
            .collect();
        let mut b = FakeBackend::new(&times);
        let j = job(8, DType::F64, 0, Reps::Auto { max_time_s: 1.0 });
        let r = run(&j, &mut b, &ctx()).unwrap();
        let reps = r.repetitions.clone().unwrap();
        assert_eq!(reps.stop, RepsStop::MaxTime);
        assert!(reps.measured_s >= 1.0 && reps.measured_s < 1.2, "{reps:?}");
        assert_eq!(r.matmul.samples_s.len(), r.config.reps as usize);
        // The recorded precision is the one the record's own statistics give.
        let again = stopping::median_rel_std_error(&r.matmul.samples_s).unwrap();
        let rse = reps.median_rel_std_error.unwrap();
        assert!((again - rse).abs() <= 1e-9 * rse, "{again} vs {rse}");
    }

    #[test]
    fn a_first_repetition_longer_than_the_budget_is_the_only_one() {
        let mut b = FakeBackend::new(&[3.0]);
        let j = job(8, DType::F64, 1, Reps::Auto { max_time_s: 2.0 });
        let r = run(&j, &mut b, &ctx()).unwrap();
        assert_eq!(r.config.reps, 1);
        assert_eq!(r.repetitions.unwrap().stop, RepsStop::MaxTime);
    }

    #[test]
    fn a_device_error_stops_the_run() {
        let mut b = FakeBackend::new(&[0.01]);
        let e = run(&job(1000, DType::F64, 0, Reps::Fixed(1)), &mut b, &ctx()).unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::OutOfMemory);
    }

    #[test]
    fn a_cpu_run_passes_and_engines_agree_on_the_same_matrix() {
        let j = job(50, DType::F64, 0, Reps::Fixed(1));
        let mut faer = CpuBackend::new(2, CpuEngine::Faer).unwrap();
        let mut mm = CpuBackend::new(1, CpuEngine::Matrixmultiply).unwrap();
        let a = run(&j, &mut faer, &ctx()).unwrap();
        let b = run(&j, &mut mm, &ctx()).unwrap();
        assert!(a.verification.passed && b.verification.passed);
        assert_eq!(a.verification.sum_reference, b.verification.sum_reference);
        assert!((a.sum - b.sum).abs() <= 1e-12 * a.sum);
    }
}
