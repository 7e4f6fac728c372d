//! What the GPU was doing while it was measured: SM and memory clocks, temperature, power,
//! energy and throttle reasons, sampled through NVML on a background thread during the timed
//! repetitions.
//!
//! NVML (`libnvidia-ml.so.1`, part of the driver) is loaded at run time by `nvml-wrapper`; where
//! it is missing or refuses, the run goes on and the record says why. The thread owns its NVML
//! handle, so nothing NVML-related crosses threads; it samples until told to stop, then reduces
//! its samples to a [`Telemetry`] summary. The decision "throttled" is a pure function of the
//! samples ([`summarise`]), unit-tested without a GPU.

use crate::record::health::{self, EccCounts, GpuProcess, HealthRecord, PcieLink, RemappedRows};
use crate::record::telemetry::{Range, Telemetry};
use nvml_wrapper::Nvml;
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enum_wrappers::device::{EccCounter, MemoryError};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::enums::event::XidError;
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
    /// When it was taken, on the process's monotonic clock ([`crate::model::monotonic_s`]).
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
    thread: JoinHandle<Readings>,
}

/// What a sampler leaves behind.
pub struct Readings {
    /// The summary of the clocks, power and temperature.
    pub telemetry: Telemetry,
    /// Every sample (a soak draws them second by second).
    pub samples: Vec<Sample>,
    /// Who else used the GPU, and its health counters.
    pub health: HealthRecord,
}

impl Readings {
    fn none() -> Readings {
        Readings {
            telemetry: Telemetry::default(),
            samples: Vec::new(),
            health: HealthRecord::default(),
        }
    }
}

/// The processes on `device` other than this one (see [`health::others`]), with their names
/// where this process can see them.
pub fn other_processes(
    nvml: &Nvml,
    device: &nvml_wrapper::Device<'_>,
    own_byte: u64,
) -> Result<Vec<GpuProcess>, String> {
    let mut listed = Vec::new();
    // Compute processes only: a desktop's idle X server holds a graphics context on many
    // workstations' cards and takes nothing from a GEMM.
    let compute = device
        .running_compute_processes()
        .map_err(|e| format!("running processes ({e})"))?;
    for p in compute {
        if listed.iter().any(|q: &GpuProcess| q.pid == p.pid) {
            continue;
        }
        let name = nvml.sys_process_name(p.pid, 64).ok().or_else(|| {
            std::fs::read_to_string(format!("/proc/{}/comm", p.pid))
                .ok()
                .map(|s| s.trim().to_string())
        });
        listed.push(GpuProcess {
            pid: p.pid,
            sm_percent: None,
            name: name.filter(|n| !n.is_empty()),
            used_memory_byte: match p.used_gpu_memory {
                UsedGpuMemory::Used(b) => Some(b),
                UsedGpuMemory::Unavailable => None,
            },
        });
    }
    Ok(health::others(&listed, std::process::id(), own_byte))
}

/// The processes other than this one on the GPU with this UUID, now (`--require-exclusive`).
pub fn others_on(uuid: &str, own_byte: u64) -> Result<Vec<GpuProcess>, String> {
    let nvml = Nvml::init().map_err(|e| format!("NVML could not start ({e})"))?;
    let device = nvml
        .device_by_uuid(uuid)
        .map_err(|e| format!("NVML does not know GPU {uuid} ({e})"))?;
    other_processes(&nvml, &device, own_byte)
}

/// Row remapping, which nvml-wrapper does not wrap: the raw call.
#[allow(unsafe_code)]
fn remapped_rows(nvml: &Nvml, device: &nvml_wrapper::Device<'_>) -> Result<RemappedRows, String> {
    let f = nvml
        .lib()
        .nvmlDeviceGetRemappedRows
        .as_ref()
        .map_err(|e| format!("remapped rows ({e})"))?;
    let (mut corr, mut unc, mut pending, mut failed) = (0, 0, 0, 0);
    // SAFETY: the device handle is live for `device`'s lifetime (this call is within it), and
    // the four out-pointers are to distinct, live, writable c_uints, as the NVML API requires.
    let rc = unsafe {
        f(
            device.handle(),
            &mut corr,
            &mut unc,
            &mut pending,
            &mut failed,
        )
    };
    if rc != 0 {
        // 0 is NVML_SUCCESS
        return Err(format!("remapped rows (NVML return code {rc})"));
    }
    Ok(RemappedRows {
        correctable: corr,
        uncorrectable: unc,
        pending: pending != 0,
        failed: failed != 0,
    })
}

