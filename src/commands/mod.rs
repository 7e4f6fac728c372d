//! The subcommands (top floor): thin rooms that read the command line's arguments, call the
//! pipeline or the readers, and hand bytes to the one output writer. Each returns the process's
//! [`Exit`]; an `Err` is printed once by `main`.

pub mod compare;
pub mod export;
pub mod info;
pub mod plot;
pub mod report;
pub mod run;
pub mod shell;
pub mod sweep;

use crate::bench::RunContext;
use crate::cli::Command;
use crate::error::{Error, Exit};
use crate::model::vocab::CpuEngine;
use crate::output::Stdout;

/// Sets up the process for `command` before any thread exists: the CPU libraries' own pools
/// are sized from `--threads` (the count is checked again, with a clear error, by the plan),
/// and an OpenBLAS that does not know this CPU is told its kernel
/// ([`crate::backend::blas::repair_openblas_kernel`]).
pub fn prepare_process(command: &Command) {
    let (threads, engine, blas_lib) = match command {
        Command::Cpu(args) => (args.threads, args.cpu_engine, &args.blas_lib),
        Command::Sweep(args) => (args.threads, args.cpu_engine, &args.blas_lib),
        _ => return,
    };
    let threads = threads.unwrap_or_else(crate::host::cpu_threads).max(1);
    crate::backend::cpu::set_library_threads(threads);
    if matches!(engine, CpuEngine::Auto | CpuEngine::Blas) {
        crate::backend::blas::repair_openblas_kernel(blas_lib.as_deref());
    }
}

/// Runs `command`; `ctx` says where the process stands (start time, the command line).
pub fn dispatch(command: &Command, ctx: &RunContext, out: &mut Stdout) -> Result<Exit, Error> {
    match command {
        Command::Gpu(args) => run::gpu(args, ctx, out),
        Command::Cpu(args) => run::cpu(args, ctx, out),
        Command::Sweep(args) => sweep::run(args, ctx, out),
        Command::Compare(args) => compare::run(args, out),
        Command::Export(args) => export::run(args, out),
        Command::Plot(args) => plot::run(args, out),
        Command::Report(args) => report::run(args, out),
        Command::Info(args) => info::run(args, out),
        Command::Completions(args) => shell::completions(args, out),
        Command::Manpage => shell::manpage(out),
    }
}
