//! Fuzzing the results reader and every reader of results (`compare`, `report`, `export`,
//! `plot`) with proptest: arbitrary bytes, and arbitrary byte
//! and JSON-value mutations and truncations of a real record. Whatever the file holds, reading
//! it returns `Ok` or `Err` (never a panic), and `matbench compare` answers with a report
//! (exit 0 or 1) or exactly one line on stderr (exit 2).
//!
//! Case counts are small so the file runs in a few seconds in a debug build on 2 cores;
//! `PROPTEST_CASES=10000 cargo test --release --test fuzz_records` searches longer (a tenth
//! as many cases start the binary).

mod common;

use matbench::commands::compare::{pool, render, verdict};
use matbench::record::read;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::OnceLock;

/// Cases per property: `default`, or `PROPTEST_CASES / divisor` when that is set.
fn cases(default: u32, divisor: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(default, |n| (n / divisor).max(1))
}

/// A record as `matbench cpu` writes it (made once per test process).
fn real_record() -> &'static str {
    static RECORD: OnceLock<String> = OnceLock::new();
    RECORD.get_or_init(|| {
        let (record, _) =
            common::json_run_in_temp(&["cpu", "32", "--reps", "3", "--warmup", "0", "--seed", "5"]);
        serde_json::to_string_pretty(&record).expect("the record is JSON")
    })
}

