use super::Exporter;
use crate::error::Error;
use crate::record::RunRecord;

/// The record as pretty-printed JSON (the results file's format), with a final newline.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn serialize(&self, record: &RunRecord) -> Result<Vec<u8>, Error> {
        let mut bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::Device(format!("could not encode the record as JSON: {e}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