/// The four ECC counters; `Err` where ECC is off or unsupported.
fn ecc(device: &nvml_wrapper::Device<'_>) -> Result<EccCounts, String> {
    let read = |kind, counter| {
        device
            .total_ecc_errors(kind, counter)
            .map_err(|e| format!("ECC counters ({e})"))
    };
    Ok(EccCounts {
        volatile_corrected: read(MemoryError::Corrected, EccCounter::Volatile)?,
        volatile_uncorrected: read(MemoryError::Uncorrected, EccCounter::Volatile)?,
        aggregate_corrected: read(MemoryError::Corrected, EccCounter::Aggregate)?,
        aggregate_uncorrected: read(MemoryError::Uncorrected, EccCounter::Aggregate)?,
    })
}

fn read(device: &nvml_wrapper::Device<'_>) -> Sample {
    Sample {
        t_s: crate::model::monotonic_s(),
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

/// Starts sampling the GPU with this UUID, on which this process holds about `own_byte` of
/// memory (to tell itself from other processes inside a container). Returns the reason instead
/// when NVML cannot be used; the caller records it and goes on.
///
/// Beside the clocks, the thread asks who else uses the GPU when measuring starts and when it
/// ends, watches for critical Xid errors, keeps the best PCIe link seen under load, and reads
/// the ECC and row-remapping counters at the end: all on this thread, beside the work.
pub fn start(uuid: &str, own_byte: u64) -> Result<Sampler, String> {
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
                    return Readings::none();
                }
            };
            let device = match nvml.device_by_uuid(uuid.as_str()) {
                Ok(d) => d,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("NVML does not know GPU {uuid} ({e})")));
                    return Readings::none();
                }
            };
            let energy_start = device.total_energy_consumption().ok();
            let sm_max = device.max_clock_info(Clock::SM).ok();
            let _ = ready_tx.send(Ok(()));
            let mut samples = vec![read(&device)];
            let mut watch = HealthWatch::start(&nvml, &device, own_byte);
            let mut next = Instant::now() + PERIOD;
            while !stop_thread.load(Ordering::Acquire) {
                std::thread::sleep(next.saturating_duration_since(Instant::now()).min(PERIOD));
                next += PERIOD;
                samples.push(read(&device));
                watch.poll(&device);
            }
            samples.push(read(&device));
            let energy_j = match (energy_start, device.total_energy_consumption().ok()) {
                (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1e3),
                _ => None,
            };
            Readings {
                telemetry: summarise(&samples, sm_max, energy_j),
                samples,
                health: watch.finish(&nvml, &device, own_byte),
            }
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

/// The health reads of one run, kept by the telemetry thread.
struct HealthWatch<'nvml> {
    record: HealthRecord,
    events: Option<nvml_wrapper::EventSet<'nvml>>,
    /// Best PCIe generation and width seen under load.
    link: (u32, u32),
    spent: Duration,
    /// When measuring started, µs since the epoch (NVML's clock for per-process samples).
    since_us: u64,
}

