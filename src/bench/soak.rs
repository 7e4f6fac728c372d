//! `--duration`: burst against sustained, from the repetitions' matmul times and end times and
//! the telemetry samples. Pure functions of those, tested without a device.
//!
//! - **Burst** is what a short benchmark sees: the best one-second window that starts in the
//!   first ten seconds (a window is the repetitions that start at or after its start and end
//!   within a second of it; its rate is their FLOP over their summed matmul time, so the
//!   gaps between repetitions do not count against it). A repetition longer than a second is a
//!   window of its own.
//! - **Sustained** is what a long job gets once clocks, power and heat have settled: one
//!   product's FLOP over the median matmul time of the repetitions that ended in the last half.
//!   (The mamf-finder measurements of an H200 give 828 TFLOP/s bf16 burst against 703
//!   sustained.)

use crate::model::Second;
use crate::record::soak::{BURST_WINDOW_S, BURST_WITHIN_S, SoakRecord, SoakSecond};
use crate::telemetry::{Sample, reason_names};

/// The soak's record. `matmul_s[i]` is repetition i's matmul time and `ends_s[i]` when it
/// ended, seconds after measuring started; `samples` are the telemetry readings, whose clock
/// read `measuring_at` when measuring started; `flop` is one product's.
pub fn summarise(
    duration_s: Second,
    flop: f64,
    matmul_s: &[Second],
    ends_s: &[Second],
    samples: &[Sample],
    measuring_at: Second,
) -> SoakRecord {
    let (burst_tflop_per_s, burst_window_start_s) = burst(flop, matmul_s, ends_s);
    let seconds = by_second(duration_s, flop, matmul_s, ends_s, samples, measuring_at);
    let half = ends_s.last().copied().unwrap_or(0.0) / 2.0;
    let mut late: Vec<f64> = matmul_s
        .iter()
        .zip(ends_s)
        .filter(|(_, end)| **end > half)
        .map(|(m, _)| *m)
        .collect();
    let sustained_tflop_per_s = crate::model::stats::median(&mut late)
        .map_or(0.0, |m| flop / m.max(f64::MIN_POSITIVE) / 1e12);
    SoakRecord {
        duration_s,
        burst_tflop_per_s,
        burst_window_start_s,
        sustained_tflop_per_s,
        sustained_vs_burst: if burst_tflop_per_s > 0.0 {
            sustained_tflop_per_s / burst_tflop_per_s
        } else {
            0.0
        },
        seconds,
    }
}

/// The best window's rate (10¹² FLOP/s) and start (module docs). Only whole windows count (a
/// window cut short by the end of the run holds a repetition or two, and would make the
/// fastest single repetition the burst), unless the run is too short for any.
fn burst(flop: f64, matmul_s: &[Second], ends_s: &[Second]) -> (f64, Second) {
    let total = ends_s.last().copied().unwrap_or(0.0);
    let whole = best_window(flop, matmul_s, ends_s, total);
    if whole.0 > 0.0 {
        whole
    } else {
        best_window(flop, matmul_s, ends_s, f64::INFINITY)
    }
}

/// The best window starting in the first [`BURST_WITHIN_S`] that ends by `until`.
fn best_window(flop: f64, matmul_s: &[Second], ends_s: &[Second], until: Second) -> (f64, Second) {
    let n = matmul_s.len().min(ends_s.len());
    // prefix[i] = Σ matmul_s[..i]: a window's time in O(1).
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + matmul_s[i];
    }
    let start_of = |i: usize| if i == 0 { 0.0 } else { ends_s[i - 1] };
    let mut best = (0.0, 0.0);
    let mut last = 0; // one past the window's last repetition
    for i in 0..n {
        let start = start_of(i);
        if start > BURST_WITHIN_S || start + BURST_WINDOW_S > until {
            break;
        }
        last = last.max(i + 1);
        while last < n && ends_s[last] <= start + BURST_WINDOW_S {
            last += 1;
        }
        let time = prefix[last] - prefix[i];
        if time > 0.0 {
            let rate = flop * (last - i) as f64 / time / 1e12;
            if rate > best.0 {
                best = (rate, start);
            }
        }
    }
    best
}

