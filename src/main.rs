//! `matbench`: parse → validate into a plan → open the backend → run → export → save.
//! `main` only turns an error into one line on stderr and its exit code (README, "Exit codes").

use clap::Parser;
use matbench::backend::{self, CpuEngine, DeviceSelection};
use matbench::cli::{Cli, Command, Format};
use matbench::error::Error;
use matbench::{bench, export, info, plan, record};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let process_start = Instant::now();
    std::panic::set_hook(Box::new(|p| {
        let msg = p
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = p
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("matbench: internal error (a bug, please report it): {msg}{at}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match run(cli, process_start) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("matbench: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Help and version print as clap renders them; a usage error becomes one line, exit 2.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            eprintln!("matbench: error: {first} (see matbench --help)");
            ExitCode::from(2)
        }
    }
}

/// matrixmultiply sizes its thread pool from `MATMUL_NUM_THREADS`, read once on first use.
fn set_matmul_threads(threads: usize) {
    // SAFETY: called from `run` before any backend, pool or helper thread exists, so nothing
    // can read the environment concurrently.
    unsafe { std::env::set_var("MATMUL_NUM_THREADS", threads.to_string()) };
}

fn print_stdout(bytes: &[u8]) {
    // A closed pipe (`matbench … | head`) is not worth an error.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

fn run(cli: Cli, process_start: Instant) -> Result<ExitCode, Error> {
    let plan = match &cli.command {
        Command::Info(args) => {
            let report = info::gather();
            let text = match args.format {
                Format::Text => info::render_text(&report),
                Format::Json => {
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Error::Device(format!("could not encode JSON: {e}")))?
                        + "\n"
                }
            };
            print_stdout(text.as_bytes());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Compare(args) => return matbench::compare::run(args),
        Command::Export(args) => return matbench::ciexport::run(args),
        Command::Plot(args) => return matbench::plot::run(args),
        Command::Report(args) => return matbench::report::run(args),
        Command::Sweep(args) => {
            if args.cpu_engine == CpuEngine::Matrixmultiply {
                set_matmul_threads(args.threads.unwrap_or_else(matbench::host::cpu_threads));
            }
            return matbench::sweep::run(args);
        }
        Command::Gpu(args) => {
            let gpus = matbench::multi::parse_gpus(&args.gpu, backend::cuda::probe::device_count)?;
            let plan = plan::gpu_plan(args, gpus.first().copied().unwrap_or(0))?;
            if gpus.len() > 1 {
                return run_multi(&plan, &gpus, args, process_start);
            }
            plan
        }
        Command::Cpu(args) => plan::cpu_plan(args, matbench::host::cpu_threads())?,
    };
    if let DeviceSelection::Cpu {
        threads,
        engine: CpuEngine::Matrixmultiply,
    } = plan.selection
    {
        set_matmul_threads(threads);
    }

    let opened = Instant::now();
    let mut backend = backend::open(&plan.selection)?;
    let startup_s = opened.elapsed().as_secs_f64();
    let args: Vec<String> = std::env::args().collect();
    let record = bench::run(&plan, backend.as_mut(), startup_s, process_start, args)?;
    // Tearing down a CUDA context and freeing gigabytes takes a noticeable part of a short run;
    // the driver and the OS reclaim all of it when the process exits a moment later.
    std::mem::forget(backend);

    print_stdout(&export::for_format(plan.format).serialize(&record)?);
    let mut code = ExitCode::SUCCESS;
    if let Err(e) = save(&record, &plan) {
        eprintln!("matbench: error: {e}");
        code = ExitCode::from(e.exit_code());
    }
    if !record.verification.passed {
        let e = Error::VerificationFailed(record.verification.summary_line());
        eprintln!("matbench: error: {e}");
        return Ok(ExitCode::from(e.exit_code()));
    }
    Ok(code)
}

/// Writes the record where the plan says, and tells where (stdout in text mode, else stderr).
fn save(record: &matbench::record::RunRecord, plan: &plan::Plan) -> Result<(), Error> {
    let Some(dir) = &plan.results_dir else {
        return Ok(());
    };
    let path = record::store::save(dir, record)?;
    if plan.format == Format::Text {
        print_stdout(format!("  record    {}\n", path.display()).as_bytes());
    } else {
        eprintln!("matbench: record saved as {}", path.display());
    }
    Ok(())
}

/// `matbench gpu N --gpu all|LIST`: every GPU at once, a summary, each run recorded.
fn run_multi(
    plan: &plan::Plan,
    gpus: &[usize],
    args: &matbench::cli::GpuArgs,
    process_start: Instant,
) -> Result<ExitCode, Error> {
    let argv: Vec<String> = std::env::args().collect();
    let (records, overlap_s) = matbench::multi::run_all(plan, gpus, process_start, &argv)?;
    let summary = matbench::multi::summarise(&records, args.slow_margin / 100.0, overlap_s);
    match plan.format {
        Format::Text => print_stdout(matbench::multi::render(&summary).as_bytes()),
        Format::Json => {
            let doc = serde_json::json!({ "summary": summary, "runs": records });
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| Error::Device(format!("could not encode JSON: {e}")))?;
            print_stdout(format!("{text}\n").as_bytes());
        }
    }
    let mut code = ExitCode::SUCCESS;
    for record in &records {
        if let Err(e) = save(record, plan) {
            eprintln!("matbench: error: {e}");
            code = ExitCode::from(e.exit_code());
        }
    }
    if let Some(bad) = records.iter().find(|r| !r.verification.passed) {
        let e = Error::VerificationFailed(format!(
            "GPU {}: {}",
            bad.config.gpu_index.unwrap_or(0),
            bad.verification.summary_line()
        ));
        eprintln!("matbench: error: {e}");
        return Ok(ExitCode::from(e.exit_code()));
    }
    if args.check
        && let Some(slow) = summary.gpus.iter().find(|g| g.slow)
    {
        eprintln!(
            "matbench: error: GPU {} ran at {:.2} TFLOP/s, more than {}% below the fastest (--check)",
            slow.index, slow.tflop_per_s, args.slow_margin
        );
        return Ok(ExitCode::from(matbench::multi::EXIT_SLOW_GPU));
    }
    Ok(code)
}
