//! `matbench gpu N` and `matbench cpu N`: plan, the pipeline, then the record on stdout and
//! the exit status. Several GPUs (`--gpu all|LIST`) run through [`pipeline::multi`].

use crate::backend::cuda::probe;
use crate::bench::RunContext;
use crate::cli::{CpuArgs, Format, GpuArgs};
use crate::error::{Error, Exit};
use crate::output::{self, Stdout};
use crate::pipeline::{self, Finished, check, multi};
use crate::plan::{self, Plan};
use crate::record::RunRecord;

/// What to do about a failed save, for `gpu` and `cpu`.
const SAVE_HINT: &str = "the result was printed above; pass --results-dir DIR or --no-save";

/// The same inside a container that may not write into its mounted results directory: the
/// container's user (uid 10001) is not the directory's owner.
const CONTAINER_SAVE_HINT: &str = "the result was printed above; the container's user cannot \
    write into the mounted directory: start it with --user \"$(id -u):$(id -g)\", or pass --no-save";

/// The hint for a problem after measuring.
fn with_save_hint(problem: Error) -> Error {
    if problem.is_permission_denied() && crate::host::in_container() {
        problem.with_hint(CONTAINER_SAVE_HINT)
    } else {
        problem.with_hint(SAVE_HINT)
    }
}

/// `matbench cpu N`.
pub fn cpu(args: &CpuArgs, ctx: &RunContext, out: &mut Stdout) -> Result<Exit, Error> {
    let _watchdog = arm_timeout(args.run.timeout)?;
    let plan = plan::cpu_plan(args, crate::host::cpu_threads())?;
    salvage_on_timeout(&plan);
    let finished = pipeline::run_one(&plan.job, plan.results_dir.as_deref(), ctx)?;
    report(&plan, finished, out)
}

/// `matbench gpu N`, on one GPU or several at once.
pub fn gpu(args: &GpuArgs, ctx: &RunContext, out: &mut Stdout) -> Result<Exit, Error> {
    // Armed first: counting the GPUs (`--gpu all`) initialises the driver, which is where a
    // lost GPU hangs.
    let _watchdog = arm_timeout(args.run.timeout)?;
    let gpus = plan::parse_gpus(&args.gpu, probe::device_count)?;
    let plan = plan::gpu_plan(args, gpus.first().copied().unwrap_or(0))?;
    salvage_on_timeout(&plan);
    if gpus.len() > 1 {
        return gpus_at_once(&plan, &gpus, args, ctx, out);
    }
    let finished = pipeline::run_one(&plan.job, plan.results_dir.as_deref(), ctx)?;
    report(&plan, finished, out)
}

/// `--timeout`: a run stopped by the watchdog leaves the record of what it measured, where
/// records are saved.
fn salvage_on_timeout(plan: &Plan) {
    if let Some(dir) = plan.results_dir.clone() {
        crate::watchdog::on_timeout(Box::new(move |limit_s, at| {
            pipeline::save_timed_out(&dir, limit_s, at)
        }));
    }
}

/// `--timeout`: the watchdog, armed before the device is opened (opening can hang too).
fn arm_timeout(timeout: Option<f64>) -> Result<Option<crate::watchdog::Armed>, Error> {
    plan::check_timeout(timeout)?
        .map(|t| crate::watchdog::arm(t, output::error))
        .transpose()
}

/// The record on stdout, where it was saved, what went wrong after measuring; the exit.
fn report(plan: &Plan, finished: Finished, out: &mut Stdout) -> Result<Exit, Error> {
    out.write(&output::render_run(&finished.record, plan.format)?)?;
    let exit = finished.exit();
    say_saved(plan.format, finished.saved.as_deref(), out)?;
    for problem in finished.problems {
        output::error(&with_save_hint(problem));
    }
    if exit == Exit::Success
        && let Err(e) = check::outcome([&finished.record])
    {
        output::error(&e);
        return Ok(e.exit());
    }
    Ok(exit)
}

/// Where the record went: on stdout in text mode (part of the report), else on stderr.
fn say_saved(
    format: Format,
    saved: Option<&std::path::Path>,
    out: &mut Stdout,
) -> Result<(), Error> {
    let Some(path) = saved else {
        return Ok(());
    };
    match format {
        Format::Text => out.line(&format!("  record    {}", path.display())),
        Format::Json => {
            output::note(&format!("record saved as {}", path.display()));
            Ok(())
        }
    }
}

/// `matbench gpu N --gpu all|LIST`: every GPU at once, a summary, each run recorded.
fn gpus_at_once(
    plan: &Plan,
    gpus: &[usize],
    args: &GpuArgs,
    ctx: &RunContext,
    out: &mut Stdout,
) -> Result<Exit, Error> {
    let (mut finished, overlap_s) =
        multi::run_all(&plan.job, gpus, plan.results_dir.as_deref(), ctx)?;
    let records: Vec<RunRecord> = finished.iter().map(|f| f.record.clone()).collect();
    let summary = multi::summarise(&records, args.slow_margin / 100.0, overlap_s);
    if let Some(rule) = &plan.job.check {
        multi::judge(&mut finished, &summary, rule);
    }
    let records: Vec<RunRecord> = finished.iter().map(|f| f.record.clone()).collect();
    match plan.format {
        Format::Text => out.write(output::multi::render(&summary).as_bytes())?,
        Format::Json => {
            let doc = serde_json::json!({ "summary": summary, "runs": records });
            out.write(&crate::record::json::to_bytes(
                &doc,
                "the multi-GPU summary",
            )?)?;
        }
    }
    let check_outcome = check::outcome(finished.iter().map(|f| &f.record));
    let mut exit = Exit::Success;
    for f in finished {
        exit = exit.or(f.exit());
        say_saved(plan.format, f.saved.as_deref(), out)?;
        let gpu = f.record.config.gpu_index.unwrap_or(0);
        for problem in f.problems {
            let problem = match problem {
                Error::VerificationFailed(line) => {
                    Error::VerificationFailed(format!("GPU {gpu}: {line}"))
                }
                other => with_save_hint(other),
            };
            output::error(&problem);
        }
    }
    if exit == Exit::Success
        && let Err(e) = check_outcome
    {
        output::error(&e);
        return Ok(e.exit());
    }
    Ok(exit)
}
