//! What the GPU was doing while it was measured: SM and memory clocks, temperature, power,
//! energy and throttle reasons, sampled through NVML on a background thread during the timed
//! repetitions.
//!
//! NVML (`libnvidia-ml.so.1`, part of the driver) is loaded at run time by `nvml-wrapper`; where
//! it is missing or refuses, the run goes on and the record says why. The thread owns its NVML
//! handle, so nothing NVML-related crosses threads; it samples until told to stop, then reduces
//! its samples to a [`Telemetry`] summary. The decision "throttled" is a pure function of the
//! samples ([`summarise`]), unit-tested without a GPU.

use crate::record::telemetry::{Range, Telemetry};
use nvml_wrapper::Nvml;
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two samples.
pub const PERIOD: Duration = Duration::from_millis(20);

/// An SM clock below this fraction of the run's highest counts as a drop.
pub const CLOCK_DROP: f64 = 0.9;

/// One reading.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// When it was taken, on the process's monotonic clock ([`crate::backend::monotonic_s`]).
    pub t_s: f64,
    /// SM clock, MHz.
    pub sm_mhz: u32,
    /// Memory clock, MHz.
    pub mem_mhz: u32,
    /// GPU temperature, °C.
    pub temp_c: u32,
    /// Board power, mW.
    pub power_mw: u32,
    /// NVML throttle-reason bits.
    pub reasons: u64,
}

/// Names of the throttle reasons that slow a busy GPU down.
pub fn reason_names(bits: u64) -> Vec<String> {
    let reasons = ThrottleReasons::from_bits_truncate(bits);
    [
        (ThrottleReasons::SW_POWER_CAP, "sw_power_cap"),
        (ThrottleReasons::HW_SLOWDOWN, "hw_slowdown"),
        (ThrottleReasons::SW_THERMAL_SLOWDOWN, "sw_thermal_slowdown"),
        (ThrottleReasons::HW_THERMAL_SLOWDOWN, "hw_thermal_slowdown"),
        (
            ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
            "hw_power_brake_slowdown",
        ),
        (ThrottleReasons::SYNC_BOOST, "sync_boost"),
        (
            ThrottleReasons::APPLICATIONS_CLOCKS_SETTING,
            "applications_clocks_setting",
        ),
        (
            ThrottleReasons::DISPLAY_CLOCK_SETTING,
            "display_clock_setting",
        ),
    ]
    .into_iter()
    .filter(|(flag, _)| reasons.contains(*flag))
    .map(|(_, name)| name.to_string())
    .collect()
}

/// Reduces samples to the record's summary. `energy_j` comes from NVML's energy counter.
pub fn summarise(
    samples: &[Sample],
    sm_clock_max_mhz: Option<u32>,
    energy_j: Option<f64>,
) -> Telemetry {
    let col = |f: fn(&Sample) -> f64| Range::of(samples.iter().map(f).collect());
    let sm = col(|s| f64::from(s.sm_mhz));
    let mut seen = 0u64;
    for s in samples {
        seen |= s.reasons;
    }
    let throttle_reasons = reason_names(seen);
    let slowdown = ThrottleReasons::SW_POWER_CAP
        | ThrottleReasons::HW_SLOWDOWN
        | ThrottleReasons::SW_THERMAL_SLOWDOWN
        | ThrottleReasons::HW_THERMAL_SLOWDOWN
        | ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN;
    let clock_dropped = !samples.is_empty() && sm.min < CLOCK_DROP * sm.max;
    Telemetry {
        unavailable: None,
        samples: samples.len(),
        sm_clock_mhz: sm,
        sm_clock_max_mhz,
        mem_clock_mhz: col(|s| f64::from(s.mem_mhz)),
        temperature_c: col(|s| f64::from(s.temp_c)),
        power_w: col(|s| f64::from(s.power_mw) / 1e3),
        energy_j,
        tflop_per_s_per_w: None,
        throttle_reasons,
        throttled: clock_dropped || ThrottleReasons::from_bits_truncate(seen).intersects(slowdown),
    }
}

/// A running sampler; [`Sampler::finish`] stops it and returns the summary.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Telemetry, Vec<Sample>)>,
}

fn read(device: &nvml_wrapper::Device<'_>) -> Sample {
    Sample {
        t_s: crate::backend::monotonic_s(),
        sm_mhz: device.clock_info(Clock::SM).unwrap_or(0),
        mem_mhz: device.clock_info(Clock::Memory).unwrap_or(0),
        temp_c: device.temperature(TemperatureSensor::Gpu).unwrap_or(0),
        power_mw: device.power_usage().unwrap_or(0),
        reasons: device
            .current_throttle_reasons()
            .map(|r| r.bits())
            .unwrap_or(0),
    }
}