/// The run second by second, for the seconds asked for: the repetitions that ended in each
/// second, and the telemetry samples taken in it. The last repetition ends a little after the
/// time asked for (the run stops at the first end past it); that overrun counts in the last
/// second rather than as a second of its own, nearly empty.
fn by_second(
    duration_s: Second,
    flop: f64,
    matmul_s: &[Second],
    ends_s: &[Second],
    samples: &[Sample],
    measuring_at: Second,
) -> Vec<SoakSecond> {
    let total = ends_s.last().copied().unwrap_or(0.0);
    // (A duration of 15.000000001 s from summed floats is 15 seconds, not 16.)
    let count = ((duration_s - 1e-9).ceil() as usize).max(1);
    let bucket = |t: f64| ((t.max(0.0)) as usize).min(count - 1);
    let mut reps = vec![(0u32, 0.0f64); count];
    for (m, end) in matmul_s.iter().zip(ends_s) {
        let b = &mut reps[bucket(*end)];
        b.0 += 1;
        b.1 += m;
    }
    let mut readings: Vec<Vec<&Sample>> = vec![Vec::new(); count];
    for s in samples {
        let t = s.t_s - measuring_at;
        if (0.0..=total).contains(&t) {
            readings[bucket(t)].push(s);
        }
    }
    reps.into_iter()
        .zip(readings)
        .enumerate()
        .map(|(i, ((k, time), read))| {
            let median = |f: fn(&Sample) -> f64| {
                let mut v: Vec<f64> = read.iter().map(|s| f(s)).collect();
                crate::model::stats::median(&mut v)
            };
            SoakSecond {
                t_s: i as f64,
                reps: k,
                tflop_per_s: (k > 0 && time > 0.0).then(|| flop * f64::from(k) / time / 1e12),
                sm_clock_mhz: median(|s| f64::from(s.sm_mhz)),
                power_w: median(|s| f64::from(s.power_mw) / 1e3),
                temperature_c: read.iter().map(|s| f64::from(s.temp_c)).reduce(f64::max),
                throttle_reasons: reason_names(read.iter().fold(0, |acc, s| acc | s.reasons)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `k` repetitions of `m` seconds each, back to back with `gap` between them.
    fn run(times: &[f64], gap: f64) -> (Vec<f64>, Vec<f64>) {
        let mut t = 0.0;
        let ends = times
            .iter()
            .map(|m| {
                t += m + gap;
                t
            })
            .collect();
        (times.to_vec(), ends)
    }

    #[test]
    fn a_gpu_that_slows_down_shows_burst_above_sustained() {
        // 1 TFLOP per product: 0.01 s (100 TFLOP/s) for 5 s, then 0.0125 s (80 TFLOP/s).
        let mut times = vec![0.01; 500];
        times.extend(vec![0.0125; 800]);
        let (m, ends) = run(&times, 0.0);
        let r = summarise(15.0, 1e12, &m, &ends, &[], 0.0);
        assert!(
            (r.burst_tflop_per_s - 100.0).abs() < 1e-6,
            "{}",
            r.burst_tflop_per_s
        );
        assert!(r.burst_window_start_s < 4.0 + 1e-9);
        assert!((r.sustained_tflop_per_s - 80.0).abs() < 1e-6);
        assert!((r.sustained_vs_burst - 0.8).abs() < 1e-9);
        assert_eq!(r.seconds.len(), 15);
        assert!(
            (99..=100).contains(&r.seconds[0].reps),
            "{}",
            r.seconds[0].reps
        );
        assert!((r.seconds[14].tflop_per_s.unwrap() - 80.0).abs() < 1e-6);
        assert!(
            r.summary_line().contains("burst 100.00 TFLOP/s"),
            "{}",
            r.summary_line()
        );
    }

    #[test]
    fn gaps_between_repetitions_do_not_count_and_long_repetitions_are_their_own_window() {
        let (m, ends) = run(&[0.1; 30], 0.1);
        let r = summarise(6.0, 1e12, &m, &ends, &[], 0.0);
        assert!((r.burst_tflop_per_s - 10.0).abs() < 1e-6, "{r:?}");
        let (m, ends) = run(&[2.0, 1.5, 3.0], 0.0);
        let r = summarise(6.0, 3e12, &m, &ends, &[], 0.0);
        assert!((r.burst_tflop_per_s - 2.0).abs() < 1e-9, "{r:?}");
        assert!((r.burst_window_start_s - 2.0).abs() < 1e-9);
    }

    #[test]
    fn telemetry_lands_in_its_second() {
        let (m, ends) = run(&[0.5; 6], 0.0);
        let sample = |t: f64, sm: u32, reasons: u64| Sample {
            t_s: 100.0 + t,
            sm_mhz: sm,
            power_mw: 600_000,
            temp_c: 60,
            reasons,
            ..Default::default()
        };
        let power_cap = nvml_wrapper::bitmasks::device::ThrottleReasons::SW_POWER_CAP.bits();
        let samples = [
            sample(-0.5, 1, 0), // before measuring: left out
            sample(0.2, 1980, 0),
            sample(0.7, 1980, 0),
            sample(2.5, 1700, power_cap),
        ];
        let r = summarise(3.0, 1e12, &m, &ends, &samples, 100.0);
        assert_eq!(r.seconds.len(), 3);
        assert_eq!(r.seconds[0].sm_clock_mhz, Some(1980.0));
        assert_eq!(r.seconds[1].sm_clock_mhz, None);
        assert_eq!(r.seconds[2].sm_clock_mhz, Some(1700.0));
        assert_eq!(r.seconds[2].power_w, Some(600.0));
        assert_eq!(
            r.seconds[2].throttle_reasons,
            vec!["sw_power_cap".to_string()]
        );
    }
}
