//! A run's report for people: the TensorFlow script's three lines first, then the phases.

use crate::model::Second;
use crate::model::reps::{MAX_DURATION_REPS, MAX_REPS, RepsMode, RepsStop, UNSTABLE_MEDIAN_RSE};
use crate::model::stats::Summary;
use crate::model::vocab::MatOp;
use crate::record::RunRecord;
use std::fmt::Write;

/// Python's `str(timedelta)`, as the TensorFlow script printed it: `0:00:00.038123`.
pub fn script_timedelta(seconds: Second) -> String {
    let micros = (seconds.max(0.0) * 1e6).round() as u64;
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}.{frac:06}")
    }
}

fn ms(s: Second) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else {
        format!("{:.3} ms", s * 1e3)
    }
}

/// ` (auto: converged, median ±0.4%)` after the repetition count of a `--reps auto` run;
/// nothing for a fixed count.
fn how_reps_ended(r: &RunRecord) -> String {
    let Some(reps) = &r.repetitions else {
        return String::new();
    };
    if r.config.reps_mode == RepsMode::Duration {
        let capped = if reps.stop == RepsStop::MaxReps {
            format!(", stopped at {MAX_DURATION_REPS} repetitions")
        } else {
            String::new()
        };
        return format!(
            " (--duration {} s{capped})",
            r.config.duration_s.unwrap_or(0.0)
        );
    }
    if r.config.reps_mode != RepsMode::Auto {
        return String::new();
    }
    let why = match reps.stop {
        RepsStop::Converged => "converged".to_string(),
        RepsStop::MaxTime => match r.config.max_time_s {
            Some(t) => format!("--max-time {t} s spent"),
            None => "--max-time spent".to_string(),
        },
        RepsStop::MaxReps => format!("stopped at {MAX_REPS} repetitions"),
        RepsStop::Duration => "duration".to_string(),
        RepsStop::Count => "count".to_string(),
    };
    match reps.median_rel_std_error {
        Some(rse) => {
            let pct = 100.0 * rse;
            let digits = if pct < 0.1 { 2 } else { 1 };
            format!(" (auto: {why}, median ±{pct:.digits$}%)")
        }
        None => format!(" (auto: {why})"),
    }
}

fn row(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {name:<9} {:>12} {:>12} {:>12} {:>12} {:>9.2}%",
        ms(s.median_s),
        ms(s.min_s),
        ms(s.max_s),
        ms(s.mean_s),
        100.0 * s.relative_stddev()
    );
}

/// The whole report.
pub fn render(r: &RunRecord) -> String {
    let mut out = String::new();
    let c = &r.config;
    let script_device = c.backend.script_device_name(c.gpu_index.unwrap_or(0));
    let _ = writeln!(out, "{}", r.sum);
    let _ = writeln!(out, "Shape: ({}, {}) Device: {script_device}", c.n, c.n);
    let _ = writeln!(
        out,
        "Time taken: {}",
        script_timedelta(r.phases.script_time_taken_s)
    );
    let _ = writeln!(out);
    header(&mut out, r);
    phases(&mut out, r);
    rates(&mut out, r);
    if let Some(line) = telemetry_line(r) {
        let _ = writeln!(out, "  telemetry {line}");
    }
    out
}