/// One edit of the record's bytes.
#[derive(Clone, Debug)]
enum ByteEdit {
    Truncate(Index),
    Overwrite(Index, u8),
    Insert(Index, u8),
    Delete(Index, usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        any::<Index>().prop_map(ByteEdit::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Overwrite(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        (any::<Index>(), 1usize..32).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
    ]
}

fn apply_bytes(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for edit in edits {
        if bytes.is_empty() {
            break;
        }
        match edit {
            ByteEdit::Truncate(i) => bytes.truncate(i.index(bytes.len())),
            ByteEdit::Overwrite(i, b) => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            ByteEdit::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            ByteEdit::Delete(i, n) => {
                let at = i.index(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// A JSON value that is wrong somewhere in a record: other types, extreme numbers, strings
/// with control characters, empty containers.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            1e-300,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE
        ])
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        "[a-z\n\t\u{1b}|`*<>]{0,8}".prop_map(Value::from),
        prop::sample::select(vec!["cpu", "cuda", "f32", "f64", "bf16", "gpu", ""])
            .prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        prop::collection::vec(
            prop::sample::select(vec![0.0, -1.0, 1e-3, 2e-3, 1e308]),
            0..4
        )
        .prop_map(Value::from),
    ]
}

/// One edit of the record's JSON: replace the node at a path, by anything or by a value of
/// the same type (so that the record often still reads and reaches `compare`), or remove it.
#[derive(Clone, Debug)]
enum ValueEdit {
    Replace(Index, Value),
    SameType(Index, f64, String),
    Remove(Index),
}

fn value_edit() -> impl Strategy<Value = ValueEdit> {
    let number = prop_oneof![
        any::<f64>(),
        -1.0..1.0f64,
        Just(0.0),
        (0u32..20_000).prop_map(f64::from),
        Just(1e300),
    ];
    prop_oneof![
        2 => (any::<Index>(), odd_value()).prop_map(|(i, v)| ValueEdit::Replace(i, v)),
        3 => (any::<Index>(), number, "[a-zA-Z0-9 |`*_<>\n\u{1b}]{0,10}")
            .prop_map(|(i, x, t)| ValueEdit::SameType(i, x, t)),
        1 => any::<Index>().prop_map(ValueEdit::Remove),
    ]
}

/// A value of `old`'s type made of `x` and `text`: numbers stay numbers (whole numbers stay
/// whole where they can), strings stay strings.
fn same_type(old: &Value, x: f64, text: &str) -> Value {
    match old {
        Value::Number(n) if n.is_u64() && x.is_finite() && x >= 0.0 => {
            Value::from(x.round().min(1e15) as u64)
        }
        Value::Number(_) => Value::from(x),
        Value::String(_) => Value::from(text),
        Value::Bool(b) => Value::from(!b),
        other => other.clone(),
    }
}

/// JSON pointers of every node under `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn apply_values(text: &str, edits: &[ValueEdit]) -> Vec<u8> {
    let Ok(mut root) = serde_json::from_str::<Value>(text) else {
        return text.as_bytes().to_vec();
    };
    for edit in edits {
        let mut all = Vec::new();
        pointers(&root, String::new(), &mut all);
        if all.is_empty() {
            break;
        }
        match edit {
            ValueEdit::Replace(i, value) => {
                if let Some(node) = root.pointer_mut(&all[i.index(all.len())]) {
                    *node = value.clone();
                }
            }
            ValueEdit::SameType(i, x, text) => {
                if let Some(node) = root.pointer_mut(&all[i.index(all.len())]) {
                    *node = same_type(node, *x, text);
                }
            }
            ValueEdit::Remove(i) => {
                let p = &all[i.index(all.len())];
                let (parent, last) = p.rsplit_once('/').unwrap_or(("", p));
                match root.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(k) = last.parse::<usize>()
                            && k < items.len()
                        {
                            items.remove(k);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    serde_json::to_vec_pretty(&root).unwrap_or_default()
}

/// Any of: arbitrary bytes, a byte-mutated record, a value-mutated record.
fn record_file() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        2 => prop::collection::vec(byte_edit(), 1..6)
            .prop_map(|edits| apply_bytes(real_record().as_bytes().to_vec(), &edits)),
        4 => prop::collection::vec(value_edit(), 1..4)
            .prop_map(|edits| apply_values(real_record(), &edits)),
    ]
}

/// Reads `bytes` as a record and, if it reads, compares it with the real record through the
/// library: nothing may panic, and every error is one line once `compare` has cleaned it.
fn read_and_compare_in_process(dir: &Path, bytes: &[u8]) {
    let path = dir.join("fuzzed.json");
    std::fs::write(&path, bytes).expect("the temporary file is written");
    let good = dir.join("good.json");
    std::fs::write(&good, real_record()).expect("the temporary file is written");
    match read::read(&path) {
        Ok(record) => {
            let baseline = read::read_all(&[good]).expect("the real record reads");
            let candidate = vec![(path.clone(), record)];
            let (base, cand) = (pool::group(&baseline), pool::group(&candidate));
            let r = verdict::build("b", "c", &base, &cand, 5.0, false, vec![]);
            let _ = render::text(&r);
            let _ = render::markdown(&r);
            assert!(render::json(&r).is_ok());
        }
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(!e.one_line().to_string().contains('\n'));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000, 1)))]

    #[test]
    fn reading_any_file_never_panics(bytes in record_file()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        read_and_compare_in_process(dir.path(), &bytes);
    }
}

proptest! {
    // Each case starts the binary: a tenth as many cases.
    #![proptest_config(ProptestConfig::with_cases(cases(100, 10)))]

    #[test]
    fn compare_on_any_file_reports_or_exits_2_with_one_line(bytes in record_file()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let good = dir.path().join("good.json");
        let fuzzed = dir.path().join("fuzzed.json");
        std::fs::write(&good, real_record()).expect("written");
        std::fs::write(&fuzzed, &bytes).expect("written");
        let readable = read::read(&fuzzed).is_ok();
        let out = common::matbench_bare()
            .arg("compare")
            .arg(&good)
            .arg(&fuzzed)
            .output()
            .expect("matbench runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
        prop_assert!(matches!(code, Some(0..=2) | Some(8)), "{code:?}: {stderr}");
        if code == Some(2) {
            prop_assert_eq!(stderr.lines().count(), 1, "{}", stderr);
            prop_assert!(out.stdout.is_empty());
        } else {
            prop_assert!(readable, "an unreadable file was compared");
            prop_assert!(stderr.is_empty(), "{}", stderr);
            prop_assert!(!out.stdout.is_empty());
        }
        if !readable {
            prop_assert_eq!(code, Some(2));
        }
    }
}

proptest! {
    // Each case starts the binary three times: a tenth as many cases.
    #![proptest_config(ProptestConfig::with_cases(cases(100, 10)))]

    /// `report`, `export` and `plot` on a real record and a fuzzed one: an answer, or one line
    /// and a documented code (2 bad input, 8 a failed verification), never a panic or a hang.
    #[test]
    fn every_reader_on_any_file_answers_or_exits_with_one_line(bytes in record_file()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let records = dir.path().join("records");
        std::fs::create_dir(&records).expect("made");
        std::fs::write(records.join("good.json"), real_record()).expect("written");
        std::fs::write(records.join("fuzzed.json"), &bytes).expect("written");
        let readable = read::read(&records.join("fuzzed.json")).is_ok();
        let plots = dir.path().join("plots");
        let runs: [Vec<std::ffi::OsString>; 3] = [
            vec!["report".into(), records.clone().into()],
            vec!["export".into(), records.clone().into(), "--to".into(), "bencher".into()],
            vec!["plot".into(), records.clone().into(), "--out".into(), plots.into()],
        ];
        for args in runs {
            let out = common::matbench_bare()
                .args(&args)
                .timeout(std::time::Duration::from_secs(30))
                .output()
                .expect("matbench runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            prop_assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{args:?}: {stderr}");
            prop_assert!(matches!(code, Some(0) | Some(2) | Some(8)), "{args:?} {code:?}: {stderr}");
            prop_assert!(stderr.lines().count() <= 1, "{args:?}: {stderr}");
            if !readable {
                prop_assert_eq!(code, Some(2), "{:?}: an unreadable file was read", args);
            }
        }
    }
}

/// A few files that must fail with exit 2 whatever the fuzzer draws.
#[test]
fn known_bad_files_exit_2_with_one_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = dir.path().join("good.json");
    std::fs::write(&good, real_record()).expect("written");
    let mut newline_variant: Value = serde_json::from_str(real_record()).expect("JSON");
    newline_variant["config"]["backend"] = Value::from("cpu\nsecond line");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "half",
            real_record().as_bytes()[..real_record().len() / 2].to_vec(),
        ),
        ("foreign", b"{\"a\":1}".to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x1b]),
        (
            "newline in a variant",
            newline_variant.to_string().into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        let bad = dir.path().join(format!("{what}.json"));
        std::fs::write(&bad, &bytes).expect("written");
        for (a, b) in [(&good, &bad), (&bad, &good)] {
            let out = common::matbench_bare()
                .arg("compare")
                .arg(a)
                .arg(b)
                .output()
                .expect("matbench runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        }
    }
}
