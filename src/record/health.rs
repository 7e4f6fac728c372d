//! What NVML says about the card beyond its clocks: who else used it (exclusive use), and its
//! own health counters (ECC errors, remapped rows, the PCIe link, Xid errors seen during the
//! run). Read on the telemetry thread, beside the work (`telemetry`); judged here, by pure
//! functions.

use crate::model::Second;
use serde::{Deserialize, Serialize};

/// Exclusive use and the card's health counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthRecord {
    /// Other processes using the GPU when measuring started (matbench itself left out).
    pub others_before: Vec<GpuProcess>,
    /// Other processes using the GPU when measuring ended.
    pub others_after: Vec<GpuProcess>,
    /// Another process used the GPU during the run: its figures are not the card's alone.
    pub shared: bool,
    /// ECC error counts; `null` where ECC is off or NVML cannot read them.
    pub ecc: Option<EccCounts>,
    /// Row remapping (A100 and later); `null` where the GPU has none.
    pub remapped_rows: Option<RemappedRows>,
    /// The PCIe link under load against its maximum; `null` where NVML cannot read it.
    pub pcie: Option<PcieLink>,
    /// Critical Xid errors NVML reported during the run (79: fallen off the bus, 48: double-bit
    /// ECC, 63/64: row remapping, 94/95: contained/uncontained ECC, …).
    pub xid_errors: Vec<u64>,
    /// What NVML would not say, one phrase each.
    pub unavailable: Vec<String>,
    /// Seconds the telemetry thread spent on these queries (beside the work, not on its path).
    pub query_s: Second,
}

/// A process using the GPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuProcess {
    /// Process id, as the driver sees it (the host's, from inside a container).
    pub pid: u32,
    /// Its name, where visible.
    pub name: Option<String>,
    /// GPU memory it holds, bytes.
    pub used_memory_byte: Option<u64>,
    /// How busy it kept the SMs during the run, percent, at its busiest sample (NVML's
    /// per-process utilisation); `null` where NVML gives none.
    #[serde(default)]
    pub sm_percent: Option<u32>,
}

/// ECC error counts, since the driver loaded (volatile) and over the card's life (aggregate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EccCounts {
    /// Corrected, since the driver loaded.
    pub volatile_corrected: u64,
    /// Uncorrected, since the driver loaded.
    pub volatile_uncorrected: u64,
    /// Corrected, over the card's life.
    pub aggregate_corrected: u64,
    /// Uncorrected, over the card's life.
    pub aggregate_uncorrected: u64,
}

/// Rows of memory remapped to spares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemappedRows {
    /// Remapped for correctable errors.
    pub correctable: u32,
    /// Remapped for uncorrectable errors.
    pub uncorrectable: u32,
    /// A remap waits for the GPU's next reset.
    pub pending: bool,
    /// A remap failed: no spare row was left.
    pub failed: bool,
}

/// The PCIe link: the best seen under load, and the most the card and slot allow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PcieLink {
    /// Generation.
    pub generation: u32,
    /// Highest generation possible.
    pub generation_max: u32,
    /// Lanes.
    pub width: u32,
    /// Most lanes possible.
    pub width_max: u32,
}

/// Critical Xid errors that mean the card (or its memory, link or firmware) failed, as NVIDIA's
/// Xid catalogue classes them: 48 double-bit ECC, 64 row-remap failure, 74 NVLink error, 79
/// fallen off the bus, 92 high single-bit ECC rate, 94/95 contained/uncontained ECC, 119/120
/// GSP firmware, 140 unrecovered ECC. Others (13, 31, 43: a program's own fault, possibly
/// another process's; 63: a remap recorded) are kept in the record but fail nothing.
pub const HARDWARE_XIDS: [u64; 10] = [48, 64, 74, 79, 92, 94, 95, 119, 120, 140];

impl GpuProcess {
    /// `pid 4242, python, 20.0 GiB`: what is known of it.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("pid {}", self.pid)];
        if let Some(name) = &self.name {
            parts.push(name.clone());
        }
        if let Some(m) = self.used_memory_byte {
            parts.push(crate::model::format_byte(m));
        }
        if let Some(sm) = self.sm_percent {
            parts.push(format!("SMs {sm}% busy"));
        }
        parts.join(", ")
    }
}

impl HealthRecord {
    /// Every other process seen before or after, once each (by pid).
    pub fn others(&self) -> Vec<&GpuProcess> {
        let mut seen: Vec<&GpuProcess> = Vec::new();
        for p in self.others_before.iter().chain(&self.others_after) {
            if !seen.iter().any(|q| q.pid == p.pid) {
                seen.push(p);
            }
        }
        seen
    }

    /// The one-line warning of a shared run, naming the other processes.
    pub fn shared_line(&self) -> Option<String> {
        self.shared.then(|| {
            let who: Vec<String> = self.others().into_iter().map(GpuProcess::describe).collect();
            format!(
                "another process used this GPU during the run ({}): the figures are not the card's alone",
                who.join("; ")
            )
        })
    }

