//! The run loop: prepare, generate, warm up, repeat until [`stopping::decide`] says so, verify,
//! and assemble the record.

use crate::Second;
use crate::backend::{Backend, DeviceSelection, Iteration};
use crate::bench::Summary;
use crate::bench::stopping::{self, RunningMedian};
use crate::error::Error;
use crate::plan::{Plan, Reps};
use crate::record::{ConfigRecord, Phases, Repetitions, RepsMode, RunRecord, SCHEMA_VERSION};
use crate::verify;
use std::time::Instant;

/// A finished run, ready to export.
pub type Outcome = RunRecord;

/// The git commit baked in by `build.rs`.
pub const GIT_COMMIT: &str = env!("MATBENCH_GIT_COMMIT");

/// Runs `plan` on an opened `backend`. `startup_s` is how long opening it took; `process_start`
/// is when `main` began. Verification failure is not an error here: it is in the record.
pub fn run(
    plan: &Plan,
    backend: &mut dyn Backend,
    startup_s: Second,
    process_start: Instant,
    args: Vec<String>,
) -> Result<Outcome, Error> {
    let started_utc = chrono::Utc::now();
    backend.set_op(plan.op)?;
    backend.prepare(plan.n, plan.dtype)?;

    // The seed script's figure: one generate + matmul + reduce, result on the host.
    let seed_clock = Instant::now();
    let generate_s = backend.generate(plan.seed)?;
    let mut seed_time_taken_s = None;
    let mut iterations = Vec::with_capacity(plan.warmup as usize + plan.reps.expected() as usize);
    let mut iterate = |backend: &mut dyn Backend| -> Result<Iteration, Error> {
        let it = backend.iterate()?;
        seed_time_taken_s.get_or_insert_with(|| seed_clock.elapsed().as_secs_f64());
        Ok(it)
    };
    for _ in 0..plan.warmup {
        iterations.push(iterate(backend)?);
    }
    // Measure until the stopping rule says so: after the count, or (auto) once the median is
    // precise enough or the budget is spent.
    // GPU runs: sample clocks, power and temperature during the measured repetitions only.
    let sampler = backend
        .device()
        .uuid
        .clone()
        .map(|uuid| crate::telemetry::start(&uuid));
    let measuring = Instant::now();
    let mut matmul_times = RunningMedian::default();
    let stop = loop {
        let it = iterate(backend)?;
        if !(it.matmul_s.is_finite() && it.reduce_s.is_finite()) {
            return Err(Error::Device(
                "a device timer returned no valid time".into(),
            ));
        }
        matmul_times.push(it.matmul_s);
        iterations.push(it);
        let elapsed_s = measuring.elapsed().as_secs_f64();
        if let Some(stop) = stopping::decide(
            plan.reps,
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
        measured_s: measuring.elapsed().as_secs_f64(),
    };
    let seed_time_taken_s = seed_time_taken_s.unwrap_or_default();
    let measured = &iterations[plan.warmup as usize..];
    let samples = |f: fn(&Iteration) -> f64| measured.iter().map(f).collect::<Vec<_>>();
    let summary = |v: Vec<f64>| {
        Summary::from_samples(&v)
            .ok_or_else(|| Error::Device("a device timer returned no valid time".into()))
    };
    let matmul = summary(samples(|i| i.matmul_s))?;
    let reduce = summary(samples(|i| i.reduce_s))?;
    let n = plan.n as f64;
    let flop_per_matmul = plan.op.flop(plan.n);
    let matmul_tflop_per_s = flop_per_matmul / matmul.median_s.max(f64::MIN_POSITIVE) / 1e12;
    let telemetry = match sampler {
        Some(Ok(s)) => Some(s.finish(matmul_tflop_per_s)),
        Some(Err(reason)) => Some(crate::telemetry::unavailable(reason)),
        None => None,
    };

    let verify_clock = Instant::now();
    let rows = verify::sample_rows(plan.n, plan.seed);
    let data = backend.verification_data(&rows)?;
    let backend_s = verify_clock.elapsed().as_secs_f64();
    let sums: Vec<f64> = iterations.iter().map(|i| i.sum).collect();
    let verification = verify::check(plan.dtype, plan.n, &data, &sums);
    let verify_s = verify_clock.elapsed().as_secs_f64();
    let mut verify_steps_s: std::collections::BTreeMap<String, Second> =
        data.steps_s.iter().cloned().collect();
    verify_steps_s.insert("backend (wall)".into(), backend_s);
    verify_steps_s.insert("compare (host)".into(), verify_s - backend_s);

    let (threads, cpu_engine, gpu_index) = match &plan.selection {
        DeviceSelection::Cpu { threads, engine } => {
            (Some(*threads), Some(engine.name().to_string()), None)
        }
        DeviceSelection::Gpu { index } => (None, None, Some(*index)),
    };
    Ok(RunRecord {
        schema_version: SCHEMA_VERSION,
        matbench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: GIT_COMMIT.to_string(),
        started_utc: started_utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        args,
        config: ConfigRecord {
            backend: backend.kind(),
            n: plan.n,
            dtype: plan.dtype,
            op: plan.op,
            warmup: plan.warmup,
            reps: matmul_times.len(),
            reps_mode: match plan.reps {
                Reps::Fixed(_) => RepsMode::Fixed,
                Reps::Auto { .. } => RepsMode::Auto,
            },
            max_time_s: match plan.reps {
                Reps::Fixed(_) => None,
                Reps::Auto { max_time_s } => Some(max_time_s),
            },
            seed: plan.seed,
            threads,
            cpu_engine,
            gpu_index,
        },
        host: crate::host::host_record(),
        device: backend.device().clone(),
        math_mode: backend.math_mode(plan.dtype),
        flop_per_matmul,
        phases: Phases {
            startup_s,
            startup_steps_s: backend.startup_steps().into_iter().collect(),
            generate_s,
            verify_s,
            verify_steps_s,
            seed_time_taken_s,
            process_s: process_start.elapsed().as_secs_f64(),
        },
        matmul_tflop_per_s,
        matmul_gemm_equivalent_tflop_per_s: 2.0 * n * n * n
            / matmul.median_s.max(f64::MIN_POSITIVE)
            / 1e12,
        matmul,
        reduce,
        repetitions: Some(repetitions),
        sum: sums.last().copied().unwrap_or(f64::NAN),
        verification,
        telemetry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{CpuEngine, cpu::CpuBackend};
    use crate::cli::Format;
    use crate::dtype::DType;

    fn plan(n: usize, dtype: DType, warmup: u32, reps: u32) -> Plan {
        Plan {
            selection: DeviceSelection::Cpu {
                threads: 2,
                engine: CpuEngine::Faer,
            },
            n,
            dtype,
            op: crate::backend::MatOp::Gemm,
            warmup,
            reps: Reps::Fixed(reps),
            seed: 1234,
            format: Format::Json,
            results_dir: None,
        }
    }

    #[test]
    fn cpu_run_records_every_repetition_and_passes() {
        let p = plan(96, DType::F32, 1, 3);
        let mut b = CpuBackend::new(2, CpuEngine::Faer).unwrap();
        let r = run(&p, &mut b, 0.01, Instant::now(), vec!["matbench".into()]).unwrap();
        assert_eq!(r.matmul.samples_s.len(), 3);
        assert_eq!(r.reduce.samples_s.len(), 3);
        assert!(r.verification.passed, "{:?}", r.verification);
        assert_eq!(r.flop_per_matmul, 2.0 * 96f64.powi(3));
        assert!(r.matmul_tflop_per_s > 0.0);
        assert!(r.phases.seed_time_taken_s >= r.phases.generate_s);
        assert_eq!(r.config.seed, 1234);
        assert!((r.sum - r.verification.sum_reference).abs() / r.sum < 1e-5);
    }

    #[test]
    fn auto_run_stops_by_the_rule_and_records_why() {
        let mut p = plan(48, DType::F32, 1, 1);
        p.reps = Reps::Auto { max_time_s: 0.2 };
        let mut b = CpuBackend::new(2, CpuEngine::Faer).unwrap();
        let r = run(&p, &mut b, 0.0, Instant::now(), vec![]).unwrap();
        let reps = r.repetitions.clone().unwrap();
        assert_eq!(r.config.reps_mode, RepsMode::Auto);
        assert_eq!(r.config.max_time_s, Some(0.2));
        assert_eq!(r.matmul.samples_s.len(), r.config.reps as usize);
        assert_eq!(r.reduce.samples_s.len(), r.config.reps as usize);
        assert!(
            r.config.reps >= stopping::MIN_AUTO_REPS,
            "{}",
            r.config.reps
        );
        let rse = reps.median_rel_std_error.unwrap();
        match reps.stop {
            crate::bench::RepsStop::Converged => assert!(rse <= stopping::TARGET_MEDIAN_RSE),
            crate::bench::RepsStop::MaxTime => assert!(reps.measured_s >= 0.2),
            // A fast machine can run the whole cap inside the budget.
            crate::bench::RepsStop::MaxReps => assert_eq!(r.config.reps, crate::plan::MAX_REPS),
            other => panic!("unexpected stop {other:?}"),
        }
        // The recorded precision is the one the record's own statistics give.
        let again = stopping::median_rel_std_error(&r.matmul.samples_s).unwrap();
        assert!((again - rse).abs() <= 1e-9 * rse, "{again} vs {rse}");
        assert!(r.verification.passed, "{:?}", r.verification);
    }

    #[test]
    fn fixed_run_records_a_count_stop() {
        let mut b = CpuBackend::new(1, CpuEngine::Faer).unwrap();
        let r = run(
            &plan(16, DType::F64, 0, 2),
            &mut b,
            0.0,
            Instant::now(),
            vec![],
        )
        .unwrap();
        let reps = r.repetitions.unwrap();
        assert_eq!((r.config.reps, r.config.reps_mode), (2, RepsMode::Fixed));
        assert_eq!(
            (reps.stop, r.config.max_time_s),
            (crate::bench::RepsStop::Count, None)
        );
        assert!(reps.measured_s > 0.0);
    }

    #[test]
    fn same_seed_same_matrix_same_sum_across_engines() {
        let p = plan(50, DType::F64, 0, 1);
        let mut faer = CpuBackend::new(2, CpuEngine::Faer).unwrap();
        let mut mm = CpuBackend::new(1, CpuEngine::Matrixmultiply).unwrap();
        let a = run(&p, &mut faer, 0.0, Instant::now(), vec![]).unwrap();
        let b = run(&p, &mut mm, 0.0, Instant::now(), vec![]).unwrap();
        assert_eq!(a.verification.sum_reference, b.verification.sum_reference);
        assert!((a.sum - b.sum).abs() <= 1e-12 * a.sum);
    }
}
