//! `matbench compare`: verdicts a CI job can trust.

use crate::cli::CompareArgs;
use crate::error::Error;
use std::process::ExitCode;

/// Runs the subcommand.
pub fn run(args: &CompareArgs) -> Result<ExitCode, Error> {
    let _ = args;
    Err(Error::InvalidArgument("not built yet".into()))
}
