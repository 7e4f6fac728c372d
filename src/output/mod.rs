//! The one output and exit policy (top floor): everything matbench prints goes through here.
//!
//! - [`Stdout`] writes results. A pipe closed by its reader (`matbench report … | head`) is
//!   the end of output, not an error: what follows is dropped quietly and the command exits as
//!   if it had printed everything. Any other failed write (a full disk, `> /dev/full`) is an
//!   [`Error::Output`] (exit 9), so a CI step never goes green on an empty file.
//! - [`error`] prints the one `matbench: error: …` line of an error; nothing else does.
//! - [`run_text`] and [`multi`] render runs for people; JSON goes through the one encoder,
//!   [`crate::record::json::to_bytes`]. Renderers return strings or bytes and do no I/O.

pub mod escape;
pub mod multi;
pub mod run_text;

use crate::cli::Format;
use crate::error::Error;
use crate::record::RunRecord;
use std::io::{ErrorKind, Write};

/// Standard output under the policy above.
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
}

impl Stdout {
    /// A writer for this process's standard output.
    pub fn new() -> Stdout {
        Stdout::default()
    }

    /// Writes `bytes` and flushes. `Ok` also when the reader has gone away (see the module docs).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_to(&mut std::io::stdout().lock(), bytes)
    }

    /// [`Stdout::write`] to any writer (the policy, testable without a real stdout).
    pub fn write_to(&mut self, out: &mut dyn Write, bytes: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        match out.write_all(bytes).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(Error::Output(e.to_string())),
        }
    }

    /// Writes one line of text.
    pub fn line(&mut self, text: &str) -> Result<(), Error> {
        self.write(format!("{text}\n").as_bytes())
    }
}

/// Prints the one line of an error on stderr: the only place `matbench: error:` is written.
pub fn error(e: &Error) {
    eprintln!("matbench: error: {e}");
}

/// The line of a panic caught by `main`'s hook (exit 101): a bug, said as one.
pub fn internal_error(what: &str) {
    eprintln!("matbench: internal error (a bug, please report it): {what}");
}

/// A note on stderr (where a record went, a warning): one line, prefixed `matbench:`.
pub fn note(text: &str) {
    eprintln!("matbench: {text}");
}

/// A run's record rendered for stdout: the text report, or the JSON record.
pub fn render_run(record: &RunRecord, format: Format) -> Result<Vec<u8>, Error> {
    match format {
        Format::Text => Ok(run_text::render(record).into_bytes()),
        Format::Json => crate::record::json::to_bytes(record, "the record"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write with `kind`.
    struct Failing(ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(self.0))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly() {
        let mut out = Stdout::new();
        let mut pipe = Failing(ErrorKind::BrokenPipe);
        assert!(out.write_to(&mut pipe, b"first").is_ok());
        // Later writes are dropped without touching the writer.
        let mut fine = Vec::new();
        assert!(out.write_to(&mut fine, b"second").is_ok());
        assert!(fine.is_empty());
    }

    #[test]
    fn any_other_failed_write_is_an_output_error() {
        let mut out = Stdout::new();
        let e = out
            .write_to(&mut Failing(ErrorKind::StorageFull), b"x")
            .unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::OutputFailed);
        assert!(
            e.to_string()
                .starts_with("could not write to standard output")
        );
        let mut fine = Vec::new();
        assert!(Stdout::new().write_to(&mut fine, b"ok").is_ok());
        assert_eq!(fine, b"ok");
    }
}
