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
        if let Some((burst, sustained)) = g.soak {
            flags.push(format!(
                "burst {burst:.1}, sustained {sustained:.1} TFLOP/s ({:.1}%)",
                100.0 * sustained / burst.max(f64::MIN_POSITIVE)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::multi::GpuRow;

    #[test]
    fn a_soak_shows_each_gpus_burst_and_sustained_figures_beside_its_flags() {
        let row = |index, soak, shared| GpuRow {
            index,
            name: "NVIDIA H200".into(),
            tflop_per_s: 730.0,
            median_s: 1.5e-3,
            passed: true,
            slow: false,
            throttled: true,
            share_of_peak: Some(0.74),
            shared,
            soak,
        };
        let text = render(&MultiSummary {
            gpus: vec![row(0, Some((800.0, 700.0)), false), row(1, None, true)],
            aggregate_tflop_per_s: 1460.0,
            slow_margin: 0.1,
            overlap_s: 20.0,
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].ends_with("burst 800.0, sustained 700.0 TFLOP/s (87.5%), throttled"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("SHARED (another process used it), throttled"),
            "{text}"
        );
        assert!(
            lines[3].contains("2 GPUs together: 1460.00 TFLOP/s"),
            "{text}"
        );
    }
}
