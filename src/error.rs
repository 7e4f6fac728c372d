//! The library's errors and the process's exit statuses: the one table of exit codes.
//!
//! Every exit code matbench can return is a variant of [`Exit`], and [`Exit::code`] is the only
//! place a number is given to one; the README's "Exit codes" table is this table. An [`Error`]
//! says which [`Exit`] it ends the process with ([`Error::exit`]); outcomes that are not errors
//! (a regression found by `compare`, an outlier named by `report --check`) are [`Exit`] values
//! returned by the subcommand. Messages are written for the person at the terminal: one line,
//! saying what was wrong and, where there is one, what to do instead.

use std::path::PathBuf;

/// How the process ends. The numbers are the README's "Exit codes" table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// 0: everything asked for was done, every answer verified.
    Success,
    /// 1: this run's answer was wrong (verification failed; the run was printed and recorded).
    VerificationFailed,
    /// 1: a gate found a regression: `compare` saw something slower (or unclear with
    /// `--fail-on-unclear`), `report --check` named an outlier. The same code as a wrong answer
    /// since both mean "do not accept this"; the output says which.
    Regression,
    /// 2: bad input: arguments, sizes, counts, dtypes, unreadable or invalid records.
    BadInput,
    /// 3: no usable device or library: no GPU driver, no CUDA libraries, no such GPU, no CPU
    /// BLAS library that can be loaded when one is asked for.
    NoDevice,
    /// 4: the problem does not fit in the memory the device, the host or the job's limits allow.
    OutOfMemory,
    /// 5: a device or library call failed during the run (CUDA, cuBLAS, NVRTC, CPU BLAS).
    DeviceFailed,
    /// 6: a file could not be written (a record, a chart); what was measured was printed.
    SaveFailed,
    /// 7: `--check` failed: a GPU slower than its siblings, below its floor share of peak, or
    /// reporting a bad-card health counter.
    CheckFailed,
    /// 8: a record read by `compare`, `export`, `report` or `plot` failed verification: its
    /// timings are never a verdict or published.
    RecordFailedVerification,
    /// 9: standard output could not be written (a full disk, `> /dev/full`). A pipe closed by
    /// its reader (`| head`) is not this: output simply ends there.
    OutputFailed,
    /// 10: `--require-exclusive` and another process was using the GPU.
    SharedGpu,
    /// 11: `--timeout` expired before the run finished.
    Timeout,
    /// 12: the operating system refused something matbench needs (a thread, the random
    /// source, a signal handler).
    System,
    /// 101: an internal error, a bug (a panic, a value that could not be encoded).
    Internal,
    /// 130: interrupted by SIGINT (Ctrl-C); finished records were kept.
    Interrupted,
    /// 143: terminated by SIGTERM; finished records were kept.
    Terminated,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::VerificationFailed | Exit::Regression => 1,
            Exit::BadInput => 2,
            Exit::NoDevice => 3,
            Exit::OutOfMemory => 4,
            Exit::DeviceFailed => 5,
            Exit::SaveFailed => 6,
            Exit::CheckFailed => 7,
            Exit::RecordFailedVerification => 8,
            Exit::OutputFailed => 9,
            Exit::SharedGpu => 10,
            Exit::Timeout => 11,
            Exit::System => 12,
            Exit::Internal => 101,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// The worse of two outcomes, for commands that go on after a failure (a sweep, several
    /// GPUs, several records): the first failure wins, success never overrides one.
    pub fn or(self, other: Exit) -> Exit {
        if self == Exit::Success { other } else { self }
    }

    /// Every exit status, in code order (the README's table is checked against it).
    pub const ALL: [Exit; 17] = [
        Exit::Success,
        Exit::VerificationFailed,
        Exit::Regression,
        Exit::BadInput,
        Exit::NoDevice,
        Exit::OutOfMemory,
        Exit::DeviceFailed,
        Exit::SaveFailed,
        Exit::CheckFailed,
        Exit::RecordFailedVerification,
        Exit::OutputFailed,
        Exit::SharedGpu,
        Exit::Timeout,
        Exit::System,
        Exit::Internal,
        Exit::Interrupted,
        Exit::Terminated,
    ];
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// The source of a device error, kept for `std::error::Error::source`.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something invalid (a size, a count, a dtype for this backend).
    #[error("{0}")]
    InvalidArgument(String),

    /// A results file that cannot be read back.
    #[error("{}: {reason}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// No device can run this: no driver, no CUDA libraries, no such GPU index, no library.
    #[error("{0}")]
    NoDevice(String),

    /// The problem does not fit in the memory that is free or allowed.
    #[error("{0}")]
    OutOfMemory(String),

    /// A device or library call failed while the benchmark ran.
    #[error("{message}")]
    Device {
        /// What failed, for the person at the terminal.
        message: String,
        /// The library's own error, where there is one.
        #[source]
        source: Option<Source>,
    },

    /// The result did not match the reference; the run was still recorded.
    #[error("verification failed: {0}")]
    VerificationFailed(String),

    /// A file could not be written; the result itself was printed.
    #[error("could not save {what} in {}: {reason}{hint}", dir.display())]
    Save {
        /// What was being saved ("the record", "the charts").
        what: &'static str,
        /// Directory it was meant for.
        dir: PathBuf,
        /// What the operating system said.
        reason: String,
        /// What to do about it, with its leading separator ("; pass …"), or empty.
        hint: String,
        /// The operating system refused for lack of permission (the fix differs: `--user`
        /// in a container, another directory elsewhere).
        denied: bool,
    },

    /// `--check` failed; the message names the GPU, the figure and the rule.
    #[error("{0}")]
    CheckFailed(String),

    /// `--timeout` expired; the message says what the run was doing.
    #[error("{0}")]
    Timeout(String),

    /// `--require-exclusive` and another process was using the GPU; the message names it.
    #[error("{0}")]
    SharedGpu(String),

    /// Records read by a reader failed verification; the message names them.
    #[error("{0}")]
    RecordFailedVerification(String),

    /// Standard output could not be written.
    #[error("could not write to standard output: {0}")]
    Output(String),

    /// The operating system refused a thread, the random source or a signal handler.
    #[error("{0}")]
    System(String),

    /// SIGINT or SIGTERM arrived: the run stopped between two repetitions.
    #[error("stopped by {} (records already finished were kept)", signal_name(*.0))]
    Signal(i32),

    /// A value could not be encoded (JSON, SVG): a bug, reported as such.
    #[error("could not encode {what}: {reason} (a bug, please report it)")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// What the encoder said.
        reason: String,
    },
}

