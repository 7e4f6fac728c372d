//! The one record reader and validator: every subcommand that reads results (`compare`,
//! `report`, `plot`, `export`) reads them here, and so agrees on what a readable record is.

use crate::error::{Error, one_line};
use crate::record::{RunRecord, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

/// Reads a record back, refusing other schema versions and foreign JSON with one clear message.
pub fn read(path: &Path) -> Result<RunRecord, Error> {
    // Messages may quote file contents (serde names an unknown variant): keep them one line.
    let bad = |reason: String| Error::BadRecord {
        path: path.to_path_buf(),
        reason: one_line(&reason),
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "schema version {v}, this matbench reads version {SCHEMA_VERSION}"
            )));
        }
        None => return Err(bad("not a matbench record (no schema_version)".into())),
    }
    let record: RunRecord = serde_json::from_value(value)
        .map_err(|e| bad(format!("not a valid matbench record ({e})")))?;
    validate(&record).map_err(bad)?;
    Ok(record)
}

/// What every reader may rely on in a record it was given, beyond its types: n ≥ 1, at least
/// one matmul repetition and as many as the record says it ran, every time a positive finite
/// number of seconds, and FLOP figures that agree with n and the op. `Err` says which part
/// is wrong. (A failed verification is not a reading problem: the readers decide what a
/// wrong answer means for them.)
pub fn validate(record: &RunRecord) -> Result<(), String> {
    let n = record.config.n;
    if n == 0 {
        return Err("config.n is 0: a matrix has at least one row".into());
    }
    let samples = &record.matmul.samples_s;
    if samples.is_empty() {
        return Err("matmul.samples_s is empty: no timing to read".into());
    }
    let positive = |s: &f64| s.is_finite() && *s > 0.0;
    if let Some(s) = samples.iter().find(|s| !positive(s)) {
        return Err(format!(
            "matmul.samples_s holds {s}, not a positive number of seconds"
        ));
    }
    if samples.len() != record.config.reps as usize {
        return Err(format!(
            "matmul.samples_s holds {} samples but config.reps is {}",
            samples.len(),
            record.config.reps
        ));
    }
    if !positive(&record.matmul.median_s) {
        return Err(format!(
            "matmul.median_s is {}, not a positive number of seconds",
            record.matmul.median_s
        ));
    }
    let flop = record.config.op.flop(n);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs();
    if !close(record.flop_per_matmul, flop) {
        return Err(format!(
            "flop_per_matmul is {:e}, but {} at n = {n} is {flop:e}",
            record.flop_per_matmul,
            record.config.op.name()
        ));
    }
    let rate = flop / record.matmul.median_s / 1e12;
    if !close(record.matmul_tflop_per_s, rate) {
        return Err(format!(
            "matmul_tflop_per_s is {}, but flop_per_matmul / matmul.median_s is {rate}",
            record.matmul_tflop_per_s
        ));
    }
    Ok(())
}

/// Reads every record named by `paths`: files as given, directories by their `*.json` files
/// (not recursing, skipping hidden and temporary files), in name order. A file that is not a
/// record of this schema, or a path that names no record at all, is an error (exit 2).
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, RunRecord)>, Error> {
    let mut out = Vec::new();
    for path in paths {
        let bad = |reason: String| Error::BadRecord {
            path: path.clone(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| bad(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && p.file_name()
                            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                        && p.is_file()
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(bad("no matbench records (*.json) in this directory".into()));
            }
            for f in files {
                let record = read(&f)?;
                out.push((f, record));
            }
        } else {
            out.push((path.clone(), read(path)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_refuses_foreign_and_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        for (text, needle) in [
            ("{\"schema_version\": 99}", "schema version 99"),
            ("[1,2]", "no schema_version"),
            ("{\"schema_version\": 1}", "not a valid matbench record"),
            ("{\"schema_ver", "not valid JSON"),
            (
                "{\"schema_version\": 1, \"config\": {\"backend\": \"cpu\\nx\"}}",
                "not a valid matbench record",
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let msg = read(&p).unwrap_err().to_string();
            assert!(msg.contains(needle), "{msg}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
    }

    #[test]
    fn every_reference_record_is_valid_and_a_broken_one_is_not() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results/reference");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        let records = read_all(&dirs).expect("every reference record reads");
        assert!(records.len() >= 20);
        let mut r = records[0].1.clone();
        assert_eq!(validate(&r), Ok(()));
        r.flop_per_matmul *= 2.0;
        assert!(validate(&r).unwrap_err().contains("flop_per_matmul"));
        let mut r = records[0].1.clone();
        r.config.n = 0;
        assert!(validate(&r).unwrap_err().contains("config.n is 0"));
        let mut r = records[0].1.clone();
        r.matmul.samples_s[0] = -1.0;
        assert!(validate(&r).unwrap_err().contains("holds -1"));
        let mut r = records[0].1.clone();
        r.matmul.samples_s.clear();
        assert!(validate(&r).unwrap_err().contains("empty"));
        let mut r = records[0].1.clone();
        r.matmul_tflop_per_s *= 2.0;
        assert!(validate(&r).unwrap_err().contains("matmul_tflop_per_s"));
    }
}