/// Starts sampling the GPU with this UUID. Returns the reason instead when NVML cannot be used;
/// the caller records it and goes on.
pub fn start(uuid: &str) -> Result<Sampler, String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_thread = stop.clone();
    let uuid = uuid.to_string();
    let thread = std::thread::Builder::new()
        .name("matbench-telemetry".into())
        .spawn(move || {
            let nvml = match Nvml::init() {
                Ok(n) => n,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("NVML could not start ({e})")));
                    return (Telemetry::default(), Vec::new());
                }
            };
            let device = match nvml.device_by_uuid(uuid.as_str()) {
                Ok(d) => d,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("NVML does not know GPU {uuid} ({e})")));
                    return (Telemetry::default(), Vec::new());
                }
            };
            let energy_start = device.total_energy_consumption().ok();
            let sm_max = device.max_clock_info(Clock::SM).ok();
            let _ = ready_tx.send(Ok(()));
            let mut samples = vec![read(&device)];
            let mut next = Instant::now() + PERIOD;
            while !stop_thread.load(Ordering::Acquire) {
                std::thread::sleep(next.saturating_duration_since(Instant::now()).min(PERIOD));
                next += PERIOD;
                samples.push(read(&device));
            }
            samples.push(read(&device));
            let energy_j = match (energy_start, device.total_energy_consumption().ok()) {
                (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1e3),
                _ => None,
            };
            (summarise(&samples, sm_max, energy_j), samples)
        })
        .map_err(|e| format!("could not start the telemetry thread ({e})"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Sampler { stop, thread }),
        Ok(Err(reason)) => {
            let _ = thread.join();
            Err(reason)
        }
        Err(_) => Err("the telemetry thread stopped before it started sampling".into()),
    }
}

impl Sampler {
    /// Stops sampling; `tflop_per_s` is the run's matmul rate, for TFLOP/s per watt. Returns
    /// the summary and every sample (a soak draws them second by second).
    pub fn finish(self, tflop_per_s: f64) -> (Telemetry, Vec<Sample>) {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok((mut t, samples)) => {
                if t.power_w.median > 0.0 {
                    t.tflop_per_s_per_w = Some(tflop_per_s / t.power_w.median);
                }
                (t, samples)
            }
            Err(_) => (
                Telemetry {
                    unavailable: Some("the telemetry thread panicked".into()),
                    ..Default::default()
                },
                Vec::new(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(sm: u32, reasons: u64) -> Sample {
        Sample {
            t_s: 0.0,
            sm_mhz: sm,
            mem_mhz: 3201,
            temp_c: 50,
            power_mw: 600_000,
            reasons,
        }
    }

    #[test]
    fn steady_clocks_are_not_throttled() {
        let t = summarise(
            &[s(1980, 0), s(1980, 0), s(1965, 0)],
            Some(1980),
            Some(12.5),
        );
        assert!(!t.throttled);
        assert_eq!(t.samples, 3);
        assert_eq!(t.sm_clock_mhz.median, 1980.0);
        assert_eq!(t.power_w.max, 600.0);
        assert!(t.throttle_reasons.is_empty());
    }

    #[test]
    fn a_clock_drop_or_a_slowdown_reason_marks_the_run_throttled() {
        assert!(summarise(&[s(1980, 0), s(1400, 0)], None, None).throttled);
        let power = ThrottleReasons::SW_POWER_CAP.bits();
        let t = summarise(&[s(1980, 0), s(1980, power)], None, None);
        assert!(t.throttled);
        assert_eq!(t.throttle_reasons, vec!["sw_power_cap".to_string()]);
        let idle = ThrottleReasons::GPU_IDLE.bits();
        assert!(
            !summarise(&[s(1980, idle)], None, None).throttled,
            "idle alone is no slowdown"
        );
    }

    #[test]
    fn no_samples_give_an_empty_summary() {
        let t = summarise(&[], None, None);
        assert_eq!(t.samples, 0);
        assert!(!t.throttled);
    }

    #[test]
    fn a_machine_without_nvml_says_why() {
        match start("GPU-00000000-0000-0000-0000-000000000000") {
            Ok(sampler) => {
                // NVML is there (the GPU machine): the made-up UUID must still be refused or sampled harmlessly.
                let (t, samples) = sampler.finish(1.0);
                assert!(t.samples >= 1 && t.samples == samples.len());
            }
            Err(reason) => assert!(reason.contains("NVML"), "{reason}"),
        }
    }
}
