//! The one record reader and validator: every subcommand that reads results (`compare`,
//! `report`, `plot`, `export`) reads them here, and so agrees on what a readable record is.

use crate::error::{Error, one_line};
use crate::record::{RunRecord, SCHEMA_VERSION};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file read as a record. The largest record matbench writes (100 000 repetitions:
/// two arrays of 100 000 samples of about 25 bytes each, plus telemetry) is about 5 MiB; four
/// times that leaves room for any future field and still refuses a disk image or a log
/// given by mistake before it is read into memory.
pub const MAX_RECORD_BYTE: u64 = 20 * 1024 * 1024;

/// The bytes of a record file: only a regular file (a FIFO would block, a device never ends),
/// and at most [`MAX_RECORD_BYTE`].
fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(
            "not a regular file (a FIFO, device or socket is never read as a record)".into(),
        );
    }
    if meta.len() > MAX_RECORD_BYTE {
        return Err(format!(
            "{} bytes, more than a record can hold ({MAX_RECORD_BYTE} at most)",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RECORD_BYTE + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_RECORD_BYTE {
        return Err(format!(
            "more than a record can hold ({MAX_RECORD_BYTE} bytes at most)"
        ));
    }
    Ok(bytes)
}

/// Reads a record back, refusing other schema versions and foreign JSON with one clear message.
pub fn read(path: &Path) -> Result<RunRecord, Error> {
    // Messages may quote file contents (serde names an unknown variant): keep them one line.
    let bad = |reason: String| Error::BadRecord {
        path: path.to_path_buf(),
        reason: one_line(&reason),
    };
    let bytes = read_bytes(path).map_err(bad)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let value = match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => value,
        Some(1) => upgrade_from_1(value),
        Some(v) => {
            return Err(bad(format!(
                "schema version {v}, this matbench reads versions 1 to {SCHEMA_VERSION}"
            )));
        }
        None => return Err(bad("not a matbench record (no schema_version)".into())),
    };
    let record: RunRecord = serde_json::from_value(value)
        .map_err(|e| bad(format!("not a valid matbench record ({e})")))?;
    validate(&record).map_err(bad)?;
    Ok(record)
}

/// A schema-1 record as schema 2: `phases.seed_time_taken_s` (the script's time without the
/// device's start-up) becomes `phases.script_time_taken_s`, start-up added, as schema 2
/// measures it. Anything else is left for the decoder to judge.
fn upgrade_from_1(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(phases) = value.get_mut("phases").and_then(|p| p.as_object_mut())
        && let Some(old) = phases.remove("seed_time_taken_s")
    {
        let startup = phases.get("startup_s").and_then(|s| s.as_f64());
        let script = match (old.as_f64(), startup) {
            (Some(t), Some(s)) => serde_json::Value::from(t + s),
            _ => old,
        };
        phases.insert("script_time_taken_s".into(), script);
    }
    value["schema_version"] = serde_json::Value::from(SCHEMA_VERSION);
    value
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
    if let Some(s) = samples.iter().find(|s| !(flop / **s).is_finite()) {
        return Err(format!(
            "matmul.samples_s holds {s:e} s, too short for any rate to be computed from it"
        ));
    }
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
    if let Some(p) = &record.peak
        && let (Some(share), Some(peak)) = (p.matmul_share, p.peak_tflop_per_s)
        && !close(share, record.matmul_tflop_per_s / peak)
    {
        return Err(format!(
            "peak.matmul_share is {share}, but matmul_tflop_per_s / peak.peak_tflop_per_s is {}",
            record.matmul_tflop_per_s / peak
        ));
    }
    Ok(())
}

/// Reads every record named by `paths`: files as given, directories by their `*.json` files
/// (not recursing, skipping hidden and temporary files and anything but regular files), in
/// name order. A file named twice (directly, through a directory, or through a link) is read
/// once. A file that is not a record of this schema, or a path that names no record at all,
/// is an error (exit 2).
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, RunRecord)>, Error> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut once =
        |f: &Path| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf()));
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
                if once(&f) {
                    let record = read(&f)?;
                    out.push((f, record));
                }
            }
        } else if once(path) {
            out.push((path.clone(), read(path)?));
        }
    }
    Ok(out)
}

/// Records read, split by their verdict: a record whose answer failed verification is never
/// a verdict, a point on a chart or a published figure, in any reader.
#[derive(Debug, Default)]
pub struct Verified {
    /// Records whose answer was verified right.
    pub passed: Vec<(PathBuf, RunRecord)>,
    /// Records whose answer failed verification.
    pub failed: Vec<(PathBuf, RunRecord)>,
}

