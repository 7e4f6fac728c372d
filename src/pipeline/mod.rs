//! The one run pipeline (middle floor): open the backend → measure, verify and assemble the
//! record ([`crate::bench::run`]) → save → exit status. `gpu`, `cpu`, `sweep` and the
//! multi-GPU run ([`multi`]) all go through it; none re-writes the save, verify or exit tail.
//! Printing is the caller's (the top floor's): the pipeline returns what happened.

pub mod check;
pub mod multi;

use crate::backend::{self, Backend, monotonic_s};
use crate::bench::{self, RunContext};
use crate::error::{Error, Exit};
use crate::model::Second;
use crate::model::job::Job;
use crate::model::vocab::DeviceSelection;
use crate::record::{RunRecord, store};
use std::path::{Path, PathBuf};

/// An opened backend and how long opening it took (the start-up phase).
pub struct Opened {
    /// The backend.
    pub backend: Box<dyn Backend>,
    /// Seconds spent opening it.
    pub startup_s: Second,
}

impl Opened {
    /// Lets the process exit without tearing the device down: freeing gigabytes and destroying
    /// a CUDA context take a noticeable part of a short run, and the driver and the OS reclaim
    /// all of it when the process exits a moment later.
    pub fn leak(self) {
        std::mem::forget(self.backend);
    }
}

/// `--timeout`: saves what the runs in progress measured into `dir`, as records marked
/// `timed_out` ([`crate::bench::salvage`]), and says where, for the verdict's one line;
/// `None` where no run had measured a repetition.
pub fn save_timed_out(dir: &Path, limit_s: Second, at: &str) -> Option<String> {
    let saved: Vec<String> = crate::bench::salvage(limit_s, at)
        .iter()
        .filter_map(|r| store::save(dir, r).ok())
        .map(|p| p.display().to_string())
        .collect();
    (!saved.is_empty()).then(|| {
        format!(
            "the repetitions measured until then are recorded, marked timed out, in {}",
            saved.join(", ")
        )
    })
}

/// Opens the backend for `selection` and times it.
pub fn open(selection: &DeviceSelection) -> Result<Opened, Error> {
    crate::watchdog::stage(&selection.label(), crate::watchdog::Stage::Opening);
    let start = monotonic_s();
    let backend = backend::open(selection)?;
    Ok(Opened {
        backend,
        startup_s: monotonic_s() - start,
    })
}

/// A finished run: its record, where it was saved, and what went wrong after measuring.
#[derive(Debug)]
pub struct Finished {
    /// The record.
    pub record: RunRecord,
    /// The saved file (`None` with `--no-save`, or when saving failed).
    pub saved: Option<PathBuf>,
    /// What went wrong after the measurement, in order: a failed save, a failed verification.
    pub problems: Vec<Error>,
}

impl Finished {
    /// How the process should end for this run: a wrong answer first, then a failed save.
    pub fn exit(&self) -> Exit {
        if !self.record.verification.passed {
            return Exit::VerificationFailed;
        }
        self.problems
            .first()
            .map_or(Exit::Success, |problem| problem.exit())
    }
}

/// Measures `job` on an opened backend, then saves the record into `results_dir` (unless
/// `None`). A failed save or a failed verification is in [`Finished::problems`], not an error:
/// the measurement stands and is reported.
pub fn measure_and_save(
    job: &Job,
    opened: &mut Opened,
    results_dir: Option<&Path>,
    ctx: &RunContext,
) -> Result<Finished, Error> {
    let ctx = RunContext {
        startup_s: opened.startup_s,
        ..ctx.clone()
    };
    let mut record = bench::run(job, opened.backend.as_mut(), &ctx)?;
    if let Some(rule) = &job.check {
        record.check = Some(check::verdict(&record, rule, None));
    }
    let mut problems = Vec::new();
    crate::watchdog::stage(&job.selection.label(), crate::watchdog::Stage::Saving);
    let saved = match results_dir.map(|dir| store::save(dir, &record)) {
        Some(Ok(path)) => Some(path),
        Some(Err(e)) => {
            problems.push(e);
            None
        }
        None => None,
    };
    if !record.verification.passed {
        problems.push(Error::VerificationFailed(
            record.verification.summary_line(),
        ));
    }
    Ok(Finished {
        record,
        saved,
        problems,
    })
}

/// The whole pipeline for one job on its own backend.
pub fn run_one(job: &Job, results_dir: Option<&Path>, ctx: &RunContext) -> Result<Finished, Error> {
    let mut opened = open(&job.selection)?;
    let finished = measure_and_save(job, &mut opened, results_dir, ctx);
    opened.leak();
    finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake::FakeBackend;
    use crate::model::dtype::DType;
    use crate::model::reps::Reps;
    use crate::model::vocab::{CpuEngine, MatOp};

    fn job() -> Job {
        Job {
            selection: DeviceSelection::Cpu {
                threads: 1,
                engine: CpuEngine::Faer,
                blas_lib: None,
            },
            n: 12,
            dtype: DType::F64,
            op: MatOp::Gemm,
            warmup: crate::model::reps::Warmup {
                runs: 1,
                min_s: 0.0,
            },
            reps: Reps::Fixed(2),
            seed: 7,
            check: None,
            require_exclusive: false,
            line_sums: Default::default(),
            algo_search: None,
        }
    }

    fn ctx() -> RunContext {
        RunContext {
            startup_s: 0.0,
            process_start_s: monotonic_s(),
            args: vec![],
        }
    }

    fn fake(backend: FakeBackend) -> Opened {
        Opened {
            backend: Box::new(backend),
            startup_s: 0.5,
        }
    }

    #[test]
    fn a_good_run_is_saved_once_and_exits_0() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = fake(FakeBackend::new(&[0.01]));
        let f = measure_and_save(&job(), &mut opened, Some(dir.path()), &ctx()).unwrap();
        assert_eq!(f.exit(), Exit::Success);
        assert!(f.problems.is_empty());
        assert_eq!(f.record.phases.startup_s, 0.5);
        let saved = f.saved.unwrap();
        assert_eq!(crate::record::read::read(&saved).unwrap(), f.record);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_wrong_answer_is_saved_and_exits_1_before_a_failed_save() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").unwrap();
        let mut opened = fake(FakeBackend::new(&[0.01]).corrupt_from(0));
        let f = measure_and_save(&job(), &mut opened, Some(&file), &ctx()).unwrap();
        assert_eq!(f.problems.len(), 2, "{:?}", f.problems);
        assert_eq!(f.problems[0].exit(), Exit::SaveFailed);
        assert_eq!(f.problems[1].exit(), Exit::VerificationFailed);
        assert_eq!(f.exit(), Exit::VerificationFailed);
        assert_eq!(f.saved, None);
    }

    #[test]
    fn no_save_writes_nothing() {
        let mut opened = fake(FakeBackend::new(&[0.01]));
        let f = measure_and_save(&job(), &mut opened, None, &ctx()).unwrap();
        assert_eq!(f.exit(), Exit::Success);
        assert_eq!(f.saved, None);
    }
}