    /// What says the card itself is bad, one phrase each: uncorrectable ECC errors since the
    /// driver loaded, a failed or pending row remap, a PCIe link narrower than its maximum
    /// under load (a bad riser or slot; a lower generation is only noted, since virtual
    /// machines and power management report it loosely), a hardware Xid error during the run
    /// ([`HARDWARE_XIDS`]).
    pub fn bad_card_reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.ecc
            && e.volatile_uncorrected > 0
        {
            out.push(format!(
                "{} uncorrectable ECC errors since the driver loaded",
                e.volatile_uncorrected
            ));
        }
        if let Some(r) = &self.remapped_rows {
            if r.failed {
                out.push("a row remap failed (no spare rows left: the card needs service)".into());
            }
            if r.pending {
                out.push("a row remap is pending (reset the GPU)".into());
            }
        }
        if let Some(p) = &self.pcie
            && p.width < p.width_max
        {
            out.push(format!(
                "the PCIe link ran at x{} under load, of x{} (gen {} of {})",
                p.width, p.width_max, p.generation, p.generation_max
            ));
        }
        let hardware: Vec<String> = self
            .xid_errors
            .iter()
            .filter(|x| HARDWARE_XIDS.contains(x))
            .map(u64::to_string)
            .collect();
        if !hardware.is_empty() {
            out.push(format!(
                "hardware Xid errors during the run: {}",
                hardware.join(", ")
            ));
        }
        out
    }

    /// One line for people: the counters, and what NVML would not say.
    pub fn summary_line(&self) -> String {
        let mut parts = Vec::new();
        parts.push(match &self.ecc {
            Some(e) => format!(
                "ECC {} uncorrectable / {} corrected since load ({} / {} lifetime)",
                e.volatile_uncorrected,
                e.volatile_corrected,
                e.aggregate_uncorrected,
                e.aggregate_corrected
            ),
            None => "ECC not read".to_string(),
        });
        if let Some(r) = &self.remapped_rows {
            parts.push(format!(
                "remapped rows {} + {}{}{}",
                r.correctable,
                r.uncorrectable,
                if r.pending { ", PENDING" } else { "" },
                if r.failed { ", FAILED" } else { "" }
            ));
        }
        if let Some(p) = &self.pcie {
            parts.push(format!(
                "PCIe gen {} x{} of gen {} x{}",
                p.generation, p.width, p.generation_max, p.width_max
            ));
        }
        parts.push(if self.xid_errors.is_empty() {
            "no Xid errors".to_string()
        } else {
            format!("Xid {:?}", self.xid_errors)
        });
        if !self.unavailable.is_empty() {
            parts.push(format!("not read: {}", self.unavailable.join(", ")));
        }
        parts.join(" · ")
    }
}

/// The processes in `listed` that are not this one. Outside a container the driver reports
/// this process under `own_pid`; inside one it reports the host's pid, which the container
/// cannot see, so when `own_pid` is not listed the entry holding the memory closest to what
/// this process allocated (`own_byte`) is taken for this process.
pub fn others(listed: &[GpuProcess], own_pid: u32, own_byte: u64) -> Vec<GpuProcess> {
    if listed.iter().any(|p| p.pid == own_pid) {
        return listed
            .iter()
            .filter(|p| p.pid != own_pid)
            .cloned()
            .collect();
    }
    let mine = listed
        .iter()
        .enumerate()
        .min_by_key(|(_, p)| {
            p.used_memory_byte
                .map_or(u64::MAX, |m| m.abs_diff(own_byte))
        })
        .map(|(i, _)| i);
    listed
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != mine)
        .map(|(_, p)| p.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, gib: u64) -> GpuProcess {
        GpuProcess {
            pid,
            name: None,
            used_memory_byte: Some(gib << 30),
            sm_percent: None,
        }
    }

    #[test]
    fn this_process_is_left_out_by_pid_or_inside_a_container_by_its_memory() {
        let listed = [p(10, 1), p(20, 20)];
        assert_eq!(others(&listed, 10, 1 << 30), vec![p(20, 20)]);
        // In a container: pid 10 is ours on the host, we are 1 here and hold about 1 GiB.
        assert_eq!(others(&listed, 1, (1 << 30) + 12345), vec![p(20, 20)]);
        assert!(
            others(&[p(10, 1)], 1, 1 << 30).is_empty(),
            "alone in a container"
        );
        assert!(others(&[], 1, 1 << 30).is_empty());
    }

    #[test]
    fn a_shared_run_names_the_others_and_bad_counters_are_reasons() {
        let mut h = HealthRecord {
            others_before: vec![GpuProcess {
                pid: 4242,
                name: Some("python".into()),
                used_memory_byte: Some(20 << 30),
                sm_percent: Some(35),
            }],
            shared: true,
            ..Default::default()
        };
        h.others_after = h.others_before.clone();
        assert_eq!(
            h.shared_line().unwrap(),
            "another process used this GPU during the run (pid 4242, python, 20.0 GiB, SMs 35% busy): the figures are not the card's alone"
        );
        assert!(h.bad_card_reasons().is_empty());
        h.ecc = Some(EccCounts {
            volatile_corrected: 3,
            volatile_uncorrected: 2,
            aggregate_corrected: 9,
            aggregate_uncorrected: 2,
        });
        h.remapped_rows = Some(RemappedRows {
            correctable: 0,
            uncorrectable: 1,
            pending: true,
            failed: false,
        });
        h.pcie = Some(PcieLink {
            generation: 4,
            generation_max: 5,
            width: 8,
            width_max: 16,
        });
        h.xid_errors = vec![13, 79];
        let reasons = h.bad_card_reasons();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[2].contains("x8 under load, of x16 (gen 4 of 5)"));
        assert_eq!(
            reasons[3], "hardware Xid errors during the run: 79",
            "13 is a program's"
        );
        // A lower generation alone, or a program's Xid, is no reason.
        h.pcie = Some(PcieLink {
            generation: 4,
            generation_max: 5,
            width: 16,
            width_max: 16,
        });
        h.xid_errors = vec![13];
        assert_eq!(h.bad_card_reasons().len(), 2);
        assert!(
            h.summary_line()
                .contains("ECC 2 uncorrectable / 3 corrected since load")
        );
    }
}
