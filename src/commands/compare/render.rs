//! The report as text for a terminal, as GitHub Markdown and as JSON. Pure functions: they
//! return the document and leave printing to [`super::run`].
//!
//! Device names and paths come from files that may not be ours, so control characters are
//! replaced (a stray escape sequence must not reach the terminal) and Markdown's special
//! characters are escaped (a `|` in a name must not break the table).

use super::verdict::{Comparison, Report, Side, Unmatched, Verdict};
use crate::error::Error;
use crate::model::Second;
use crate::output::escape::{md, plain};
use std::fmt::Write;

/// A time with a unit that keeps 3–4 significant digits: `37.89 ms`, `72.7 µs`, `1.331 s`.
pub fn time(s: Second) -> String {
    let (value, unit) = if !s.is_finite() || s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    format!("{} {unit}", significant(value))
}

/// `value` with 4 significant digits, and never in exponent notation.
pub fn significant(value: f64) -> String {
    if !value.is_finite() || value == 0.0 {
        return format!("{value}");
    }
    let digits = value.abs().log10().floor() as i32;
    let decimals = (3 - digits).clamp(0, 12) as usize;
    format!("{value:.decimals$}")
}

/// Two throughputs in one unit: `52.79 → 52.81 TFLOP/s`, `404.1 → 228.9 GFLOP/s`.
fn throughput_pair(base_tflop_per_s: f64, cand_tflop_per_s: f64) -> String {
    if base_tflop_per_s.max(cand_tflop_per_s) >= 1.0 {
        format!("{base_tflop_per_s:.2} → {cand_tflop_per_s:.2} TFLOP/s")
    } else {
        format!(
            "{:.1} → {:.1} GFLOP/s",
            base_tflop_per_s * 1e3,
            cand_tflop_per_s * 1e3
        )
    }
}

/// One throughput: `52.79 TFLOP/s` or `404.1 GFLOP/s`.
pub fn throughput(tflop_per_s: f64) -> String {
    if tflop_per_s >= 1.0 {
        format!("{tflop_per_s:.2} TFLOP/s")
    } else {
        format!("{:.1} GFLOP/s", tflop_per_s * 1e3)
    }
}

/// A ratio as a signed percent change: `+76.8%`, `-3.1%`.
fn change(ratio: f64) -> String {
    let percent = (ratio - 1.0) * 100.0;
    if percent.abs() < 0.05 {
        // Not "-0.0%".
        "+0.0%".to_string()
    } else {
        format!("{percent:+.1}%")
    }
}

/// `text` broken at spaces into lines of at most `width` characters (longer words stay whole),
/// each starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn interval(c: &Comparison) -> String {
    format!("[{}, {}]", change(c.ratio_low), change(c.ratio_high))
}

fn runs_samples(side: &Side) -> String {
    format!("{}×{}", side.runs, side.samples)
}

fn runs_phrase(side: &Side) -> String {
    let runs = if side.runs == 1 { "run" } else { "runs" };
    format!(
        "{} {runs}, {} samples, median {}, {}",
        side.runs,
        side.samples,
        time(side.median_s),
        throughput(side.tflop_per_s)
    )
}

/// The one-line outcome: regression or not, and why.
fn outcome(r: &Report) -> &'static str {
    if r.counts.failed_verification > 0 {
        "FAILED: a run's answer failed verification (no verdict for it)"
    } else if r.counts.slower > 0 {
        "regression"
    } else if r.exit_code != 0 {
        "unclear results fail the comparison (--fail-on-unclear)"
    } else if r.counts.unclear > 0 {
        "no regression found, but some results are unclear"
    } else {
        "no regression"
    }
}

fn counts_line(r: &Report) -> String {
    let c = &r.counts;
    let mut line = format!(
        "{} slower, {} faster, {} same, {} unclear",
        c.slower, c.faster, c.same, c.unclear
    );
    if c.failed_verification > 0 {
        let _ = write!(line, "; {} failed verification", c.failed_verification);
    }
    if c.only_in_baseline + c.only_in_candidate > 0 {
        let _ = write!(
            line,
            "; {} only in baseline, {} only in candidate",
            c.only_in_baseline, c.only_in_candidate
        );
    }
    line
}

fn header_cells() -> Vec<String> {
    [
        "benchmark",
        "baseline",
        "candidate",
        "change",
        "95% interval",
        "throughput",
        "runs×samples",
        "verdict",
    ]
    .map(String::from)
    .to_vec()
}

fn row_cells(c: &Comparison, name: String, verdict: String) -> Vec<String> {
    vec![
        name,
        time(c.baseline.median_s),
        time(c.candidate.median_s),
        change(c.ratio),
        interval(c),
        throughput_pair(c.baseline.tflop_per_s, c.candidate.tflop_per_s),
        format!(
            "{} → {}",
            runs_samples(&c.baseline),
            runs_samples(&c.candidate)
        ),
        verdict,
    ]
}