impl Verified {
    /// Splits `records` by `verification.passed`.
    pub fn split(records: Vec<(PathBuf, RunRecord)>) -> Verified {
        let (passed, failed) = records
            .into_iter()
            .partition(|(_, r)| r.verification.passed);
        Verified { passed, failed }
    }

    /// The error that names the failed records (exit 8), `None` when every record passed.
    /// `left_out` says what they were left out of ("the comparison", "the export").
    pub fn failure(&self, left_out: &str) -> Option<Error> {
        if self.failed.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .failed
            .iter()
            .map(|(path, r)| {
                format!(
                    "{} ({}{})",
                    one_line(&path.display().to_string()),
                    one_line(&crate::record::key::BenchKey::of(r).to_string()),
                    match &r.timed_out {
                        Some(t) =>
                            format!(", stopped by --timeout {} s: never verified", t.limit_s),
                        None => String::new(),
                    }
                )
            })
            .collect();
        let count = self.failed.len();
        Some(Error::RecordFailedVerification(format!(
            "{count} record{} failed verification and {} left out of {left_out}: {}",
            if count == 1 { "" } else { "s" },
            if count == 1 { "was" } else { "were" },
            names.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_peak_that_does_not_match_the_rate_is_refused() {
        let mut r = crate::record::fixtures::records("h200-2026-11-28")
            .remove(0)
            .1;
        let mut peak = crate::record::peak::PeakRecord::for_gpu(
            &r.device.name,
            (r.config.dtype, r.config.op, r.config.n),
            r.matmul_tflop_per_s,
            r.reduce.median_s,
        );
        r.peak = Some(peak.clone());
        assert_eq!(validate(&r), Ok(()));
        peak.matmul_share = Some(0.95);
        r.peak = Some(peak);
        let e = validate(&r).unwrap_err();
        assert!(e.starts_with("peak.matmul_share is 0.95, but"), "{e}");
    }

    #[test]
    fn reading_refuses_foreign_and_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        for (text, needle) in [
            (
                "{\"schema_version\": 99}",
                "schema version 99, this matbench reads versions 1 to 2",
            ),
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

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking_and_a_file_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // A directory holding a FIFO among its records reads the records and skips the FIFO.
        let one = crate::record::fixtures::one_file();
        let copy = dir.path().join("r.json");
        std::fs::copy(&one, &copy).unwrap();
        let twice = read_all(&[dir.path().to_path_buf(), copy.clone(), copy]).unwrap();
        assert_eq!(twice.len(), 1, "{twice:?}");
    }

    #[test]
    fn a_schema_1_record_reads_with_the_start_up_in_the_scripts_time() {
        let file = crate::record::fixtures::one_file();
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            raw["schema_version"], 1,
            "the reference records are schema 1"
        );
        let old = raw["phases"]["seed_time_taken_s"].as_f64().unwrap();
        let startup = raw["phases"]["startup_s"].as_f64().unwrap();
        let r = read(&file).unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert!((r.phases.script_time_taken_s - (old + startup)).abs() < 1e-15);
    }

    #[test]
    fn failed_records_are_split_off_and_named() {
        let mut records = crate::record::fixtures::records("dev-2core-2026-11-28");
        let total = records.len();
        records[0].1.verification.passed = false;
        records[0].1.timed_out = Some(crate::record::TimedOut {
            limit_s: 2.0,
            at: "GPU 0: measured repetition 3".into(),
        });
        let split = Verified::split(records);
        assert_eq!((split.passed.len(), split.failed.len()), (total - 1, 1));
        let e = split.failure("the export").unwrap();
        assert_eq!(e.exit(), crate::error::Exit::RecordFailedVerification);
        assert!(
            e.to_string()
                .starts_with("1 record failed verification and was left out of the export: "),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with(", stopped by --timeout 2 s: never verified)"),
            "{e}"
        );
        assert!(Verified::split(split.passed).failure("x").is_none());
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_RECORD_BYTE + 1).unwrap();
        let e = read(&big).unwrap_err().to_string();
        assert!(e.contains("more than a record can hold"), "{e}");
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
        r.matmul.samples_s[0] = 1e-320;
        assert!(validate(&r).unwrap_err().contains("too short"));
        let mut r = records[0].1.clone();
        r.matmul_tflop_per_s *= 2.0;
        assert!(validate(&r).unwrap_err().contains("matmul_tflop_per_s"));
    }
}
