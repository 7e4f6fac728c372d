//! The one place that writes results files: atomically (temporary file in the same directory,
//! then a rename that refuses to overwrite), under names that never collide.

use crate::error::Error;
use crate::record::RunRecord;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name for a record: UTC time, host, device, dtype and n, e.g.
/// `20261128T101500.123Z_myhost_cuda-nvidia-h200-gpu0_f32_n10000.json`.
pub fn file_name(record: &RunRecord, utc: &chrono::DateTime<chrono::Utc>) -> String {
    // The GPU's ordinal keeps the records of a multi-GPU run apart.
    let device = match record.device.index {
        Some(index) => format!(
            "{}-{}-gpu{index}",
            record.config.backend.name(),
            record.device.name
        ),
        None => format!("{}-{}", record.config.backend.name(), record.device.name),
    };
    format!(
        "{}_{}_{}_{}_n{}.json",
        utc.format("%Y%m%dT%H%M%S%.3fZ"),
        slug(&record.host.hostname),
        slug(&device),
        match record.config.op {
            crate::model::vocab::MatOp::Gemm => record.config.dtype.to_string(),
            op => format!("{}-{}", record.config.dtype, op.name()),
        },
        record.config.n
    )
}

/// Lowercase ASCII letters, digits, '.' and '-' only; runs of anything else become one '-'.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "unnamed".to_string()
    } else {
        trimmed.chars().take(48).collect()
    }
}

/// Writes `bytes` as `dir/name`, creating `dir`. Never overwrites: a taken name gets a
/// `-1`, `-2`, … suffix. Nothing is left behind on failure (the temporary file is removed).
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
    let fail = |e: std::io::Error| Error::save("the record", dir, e.to_string());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = new_temp(dir, ".tmp").map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    let stem = name.strip_suffix(".json").unwrap_or(name);
    for attempt in 0..1000u32 {
        let candidate = if attempt == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{attempt}.json"))
        };
        match tmp.persist_noclobber(&candidate) {
            Ok(_) => return Ok(candidate),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(fail(e.error)),
        }
    }
    Err(Error::save(
        "the record",
        dir,
        "1000 records of the same name already exist",
    ))
}

/// Writes `record` as JSON into `dir` under [`file_name`] (never overwriting, atomically): the
/// one way a run's record reaches the disk, for single runs, multi-GPU runs and sweeps.
pub fn save(dir: &Path, record: &RunRecord) -> Result<PathBuf, Error> {
    let bytes = crate::record::json::to_bytes(record, "the record")?;
    let started = chrono::DateTime::parse_from_rfc3339(&record.started_utc)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    write_new(dir, &file_name(record, &started), &bytes)
}

/// A temporary file in `dir` (same file system, so the final rename is atomic), created with
/// mode 0644 rather than tempfile's private 0600: records and charts are meant to be shared.
pub fn new_temp(dir: &Path, suffix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".matbench-").suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_name_parts() {
        assert_eq!(slug("NVIDIA H200"), "nvidia-h200");
        assert_eq!(
            slug("cpu-Intel(R) Xeon(R) @ 2.1GHz"),
            "cpu-intel-r-xeon-r-2.1ghz"
        );
        assert_eq!(slug("///"), "unnamed");
        assert!(!slug("../../etc/passwd").contains('/'));
    }

    #[test]
    fn never_overwrites_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_new(dir.path(), "x.json", b"one").unwrap();
        let b = write_new(dir.path(), "x.json", b"two").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        assert_eq!(b.file_name().unwrap(), "x-1.json");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn unwritable_directory_is_a_save_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let err = write_new(&file.join("sub"), "x.json", b"{}").unwrap_err();
        assert_eq!(err.exit_code(), 6);
    }
}