/// Columns padded to their widest cell; `right[i]` right-aligns column i.
fn table(rows: &[Vec<String>], right: &[bool]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.push(' ');
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

const RIGHT: [bool; 8] = [false, true, true, true, true, true, true, false];

fn unmatched_text(out: &mut String, title: &str, list: &[Unmatched]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n  {title}:");
    for u in list {
        let _ = writeln!(out, "    {}  ({})", plain(&u.name), runs_phrase(&u.runs));
    }
}

/// The report as a terminal table.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "matbench compare: baseline {} → candidate {}",
        plain(&r.baseline),
        plain(&r.candidate)
    );
    let _ = writeln!(out, "{}: {}\n", outcome(r), counts_line(r));
    if !r.comparisons.is_empty() {
        let mut rows = vec![header_cells()];
        for c in &r.comparisons {
            rows.push(row_cells(c, plain(&c.name), c.verdict.name().to_string()));
        }
        out.push_str(&table(&rows, &RIGHT));
    }
    let noted = noted(r);
    if !noted.is_empty() {
        let _ = writeln!(out, "\n  notes:");
        for c in noted {
            for note in &c.notes {
                let _ = writeln!(out, "    {}: {}", plain(&c.name), plain(note));
            }
        }
    }
    unmatched_text(
        &mut out,
        "only in baseline (no candidate run to compare with)",
        &r.only_in_baseline,
    );
    unmatched_text(
        &mut out,
        "only in candidate (no baseline run to compare with)",
        &r.only_in_candidate,
    );
    let failed = failed_lines(r, plain);
    if !failed.is_empty() {
        let _ = writeln!(out, "\n  failed verification (never pooled, no verdict):");
        for line in failed {
            let _ = writeln!(out, "    {line}");
        }
    }
    out.push('\n');
    let footer = format!(
        "change = median time candidate/baseline - 1 (positive: slower); runs×samples pooled \
         per side. {}.",
        plain(&r.rule)
    );
    out.push_str(&wrap(&footer, 96, "  "));
    out
}

fn verdict_md(v: Verdict) -> String {
    let mark = match v {
        Verdict::Faster => "🟢",
        Verdict::Slower => "🔴",
        Verdict::Same => "⚪",
        Verdict::Unclear => "🟡",
    };
    format!("{mark} {}", v.name())
}

fn md_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// The comparisons that carry notes.
fn noted(r: &Report) -> Vec<&Comparison> {
    r.comparisons
        .iter()
        .filter(|c| !c.notes.is_empty())
        .collect()
}

/// The runs that failed verification, one per line.
fn failed_lines(r: &Report, escape: fn(&str) -> String) -> Vec<String> {
    r.failed_verification
        .iter()
        .map(|f| {
            format!(
                "{} {} ({}): {}",
                f.side,
                escape(&f.name),
                escape(&f.file),
                escape(&f.verification)
            )
        })
        .collect()
}

fn unmatched_md(out: &mut String, title: &str, list: &[Unmatched]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n**{title}:**\n");
    for u in list {
        let _ = writeln!(out, "- {} ({})", md(&u.name), md(&runs_phrase(&u.runs)));
    }
}

