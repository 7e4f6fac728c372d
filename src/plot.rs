//! `matbench plot`: SVG charts from stored results.

use crate::cli::PlotArgs;
use crate::error::Error;
use std::process::ExitCode;

/// Runs the subcommand.
pub fn run(args: &PlotArgs) -> Result<ExitCode, Error> {
    let _ = args;
    Err(Error::InvalidArgument("not built yet".into()))
}
