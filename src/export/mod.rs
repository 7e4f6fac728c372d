//! Exporters turn a record into bytes and do no I/O; `main` and [`crate::record::store`]
//! decide where the bytes go.

mod json;
mod text;

pub use json::JsonExporter;
pub use text::{TextExporter, seed_timedelta};

use crate::cli::Format;
use crate::error::Error;
use crate::record::RunRecord;

/// Something that renders a run record.
pub trait Exporter {
    /// The rendered record.
    fn serialize(&self, record: &RunRecord) -> Result<Vec<u8>, Error>;
}

/// The exporter for stdout's `--format`.
pub fn for_format(format: Format) -> Box<dyn Exporter> {
    match format {
        Format::Text => Box::new(TextExporter),
        Format::Json => Box::new(JsonExporter),
    }
}
