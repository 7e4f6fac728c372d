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
use crate::output::Stdout;

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