/// Which matbench, device, product and repetitions.
fn header(out: &mut String, r: &RunRecord) {
    let c = &r.config;
    let where_ = match (&c.gpu_index, &c.threads) {
        (Some(i), _) => format!(
            "GPU {i}, compute capability {}, {} SMs",
            r.device.compute_capability.as_deref().unwrap_or("?"),
            r.device.multiprocessors.unwrap_or(0)
        ),
        (None, Some(t)) => format!(
            "{} threads, {}",
            r.device.threads.unwrap_or(*t),
            c.cpu_engine.as_deref().unwrap_or("?")
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "matbench {} · {} · {} ({where_})",
        r.matbench_version,
        c.backend.name(),
        r.device.name
    );
    let _ = writeln!(out, "C = A·Aᵀ, n = {}, {} · {}", c.n, c.dtype, r.math_mode);
    if let Some(why) = &r.device.engine_choice {
        let _ = writeln!(out, "engine: {why}");
    }
    let _ = writeln!(
        out,
        "seed {} · {} warm-up{} + {} measured repetitions{}",
        c.seed,
        c.warmup,
        match c.warmup_time_s {
            Some(t) if c.warmup > 0 && t > 0.0 => format!(" (≥ {t} s)"),
            _ => String::new(),
        },
        c.reps,
        how_reps_ended(r)
    );
    let _ = writeln!(out);
}

/// The table of phases.
fn phases(out: &mut String, r: &RunRecord) {
    let _ = writeln!(
        out,
        "  {:<9} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "phase", "median", "min", "max", "mean", "rel. sd"
    );
    row(out, "matmul", &r.matmul);
    row(out, "reduce", &r.reduce);
    let _ = writeln!(out, "  {:<9} {:>12}", "start-up", ms(r.phases.startup_s));
    let _ = writeln!(out, "  {:<9} {:>12}", "generate", ms(r.phases.generate_s));
    if let Some(t) = r.phases.tune_s {
        let _ = writeln!(out, "  {:<9} {:>12}", "tune", ms(t));
    }
    let _ = writeln!(out, "  {:<9} {:>12}", "verify", ms(r.phases.verify_s));
    let _ = writeln!(out, "  {:<9} {:>12}", "process", ms(r.phases.process_s));
    let _ = writeln!(out);
}

/// The rate (real, and GEMM-equivalent for SYRK) and the verdict.
fn rates(out: &mut String, r: &RunRecord) {
    if r.config.op == MatOp::Syrk {
        let _ = writeln!(
            out,
            "  matmul    {:.2} TFLOP/s real (SYRK: n²·(n+1) = {:.3e} FLOP / median); GEMM-equivalent {:.2} TFLOP/s (2·n³ / median)",
            r.matmul_tflop_per_s, r.flop_per_matmul, r.matmul_gemm_equivalent_tflop_per_s
        );
    } else {
        let _ = writeln!(
            out,
            "  matmul    {:.2} TFLOP/s ({:.1} GFLOP/s; 2·n³ = {:.3e} FLOP / median) · {} error: elements ≤ {:.1e}, sum {:.1e}",
            r.matmul_tflop_per_s,
            r.matmul_tflop_per_s * 1e3,
            r.flop_per_matmul,
            r.config.dtype,
            r.verification.max_element_rel_error,
            r.verification.sum_rel_error
        );
    }
    if let Some(peak) = &r.peak {
        let _ = writeln!(out, "  peak      {}", peak.summary_line());
    }
    if let Some(soak) = &r.soak {
        let _ = writeln!(out, "  soak      {}", soak.summary_line());
        if let Some(line) = soak_clocks(soak) {
            let _ = writeln!(out, "            {line}");
        }
    }
    if let Some(line) = unstable_line(r) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "  verify    {}", r.verification.summary_line());
    if let Some(h) = &r.health {
        if let Some(line) = h.shared_line() {
            let _ = writeln!(out, "  SHARED    {line}");
        }
        let _ = writeln!(out, "  health    {}", h.summary_line());
    }
    if let Some(check) = &r.check {
        let _ = writeln!(out, "  check     {}", check_line(check));
    }
}

/// What the clocks and power did over a soak: first and last second with readings.
fn soak_clocks(soak: &crate::record::soak::SoakRecord) -> Option<String> {
    let read: Vec<_> = soak
        .seconds
        .iter()
        .filter(|s| s.sm_clock_mhz.is_some())
        .collect();
    let (first, last) = (read.first()?, read.last()?);
    let mut reasons: Vec<&str> = Vec::new();
    for s in &soak.seconds {
        for r in &s.throttle_reasons {
            if !reasons.contains(&r.as_str()) {
                reasons.push(r);
            }
        }
    }
    Some(format!(
        "SM clock {:.0} → {:.0} MHz, power {:.0} → {:.0} W, up to {:.0} °C{}",
        first.sm_clock_mhz.unwrap_or(0.0),
        last.sm_clock_mhz.unwrap_or(0.0),
        first.power_w.unwrap_or(0.0),
        last.power_w.unwrap_or(0.0),
        read.iter()
            .filter_map(|s| s.temperature_c)
            .fold(0.0, f64::max),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" · slowdowns: {}", reasons.join(", "))
        }
    ))
}

/// `--check`'s verdict in one line: PASS with the floor applied, or FAIL with every reason.
fn check_line(c: &crate::record::CheckRecord) -> String {
    let floor = match c.min_share {
        Some(f) => format!("floor {:.0}% of peak", 100.0 * f),
        None => format!(
            "no floor applies (a shared GPU, an unknown model, a SYRK, or n < {})",
            crate::model::peak::MIN_SHARE_N
        ),
    };
    if c.passed {
        format!("PASS ({floor})")
    } else {
        format!("FAIL: {}", c.reasons.join("; "))
    }
}

/// A plain warning when the median is not known to a few percent ([`UNSTABLE_MEDIAN_RSE`]).
fn unstable_line(r: &RunRecord) -> Option<String> {
    let rse = r.repetitions.as_ref()?.median_rel_std_error?;
    (rse > UNSTABLE_MEDIAN_RSE).then(|| {
        format!(
            "UNSTABLE   the median is known only to ±{:.1}% (samples {} to {}): the machine was busy or still settling; rerun with --reps auto, a longer --warmup-time, or fewer --threads",
            100.0 * rse,
            ms(r.matmul.min_s),
            ms(r.matmul.max_s)
        )
    })
}

