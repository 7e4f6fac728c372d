//! `matbench sweep`: a grid of runs, each saved as it finishes.

use crate::cli::SweepArgs;
use crate::error::Error;
use std::process::ExitCode;

/// Runs the subcommand.
pub fn run(args: &SweepArgs) -> Result<ExitCode, Error> {
    let _ = args;
    Err(Error::InvalidArgument("not built yet".into()))
}