/// The report as GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` or a pull-request
/// comment: a one-line verdict on top, then the table.
pub fn markdown(r: &Report) -> String {
    let mark = if r.exit_code != 0 {
        "❌"
    } else if r.counts.unclear > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let mut out = format!(
        "**matbench compare: {mark} {}** ({}; threshold ±{}%)\n\n",
        outcome(r),
        counts_line(r),
        r.threshold_percent
    );
    let _ = writeln!(
        out,
        "Baseline `{}` → candidate `{}`\n",
        plain(&r.baseline).replace('`', "'"),
        plain(&r.candidate).replace('`', "'")
    );
    if !r.comparisons.is_empty() {
        out.push_str(&md_row(&header_cells()));
        out.push_str("|:--|--:|--:|--:|--:|--:|--:|:--|\n");
        for c in &r.comparisons {
            let cells = row_cells(c, md(&c.name), verdict_md(c.verdict));
            let cells: Vec<String> = cells
                .into_iter()
                .enumerate()
                .map(|(i, cell)| if i == 0 || i == 7 { cell } else { md(&cell) })
                .collect();
            out.push_str(&md_row(&cells));
        }
    }
    let noted = noted(r);
    if !noted.is_empty() {
        out.push_str("\n**Notes:**\n\n");
        for c in noted {
            for note in &c.notes {
                let _ = writeln!(out, "- {}: {}", md(&c.name), md(note));
            }
        }
    }
    unmatched_md(&mut out, "Only in baseline", &r.only_in_baseline);
    unmatched_md(&mut out, "Only in candidate", &r.only_in_candidate);
    let failed = failed_lines(r, md);
    if !failed.is_empty() {
        out.push_str("\n**Failed verification** (never pooled, no verdict):\n\n");
        for line in failed {
            let _ = writeln!(out, "- {line}");
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>change = median time candidate/baseline − 1 (positive: slower); runs×samples \
         pooled per side. {}.</sub>",
        md(&r.rule)
    );
    out
}

/// The report as pretty JSON with a final newline (the fields of [`Report`]).
pub fn json(r: &Report) -> Result<Vec<u8>, Error> {
    crate::record::json::to_bytes(r, "the comparison")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::compare::verdict::build;
    use crate::commands::compare::verdict::tests::{pool, pools, spread};

    fn sample_report() -> Report {
        let base = pools(vec![
            pool(100, &[&spread(1e-3)], "faer, 2 threads"),
            pool(200, &[&spread(5e-3)], "faer, 2 threads"),
        ]);
        let cand = pools(vec![
            pool(100, &[&spread(2e-3), &spread(2e-3)], "faer, 1 thread"),
            pool(300, &[&spread(5e-3)], "faer, 2 threads"),
        ]);
        build("base dir", "cand|dir", &base, &cand, 5.0, false, vec![])
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(time(0.037_889), "37.89 ms");
        assert_eq!(time(7.27e-5), "72.70 µs");
        assert_eq!(time(1.331_159), "1.331 s");
        assert_eq!(time(5e-9), "5.000 ns");
        assert_eq!(significant(123_456.0), "123456");
        assert_eq!(throughput(52.786), "52.79 TFLOP/s");
        assert_eq!(throughput(0.404_1), "404.1 GFLOP/s");
        assert_eq!(change(1.768), "+76.8%");
        assert_eq!(change(0.969), "-3.1%");
        assert_eq!(change(0.9999), "+0.0%");
        assert_eq!(wrap("aa bb cc", 5, "> "), "> aa bb\n> cc\n");
        assert_eq!(wrap("toolongword x", 4, ""), "toolongword\nx\n");
        assert_eq!(throughput_pair(0.4, 0.2), "400.0 → 200.0 GFLOP/s");
    }

    #[test]
    fn text_has_table_notes_one_sided_runs_and_rule() {
        let t = text(&sample_report());
        assert!(t.contains("regression: 1 slower, 0 faster, 0 same, 0 unclear; 1 only in baseline, 1 only in candidate"), "{t}");
        assert!(t.contains("cpu TestCPU f32 n=100"), "{t}");
        assert!(t.contains("+100.0%"), "{t}");
        assert!(t.contains("1×10 → 2×20"), "{t}");
        assert!(t.contains("slower"), "{t}");
        assert!(
            t.contains("setup differs: baseline faer, 2 threads, candidate faer, 1 thread"),
            "{t}"
        );
        assert!(t.contains("only in baseline"), "{t}");
        assert!(
            t.contains("cpu TestCPU f32 n=200  (1 run, 10 samples"),
            "{t}"
        );
        assert!(t.contains("only in candidate"), "{t}");
        assert!(t.replace("\n  ", " ").contains("entirely above 1+t"), "{t}");
        assert!(t.lines().all(|l| l.chars().count() <= 140), "{t}");
        let header = t
            .lines()
            .find(|l| l.contains("benchmark"))
            .unwrap_or_default();
        let row = t
            .lines()
            .find(|l| l.contains("+100.0%"))
            .unwrap_or_default();
        let end = |line: &str, cell: &str| line.find(cell).map(|i| i + cell.len());
        assert_eq!(end(header, "change"), end(row, "+100.0%"), "{t}");
    }

    #[test]
    fn markdown_starts_with_the_verdict_and_keeps_the_table_intact() {
        let m = markdown(&sample_report());
        let first = m.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("**matbench compare: ❌ regression**"),
            "{first}"
        );
        assert!(m.contains("| benchmark | baseline |"), "{m}");
        assert!(m.contains("🔴 slower"), "{m}");
        assert!(m.contains("**Only in baseline:**"), "{m}");
        assert!(m.contains("cand|dir"), "the path is in a code span: {m}");
        let rows: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|:"))
            .collect();
        assert_eq!(rows.len(), 2, "{m}");
        for row in rows {
            assert_eq!(row.matches(" | ").count(), 7, "{row}");
        }
    }

    #[test]
    fn markdown_escapes_names_and_text_drops_control_characters() {
        assert_eq!(md("a|b_c<d>"), "a\\|b\\_c&lt;d&gt;");
        assert_eq!(plain("GPU\u{1b}[31m\nx"), "GPU?[31m?x");
    }

    #[test]
    fn json_has_the_documented_fields() {
        let bytes = json(&sample_report()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["threshold_percent"], 5.0);
        assert_eq!(v["counts"]["slower"], 1);
        let c = &v["comparisons"][0];
        assert_eq!(c["verdict"], "slower");
        assert_eq!(c["backend"], "cpu");
        assert_eq!(c["n"], 100);
        assert_eq!(c["candidate"]["runs"], 2);
        assert!(c["ratio_low"].as_f64().unwrap() > 1.05);
        assert_eq!(v["only_in_baseline"][0]["name"], "cpu TestCPU f32 n=200");
        assert!(v["rule"].as_str().unwrap().contains("bootstrap"));
    }
}
