//! The text table of a multi-GPU run (`matbench gpu N --gpu all`).

use crate::pipeline::multi::MultiSummary;
use std::fmt::Write;

/// The text table.
pub fn render(summary: &MultiSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<4} {:<24} {:>12} {:>12} {:>7} {:>8}  flags",
        "gpu", "name", "median", "TFLOP/s", "peak", "verify"
    );
    for g in &summary.gpus {
        let mut flags = Vec::new();
        if g.shared {
            flags.push("SHARED (another process used it)".to_string());
        }
        if g.slow {
            flags.push(format!(
                "SLOW (>{:.0}% below the fastest)",
                summary.slow_margin * 100.0
            ));
        }
        if g.throttled {
            flags.push("throttled".to_string());
        }
        let share = g
            .share_of_peak
            .map_or_else(|| "?".to_string(), |s| format!("{:.1}%", 100.0 * s));
        let _ = writeln!(
            out,
            "  {:<4} {:<24} {:>9.3} ms {:>12.2} {:>7} {:>8}  {}",
            g.index,
            g.name,
            g.median_s * 1e3,
            g.tflop_per_s,
            share,
            if g.passed { "PASS" } else { "FAIL" },
            flags.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  all  {} GPUs together: {:.2} TFLOP/s; measured repetitions overlapped for {:.3} s",
        summary.gpus.len(),
        summary.aggregate_tflop_per_s,
        summary.overlap_s
    );
    out
}
