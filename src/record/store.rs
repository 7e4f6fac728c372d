//! The one place that writes results files: atomically (temporary file in the same directory,
//! then a rename that refuses to overwrite), under names that never collide.
//!
//! A temporary file's name carries the OS host name and the process id of its writer
//! (`.matbench_<host>_<pid>_<random>.tmp`). A writer killed outright (SIGKILL, a node lost)
//! leaves one behind; the next save into that directory recovers it (a whole, valid record is
//! renamed to its proper name) or removes it (anything else) — but only when its writer is
//! provably gone: the same host, and no process with that id. Results directories are shared
//! by many nodes (a Kubernetes volume, a Slurm job's file system), and a file another machine
//! is writing is never touched. So a crash leaves either nothing or a whole record.

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
    prepare_dir(dir, "the record")?;
    write_in(dir, name, bytes)
}

/// `bytes` in a new temporary record file in `dir`, on the disk: what a save renames into
/// place.
fn synced_temp(dir: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = new_temp(dir, ".tmp")?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// [`write_new`] into a directory that exists.
fn write_in(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
    let fail = |e: std::io::Error| Error::save_io("the record", dir, &e);
    let mut tmp = synced_temp(dir, bytes).map_err(fail)?;
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
    write_new(dir, &file_name(record, &started(record)), &bytes)
}

/// Writes `record` over the record file at `path`, atomically (a reader sees the old record
/// or the new one, never a mix): for a verdict that needed every GPU's run, added after each
/// was saved (`--gpu all --check`).
pub fn replace(path: &Path, record: &RunRecord) -> Result<(), Error> {
    let bytes = crate::record::json::to_bytes(record, "the record")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    replace_bytes(path, &bytes).map_err(|e| Error::save_io("the record", dir, &e))
}

/// Writes `bytes` over the file at `path` (or creates it) atomically: a synced temporary file
/// beside it, renamed over it, so a reader sees the old file or the new one, never a mix. The
/// one atomic replace, for records and for `--algo search`'s cache.
pub fn replace_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = synced_temp(dir, bytes)?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

/// When the run started, from its record (now, if the record's time cannot be read).
fn started(record: &RunRecord) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&record.started_utc)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now())
}

/// Makes `dir` ready for `what`: created if missing (a path that is a file, or a link to
/// nothing, is named as such, not as "File exists"), and cleared of temporary files whose
/// writers are gone (module docs).
pub fn prepare_dir(dir: &Path, what: &'static str) -> Result<(), Error> {
    for at in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        let Ok(meta) = std::fs::symlink_metadata(at) else {
            continue;
        };
        let reason = if meta.file_type().is_symlink() && std::fs::metadata(at).is_err() {
            Some("is a symbolic link to nothing")
        } else if std::fs::metadata(at).is_ok_and(|m| !m.is_dir()) {
            Some("is a file, not a directory")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::save(what, dir, format!("{} {reason}", at.display())));
        }
        break;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::save_io(what, dir, &e))?;
    // Once per directory and process: a sweep saving hundreds of records into a shared
    // directory of thousands lists it once, not at every save.
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let first = SWEPT.lock().map_or(true, |mut swept| {
        let new = !swept.iter().any(|d| d == dir);
        if new {
            swept.push(dir.to_path_buf());
        }
        new
    });
    if first {
        recover_stale(dir);
    }
    Ok(())
}

/// The prefix of this process's temporary files: `.matbench_<host>_<pid>_`.
fn temp_prefix() -> String {
    format!(
        ".matbench_{}_{}_",
        slug(&crate::host::os_hostname()),
        std::process::id()
    )
}

/// Recovers or removes the temporary files of writers provably gone (module docs). Best
/// effort: what cannot be read or renamed is left as it is.
fn recover_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let host = slug(&crate::host::os_hostname());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_writer(&name, &host) else {
            continue;
        };
        if writer_alive(pid) {
            continue;
        }
        let path = entry.path();
        // A whole, valid record is saved again under its own name; then the scrap goes.
        let saved = match crate::record::read::read(&path) {
            Ok(record) if !name.ends_with(".svg.tmp") => {
                std::fs::read(&path).ok().is_some_and(|bytes| {
                    write_in(dir, &file_name(&record, &started(&record)), &bytes).is_ok()
                })
            }
            _ => true,
        };
        if saved {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The writer's process id if `name` is a temporary file written on `host`.
fn stale_writer(name: &str, host: &str) -> Option<u32> {
    let rest = name.strip_prefix(".matbench_")?.strip_suffix(".tmp")?;
    let rest = rest.strip_prefix(host)?.strip_prefix('_')?;
    rest.split('_').next()?.parse().ok()
}

/// Whether a process with this id exists here. Where that cannot be known (no `/proc`), it
/// is taken to exist, so nothing is touched.
fn writer_alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists()
}

/// A temporary file in `dir` (same file system, so the final rename is atomic), created with
/// mode 0644 rather than tempfile's private 0600: records and charts are meant to be shared.
pub fn new_temp(dir: &Path, suffix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    let prefix = temp_prefix();
    builder.prefix(&prefix).suffix(suffix);
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
    fn a_dead_writers_whole_record_is_recovered_and_its_scraps_removed() {
        let dir = tempfile::tempdir().unwrap();
        let one = crate::record::fixtures::one_file();
        let host = slug(&crate::host::os_hostname());
        // A pid above the kernel's maximum (4194304) is never a live process.
        let dead = |what: &str| {
            dir.path()
                .join(format!(".matbench_{host}_9999999_{what}.tmp"))
        };
        std::fs::copy(&one, dead("whole")).unwrap();
        std::fs::write(dead("half"), b"{\"schema_version\": 1, \"conf").unwrap();
        // Another host's file, and a live writer's (this process), are never touched.
        let other = dir.path().join(".matbench_elsewhere_9999999_x.tmp");
        std::fs::write(&other, b"partial").unwrap();
        let live = dir
            .path()
            .join(format!(".matbench_{host}_{}_x.tmp", std::process::id()));
        std::fs::write(&live, b"partial").unwrap();
        write_new(dir.path(), "new.json", b"{}").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let recovered = names
            .iter()
            .filter(|n| n.ends_with("_n256.json") || n.contains("_n"))
            .count();
        assert!(recovered >= 1, "{names:?}");
        assert!(
            !names
                .iter()
                .any(|n| n.contains("9999999_whole") || n.contains("9999999_half")),
            "{names:?}"
        );
        assert!(other.exists() && live.exists(), "{names:?}");
        assert!(names.contains(&"new.json".to_string()));
    }

    #[test]
    fn every_reference_record_has_the_documented_name() {
        let root = crate::record::fixtures::reference("");
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().file_name().to_string_lossy().into_owned();
            for (path, record) in crate::record::fixtures::records(&dir) {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert_eq!(name, file_name(&record, &started(&record)), "{dir}");
            }
        }
    }

    #[test]
    fn a_results_dir_that_is_a_file_or_a_dangling_link_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let e = write_new(&file, "x.json", b"{}").unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
        let e = write_new(&file.join("sub"), "x.json", b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain is a file, not a directory"), "{e}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
            let e = write_new(&link, "x.json", b"{}").unwrap_err().to_string();
            assert!(e.contains("symbolic link to nothing"), "{e}");
        }
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