impl<'nvml> HealthWatch<'nvml> {
    /// Who else is on the GPU now, and a watch on its critical Xid errors.
    fn start(nvml: &'nvml Nvml, device: &nvml_wrapper::Device<'nvml>, own_byte: u64) -> Self {
        let t = Instant::now();
        let mut record = HealthRecord::default();
        match other_processes(nvml, device, own_byte) {
            Ok(others) => record.others_before = others,
            Err(e) => record.unavailable.push(e),
        }
        let events = nvml
            .create_event_set()
            .map_err(|e| e.to_string())
            .and_then(|set| {
                device
                    .register_events(EventTypes::CRITICAL_XID_ERROR, set)
                    .map_err(|e| e.to_string())
            });
        let events = match events {
            Ok(set) => Some(set),
            Err(e) => {
                record.unavailable.push(format!("Xid events ({e})"));
                None
            }
        };
        let since_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0));
        let mut watch = HealthWatch {
            record,
            events,
            link: (0, 0),
            spent: Duration::ZERO,
            since_us,
        };
        watch.poll(device);
        watch.spent += t.elapsed();
        watch
    }

    /// Each sample: the PCIe link now, and any Xid error since the last poll.
    fn poll(&mut self, device: &nvml_wrapper::Device<'_>) {
        let t = Instant::now();
        if let (Ok(g), Ok(w)) = (
            device.current_pcie_link_gen(),
            device.current_pcie_link_width(),
        ) {
            self.link = (self.link.0.max(g), self.link.1.max(w));
        }
        if let Some(set) = &self.events {
            while let Ok(event) = set.wait(0) {
                if let Some(XidError::Value(xid)) = event.event_data {
                    self.record.xid_errors.push(xid);
                }
            }
        }
        self.spent += t.elapsed();
    }

    /// Who else is on the GPU at the end, and the card's counters.
    fn finish(
        mut self,
        nvml: &Nvml,
        device: &nvml_wrapper::Device<'_>,
        own_byte: u64,
    ) -> HealthRecord {
        let t = Instant::now();
        let r = &mut self.record;
        match other_processes(nvml, device, own_byte) {
            Ok(others) => r.others_after = others,
            Err(e) => r.unavailable.push(e),
        }
        r.shared = !r.others_before.is_empty() || !r.others_after.is_empty();
        // How busy the others kept the SMs meanwhile, where NVML keeps per-process samples.
        if r.shared
            && let Ok(samples) = device.process_utilization_stats(self.since_us)
        {
            for p in r.others_before.iter_mut().chain(r.others_after.iter_mut()) {
                p.sm_percent = samples
                    .iter()
                    .filter(|s| s.pid == p.pid)
                    .map(|s| s.sm_util)
                    .max();
            }
        }
        match ecc(device) {
            Ok(e) => r.ecc = Some(e),
            Err(e) => r.unavailable.push(e),
        }
        match remapped_rows(nvml, device) {
            Ok(rows) => r.remapped_rows = Some(rows),
            Err(e) => r.unavailable.push(e),
        }
        match (device.max_pcie_link_gen(), device.max_pcie_link_width()) {
            (Ok(generation_max), Ok(width_max)) if self.link.0 > 0 => {
                r.pcie = Some(PcieLink {
                    generation: self.link.0,
                    generation_max,
                    width: self.link.1,
                    width_max,
                });
            }
            _ => r.unavailable.push("the PCIe link".into()),
        }
        if let Some(set) = self.events.take() {
            let _ = set.release_events();
        }
        self.spent += t.elapsed();
        self.record.query_s = self.spent.as_secs_f64();
        self.record
    }
}

impl Sampler {
    /// Stops sampling; `tflop_per_s` is the run's matmul rate, for TFLOP/s per watt.
    pub fn finish(self, tflop_per_s: f64) -> Readings {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(mut r) => {
                if r.telemetry.power_w.median > 0.0 {
                    r.telemetry.tflop_per_s_per_w = Some(tflop_per_s / r.telemetry.power_w.median);
                }
                r
            }
            Err(_) => Readings {
                telemetry: Telemetry {
                    unavailable: Some("the telemetry thread panicked".into()),
                    ..Default::default()
                },
                ..Readings::none()
            },
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
        match start("GPU-00000000-0000-0000-0000-000000000000", 0) {
            Ok(sampler) => {
                // NVML is there (the GPU machine): the made-up UUID must still be refused or sampled harmlessly.
                let r = sampler.finish(1.0);
                assert!(r.telemetry.samples >= 1 && r.telemetry.samples == r.samples.len());
            }
            Err(reason) => assert!(reason.contains("NVML"), "{reason}"),
        }
    }
}