impl Error {
    /// A device error with the library's own error as its source.
    pub fn device(message: impl Into<String>, source: impl Into<Source>) -> Error {
        Error::Device {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A device error without a library error behind it.
    pub fn device_msg(message: impl Into<String>) -> Error {
        Error::Device {
            message: message.into(),
            source: None,
        }
    }

    /// A file could not be written in `dir`.
    pub fn save(what: &'static str, dir: &std::path::Path, reason: impl Into<String>) -> Error {
        Error::Save {
            what,
            dir: dir.to_path_buf(),
            reason: reason.into(),
            hint: String::new(),
            denied: false,
        }
    }

    /// A file could not be written in `dir` because of `e`.
    pub fn save_io(what: &'static str, dir: &std::path::Path, e: &std::io::Error) -> Error {
        Error::Save {
            what,
            dir: dir.to_path_buf(),
            reason: e.to_string(),
            hint: String::new(),
            denied: e.kind() == std::io::ErrorKind::PermissionDenied,
        }
    }

    /// Whether this is a save refused for lack of permission.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::Save { denied: true, .. })
    }

    /// The same error with what to do about it, for a save error (the flags that choose where
    /// files go differ between subcommands, so each names its own); other errors unchanged.
    pub fn with_hint(self, to_do: &str) -> Error {
        match self {
            Error::Save {
                what,
                dir,
                reason,
                denied,
                ..
            } => Error::Save {
                what,
                dir,
                reason,
                hint: format!(" ({to_do})"),
                denied,
            },
            other => other,
        }
    }

    /// How the process ends after this error (the README's "Exit codes").
    pub fn exit(&self) -> Exit {
        match self {
            Error::VerificationFailed(_) => Exit::VerificationFailed,
            Error::InvalidArgument(_) | Error::BadRecord { .. } => Exit::BadInput,
            Error::NoDevice(_) => Exit::NoDevice,
            Error::OutOfMemory(_) => Exit::OutOfMemory,
            Error::Device { .. } => Exit::DeviceFailed,
            Error::Save { .. } => Exit::SaveFailed,
            Error::CheckFailed(_) => Exit::CheckFailed,
            Error::Timeout(_) => Exit::Timeout,
            Error::SharedGpu(_) => Exit::SharedGpu,
            Error::RecordFailedVerification(_) => Exit::RecordFailedVerification,
            Error::Output(_) => Exit::OutputFailed,
            Error::System(_) => Exit::System,
            Error::Encode { .. } => Exit::Internal,
            Error::Signal(2) => Exit::Interrupted,
            Error::Signal(_) => Exit::Terminated,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }

    /// The same error as one line: control characters (a newline in a foreign file's string
    /// that a decoder quotes back, or in a file name) become spaces, so exactly one line is
    /// printed, and nothing a record carries can move the terminal's cursor.
    pub fn one_line(self) -> Error {
        match self {
            Error::BadRecord { path, reason } => Error::BadRecord {
                path: PathBuf::from(one_line(&path.to_string_lossy())),
                reason: one_line(&reason),
            },
            Error::InvalidArgument(text) => Error::InvalidArgument(one_line(&text)),
            Error::RecordFailedVerification(text) => {
                Error::RecordFailedVerification(one_line(&text))
            }
            other => other,
        }
    }
}

/// `SIGINT` for 2, `SIGTERM` for 15, else the number.
fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT (Ctrl-C)".into(),
        15 => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

/// `text` with every control character replaced by a space.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Exit code of a panic caught by the hook in `main` (a bug, never expected).
pub const EXIT_INTERNAL: u8 = 101;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_given_once_except_the_two_meanings_of_1() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), 17);
        codes.dedup();
        assert_eq!(codes.len(), 16, "only 1 is shared: {codes:?}");
        assert_eq!(Exit::Internal.code(), EXIT_INTERNAL);
        assert!(Exit::ALL.windows(2).all(|w| w[0].code() <= w[1].code()));
    }

    #[test]
    fn the_readme_table_is_this_table() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let table = readme
            .split("### Exit codes")
            .nth(1)
            .expect("an Exit codes section");
        let documented: Vec<u8> = table
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('|').nth(1).unwrap().trim().parse().unwrap())
            .collect();
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(documented, codes);
    }

    #[test]
    fn the_first_failure_wins() {
        assert_eq!(Exit::Success.or(Exit::SaveFailed), Exit::SaveFailed);
        assert_eq!(
            Exit::VerificationFailed.or(Exit::SaveFailed),
            Exit::VerificationFailed
        );
        assert_eq!(Exit::Success.or(Exit::Success), Exit::Success);
    }

    #[test]
    fn one_line_removes_newlines_from_messages() {
        let e = Error::BadRecord {
            path: PathBuf::from("a\nb.json"),
            reason: "unknown variant `x\ny`".into(),
        }
        .one_line();
        assert_eq!(e.to_string(), "a b.json: unknown variant `x y`");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_device_error_keeps_its_source() {
        let io = std::io::Error::other("driver said no");
        let e = Error::device("cuMemAlloc failed", io);
        assert_eq!(e.exit(), Exit::DeviceFailed);
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("driver said no"));
    }
}