/// The telemetry line, when the record has telemetry.
fn telemetry_line(r: &RunRecord) -> Option<String> {
    let t = r.telemetry.as_ref()?;
    if let Some(why) = &t.unavailable {
        return Some(format!("none: {why}"));
    }
    let throttling = if !t.throttled {
        "not throttled".to_string()
    } else if t.throttle_reasons.is_empty() {
        "THROTTLED (clocks dropped)".to_string()
    } else {
        format!("THROTTLED ({})", t.throttle_reasons.join(", "))
    };
    Some(format!(
        "SM {:.0} MHz (min {:.0}{}), memory {:.0} MHz, {:.0} °C max, {:.0} W median{}{} · {throttling}",
        t.sm_clock_mhz.median,
        t.sm_clock_mhz.min,
        t.sm_clock_max_mhz
            .map(|m| format!(", GPU max {m}"))
            .unwrap_or_default(),
        t.mem_clock_mhz.median,
        t.temperature_c.max,
        t.power_w.median,
        t.energy_j
            .map(|e| format!(", {e:.1} J"))
            .unwrap_or_default(),
        t.tflop_per_s_per_w
            .map(|e| format!(", {:.1} GFLOP/s per W", e * 1e3))
            .unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_matches_python() {
        assert_eq!(script_timedelta(0.038_123_4), "0:00:00.038123");
        assert_eq!(script_timedelta(8.36), "0:00:08.360000");
        assert_eq!(script_timedelta(3725.0), "1:02:05");
        assert_eq!(script_timedelta(-1.0), "0:00:00");
    }

    fn reference_record() -> RunRecord {
        crate::record::fixtures::records("dev-2core-2026-11-28")
            .remove(0)
            .1
    }

    fn reps_line(r: &RunRecord) -> String {
        let text = render(r);
        text.lines()
            .find(|l| l.starts_with("seed "))
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_repetitions_line_says_how_an_auto_run_ended() {
        let mut r = reference_record();
        assert!(
            reps_line(&r).ends_with("measured repetitions"),
            "{}",
            reps_line(&r)
        );
        r.config.reps = 37;
        r.config.reps_mode = RepsMode::Auto;
        r.config.max_time_s = Some(10.0);
        let mut reps = crate::record::Repetitions {
            stop: RepsStop::Converged,
            median_rel_std_error: Some(0.0041),
            measured_s: 1.2,
        };
        r.repetitions = Some(reps.clone());
        assert!(
            reps_line(&r).ends_with("+ 37 measured repetitions (auto: converged, median ±0.4%)"),
            "{}",
            reps_line(&r)
        );
        reps.stop = RepsStop::MaxTime;
        reps.median_rel_std_error = Some(0.0234);
        r.config.max_time_s = Some(0.5);
        r.repetitions = Some(reps.clone());
        assert!(
            reps_line(&r).ends_with("(auto: --max-time 0.5 s spent, median ±2.3%)"),
            "{}",
            reps_line(&r)
        );
        reps.median_rel_std_error = None;
        r.config.reps = 1;
        r.repetitions = Some(reps.clone());
        assert!(
            reps_line(&r).ends_with("+ 1 measured repetitions (auto: --max-time 0.5 s spent)"),
            "{}",
            reps_line(&r)
        );
        reps.stop = RepsStop::MaxReps;
        reps.median_rel_std_error = Some(0.0004);
        r.repetitions = Some(reps);
        assert!(
            reps_line(&r).ends_with("(auto: stopped at 100000 repetitions, median ±0.04%)"),
            "{}",
            reps_line(&r)
        );
    }

    #[test]
    fn an_unstable_median_is_said_plainly_and_a_stable_one_is_not() {
        let mut r = reference_record();
        let mut reps = crate::record::Repetitions {
            stop: RepsStop::Count,
            median_rel_std_error: Some(UNSTABLE_MEDIAN_RSE / 2.0),
            measured_s: 1.0,
        };
        r.repetitions = Some(reps.clone());
        assert!(!render(&r).contains("UNSTABLE"), "{}", render(&r));
        reps.median_rel_std_error = Some(0.157);
        r.repetitions = Some(reps);
        let text = render(&r);
        let line = text
            .lines()
            .find(|l| l.contains("UNSTABLE"))
            .expect("a warning");
        assert!(
            line.contains("±15.7%") && line.contains("--reps auto"),
            "{line}"
        );
    }

    #[test]
    fn the_warm_up_time_floor_is_shown_with_the_count() {
        let mut r = reference_record();
        r.config.warmup = 14;
        r.config.warmup_time_s = Some(0.5);
        assert!(
            reps_line(&r).contains("14 warm-up (≥ 0.5 s) + "),
            "{}",
            reps_line(&r)
        );
        r.config.warmup = 0;
        assert!(reps_line(&r).contains(" 0 warm-up + "), "{}", reps_line(&r));
    }
}
