//! The library's errors, each with the exit code the binary turns it into.
//!
//! Messages are written for the person at the terminal: they say what was wrong and, where
//! there is one, what to do instead. `main` prints exactly one line per error.

use std::path::PathBuf;

/// Everything that can stop a run. The exit codes are documented in the README.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something invalid (a size, a count, a dtype for this backend).
    #[error("{0}")]
    InvalidArgument(String),

    /// No device can run this: no driver, no CUDA libraries, no such GPU index.
    #[error("{0}")]
    NoDevice(String),

    /// The problem does not fit in the memory that is free on the device or the host.
    #[error("{0}")]
    OutOfMemory(String),

    /// A CUDA, cuBLAS or NVRTC call failed while the benchmark ran.
    #[error("{0}")]
    Device(String),

    /// The result did not match the reference; the run was still recorded.
    #[error("verification failed: {0}")]
    VerificationFailed(String),

    /// The record could not be written; the result itself was printed.
    #[error("could not save the result in {}: {reason} (the result was printed above; pass --results-dir DIR or --no-save)", dir.display())]
    Save {
        /// Directory the record was meant for.
        dir: PathBuf,
        /// What the operating system said.
        reason: String,
    },

    /// A results file that cannot be read back.
    #[error("{}: {reason}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// The process exit code for this error (README, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::VerificationFailed(_) => 1,
            Error::InvalidArgument(_) | Error::BadRecord { .. } => 2,
            Error::NoDevice(_) => 3,
            Error::OutOfMemory(_) => 4,
            Error::Device(_) => 5,
            Error::Save { .. } => 6,
        }
    }
}

/// Exit code of a panic caught by the hook in `main` (a bug, never expected).
pub const EXIT_INTERNAL: u8 = 101;
