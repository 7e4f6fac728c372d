//! `matbench export`: stored results in CI dashboards' formats.

use crate::cli::ExportArgs;
use crate::error::Error;
use std::process::ExitCode;

/// Runs the subcommand.
pub fn run(args: &ExportArgs) -> Result<ExitCode, Error> {
    let _ = args;
    Err(Error::InvalidArgument("not built yet".into()))
}
