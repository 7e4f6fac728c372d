//! Whatever a record carries in its host and device names (a `|`, a newline, an escape
//! sequence, markup) reaches no terminal, breaks no Markdown table and no JSON document, in
//! every renderer of every reader.

mod common;

use common::{json_run_in_temp, matbench_bare, record_with_samples, samples_around, write_record};
use serde_json::Value;
use std::path::Path;

const HOST: &str = "evil|host\n\u{1b}[31mred";
const DEVICE: &str = "dev|ice <b>&\nX\u{1b}]0;title\u{7}";

/// Two records of one benchmark, on two hosts, with hostile names.
fn hostile(dir: &Path) {
    let real = json_run_in_temp(&["cpu", "40", "--reps", "3", "--seed", "8"]).0;
    for (i, host) in [HOST, "plain"].iter().enumerate() {
        let mut r = record_with_samples(&real, &samples_around(1e-3 * (1.0 + i as f64), 0.002, 10));
        r["host"]["hostname"] = Value::from(*host);
        r["device"]["name"] = Value::from(DEVICE);
        write_record(dir, &format!("r{i}.json"), &r);
    }
}

fn run(args: &[&std::ffi::OsStr]) -> String {
    let out = matbench_bare().args(args).output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// No control character but the newline that ends a line.
fn assert_no_controls(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(bad.is_empty(), "{what}: {bad:?} in\n{text}");
}

/// Every line of a Markdown table has the header's number of unescaped cell separators.
fn assert_tables_intact(what: &str, text: &str) {
    let cells = |line: &str| line.replace("\\|", "").matches('|').count();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with('|') {
            let want = cells(line);
            while let Some(row) = lines.peek().filter(|l| l.starts_with('|')) {
                assert_eq!(cells(row), want, "{what}: a broken row: {row}");
                lines.next();
            }
        }
    }
}

#[test]
fn every_renderer_of_every_reader_escapes_record_text() {
    let dir = tempfile::tempdir().unwrap();
    hostile(dir.path());
    let d = dir.path().as_os_str();
    let s = |t: &'static str| std::ffi::OsStr::new(t);
    for cmd in ["report", "compare"] {
        let mut args = vec![s(cmd), d];
        if cmd == "compare" {
            args.push(d);
        }
        let text = run(&args);
        assert_no_controls(&format!("{cmd} text"), &text);
        let mut md_args = args.clone();
        md_args.extend([s("--format"), s("markdown")]);
        let md = run(&md_args);
        assert_no_controls(&format!("{cmd} markdown"), &md);
        assert_tables_intact(&format!("{cmd} markdown"), &md);
        let mut json_args = args.clone();
        json_args.extend([s("--format"), s("json")]);
        let json: Value = serde_json::from_str(&run(&json_args)).expect("JSON");
        assert!(
            json.to_string().contains("dev|ice"),
            "{cmd} json keeps the name"
        );
    }
    for to in ["bencher", "github-action-benchmark"] {
        let text = run(&[s("export"), d, s("--to"), s(to)]);
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert!(
            v.to_string().contains("\\u001b"),
            "{to}: escaped, not dropped"
        );
        assert_no_controls(to, &text);
    }
    let plots = tempfile::tempdir().unwrap();
    run(&[s("plot"), d, s("--out"), plots.path().as_os_str()]);
    let svg = std::fs::read_to_string(plots.path().join("tflops.svg")).unwrap();
    assert_no_controls("plot svg", &svg);
    assert!(!svg.contains("<b>"), "markup in a name is text, not SVG");
}
