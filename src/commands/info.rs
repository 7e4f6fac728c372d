//! `matbench info`: what this machine offers, GPU or not.

use crate::backend::cuda::{self, GpuInfo};
use crate::backend::format_byte;
use crate::cli::{Format, InfoArgs};
use crate::error::{Error, Exit};
use crate::host::HostRecord;
use crate::output::Stdout;
use serde::Serialize;
use std::fmt::Write;

/// The machine as `info` reports it.
#[derive(Debug, Serialize)]
pub struct Info {
    /// matbench's version.
    pub matbench_version: String,
    /// The host and its CPU.
    pub host: HostRecord,
    /// Every GPU the driver sees.
    pub gpus: Vec<GpuInfo>,
    /// Why there are no GPUs, when there are none.
    pub gpu_unavailable: Option<String>,
}

/// Gathers host and GPU facts; a machine without a GPU is a normal answer, not an error.
pub fn gather() -> Info {
    let (gpus, gpu_unavailable) = match cuda::list_gpus() {
        Ok(g) if g.is_empty() => (g, Some("the NVIDIA driver sees no GPU".to_string())),
        Ok(g) => (g, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Info {
        matbench_version: env!("CARGO_PKG_VERSION").to_string(),
        host: crate::host::host_record(),
        gpus,
        gpu_unavailable,
    }
}

/// The text report.
pub fn render_text(info: &Info) -> String {
    let h = &info.host;
    let mut out = String::new();
    let _ = writeln!(out, "matbench {}", info.matbench_version);
    let _ = writeln!(
        out,
        "host    {} · {} · kernel {} · {}",
        h.hostname, h.os, h.kernel, h.arch
    );
    let _ = writeln!(
        out,
        "cpu     {} · {} cores, {} threads · SIMD: {}",
        h.cpu_model,
        h.cpu_cores.map_or("?".to_string(), |c| c.to_string()),
        h.cpu_threads,
        if h.simd.is_empty() {
            "none detected".to_string()
        } else {
            h.simd.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "memory  {} total, {} available{}",
        format_byte(h.memory_total_byte),
        format_byte(h.memory_available_byte),
        if h.in_container {
            " · inside a container"
        } else {
            ""
        }
    );
    for g in &info.gpus {
        let d = &g.device;
        let _ = writeln!(
            out,
            "gpu {}   {} · compute capability {} · {} SMs · {} total, {} free · driver {} · CUDA {} · cuBLAS {} · NVRTC {} · {}",
            d.index.unwrap_or(0),
            d.name,
            d.compute_capability.as_deref().unwrap_or("?"),
            d.multiprocessors.unwrap_or(0),
            format_byte(d.memory_total_byte),
            format_byte(g.memory_free_byte),
            d.driver_version.as_deref().unwrap_or("?"),
            d.cuda_driver_version.as_deref().unwrap_or("?"),
            d.cublas_version.as_deref().unwrap_or("?"),
            d.nvrtc_version.as_deref().unwrap_or("?"),
            d.uuid.as_deref().unwrap_or("no UUID")
        );
        let peaks = match crate::model::peak::lookup(&d.name) {
            Some(p) => format!("{}: {} ({})", p.model, p.summary(), p.source),
            None => format!(
                "'{}' is not in matbench's table of datasheet peaks: runs get no share of peak",
                d.name
            ),
        };
        let _ = writeln!(out, "        peaks: {peaks}");
    }
    if let Some(why) = &info.gpu_unavailable {
        let _ = writeln!(out, "gpu     none: {why}");
    }
    out
}
/// Runs `matbench info`.
pub fn run(args: &InfoArgs, out: &mut Stdout) -> Result<Exit, Error> {
    let info = gather();
    match args.format {
        Format::Text => out.write(render_text(&info).as_bytes())?,
        Format::Json => out.write(&crate::record::json::to_bytes(
            &info,
            "the machine's facts",
        )?)?,
    }
    Ok(Exit::Success)
}
