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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    // Before any thread starts (the signal watchdog is the first).
    matbench::commands::prepare_process(&cli.command);
    if let Err(e) = matbench::interrupt::install(output::error) {
        output::error(&e);
        return e.exit().into();
    }
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
    let exit = match result.and_then(|exit| matbench::interrupt::check().map(|()| exit)) {
        Ok(exit) => exit,
        Err(e) => {
            output::error(&e);
            e.exit()
        }
    };
    // Everything is written; the libraries' exit-time teardown is skipped (module docs).
    matbench::quick_exit::now(i32::from(exit.code()))
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
            output::error(&matbench::Error::InvalidArgument(clap_message(
                &e.render().to_string(),
            )));
            Exit::BadInput.into()
        }
    }
}

/// clap's own message in one line: every line up to its usage (the argument it names, the
/// values it expects, its tip), then the usage, then where help is.
fn clap_message(rendered: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_string());
        } else if !line.starts_with("For more information") {
            parts.push(line.trim_start_matches("error: ").to_string());
        }
    }
    let mut text = parts.join(" ");
    if let Some(u) = usage {
        text.push_str(&format!(" (usage: {u}; see matbench --help)"));
    } else {
        text.push_str(" (see matbench --help)");
    }
    text
}
