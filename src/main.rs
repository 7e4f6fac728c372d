//! `matbench`: parse → dispatch to the subcommand → exit. `main` only turns an error into one
//! line on stderr and its exit code (README, "Exit codes"; `error::Exit`).

#![deny(unsafe_code)]

use clap::Parser;
use matbench::backend::monotonic_s;
use matbench::bench::RunContext;
use matbench::cli::Cli;
use matbench::error::Exit;
use matbench::output::{self, Stdout};
use std::process::ExitCode;

fn main() -> ExitCode {
    let process_start_s = monotonic_s();
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
        output::internal_error(&format!("{msg}{at}"));
    }));
    if let Err(e) = matbench::interrupt::install() {
        output::error(&e);
        return e.exit().into();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let ctx = RunContext {
        startup_s: 0.0,
        process_start_s,
        // Lossy, not `env::args()`: a path that is not UTF-8 must not panic after a run.
        args: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    };
    let mut out = Stdout::new();
    let result = matbench::commands::dispatch(&cli.command, &ctx, &mut out);
    // A signal that arrived after the last check (during verification or the save) still
    // ends the process with its code, once what was finished is out.
    match result.and_then(|exit| matbench::interrupt::check().map(|()| exit)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            output::error(&e);
            e.exit().into()
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
                Exit::BadInput.into()
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
            output::error(&matbench::Error::InvalidArgument(format!(
                "{first} (see matbench --help)"
            )));
            Exit::BadInput.into()
        }
    }
}
