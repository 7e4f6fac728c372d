//! matbench's own kernels: embedded source, compiled once per process with NVRTC for the
//! device's own architecture, loaded into the context.
//!
//! NVRTC is asked for machine code (`sm_XY`, a CUBIN), so loading the module needs no PTX JIT
//! in the driver; only when this NVRTC does not know the GPU's architecture does it fall back
//! to PTX for `compute_XY`, which the driver compiles. Compilation needs no context, so
//! [`CudaBackend::new`](super::CudaBackend::new) runs it on a helper thread while the context
//! is created.

use crate::error::Error;
use cudarc::driver::{CudaContext, CudaFunction};
use cudarc::nvrtc::{Ptx, result, sys};
use std::ffi::CString;
use std::sync::Arc;

/// The source of every kernel, `kernels/matbench.cu`.
pub const SOURCE: &str = include_str!("../../../kernels/matbench.cu");

/// The loaded kernels.
pub struct Kernels {
    pub philox_f32: CudaFunction,
    pub philox_f64: CudaFunction,
    pub sum_f32_partial: CudaFunction,
    pub sum_f64_partial: CudaFunction,
    pub sum_finish: CudaFunction,
    pub colsum_f32_partial: CudaFunction,
    pub colsum_f64_partial: CudaFunction,
    pub colsum_finish: CudaFunction,
    pub rowcheck_f32: CudaFunction,
    pub rowcheck_f64: CudaFunction,
}

/// Names of every kernel the backend loads.
pub const NAMES: [&str; 10] = [
    "philox_uniform_f32",
    "philox_uniform_f64",
    "sum_f32_partial",
    "sum_f64_partial",
    "sum_finish",
    "colsum_f32_partial",
    "colsum_f64_partial",
    "colsum_finish",
    "rowcheck_f32",
    "rowcheck_f64",
];

/// What NVRTC produced.
#[derive(Debug)]
pub enum Compiled {
    /// Machine code for `sm_XY`.
    Cubin(Vec<u8>),
    /// PTX for `compute_XY` (fallback).
    Ptx(Ptx),
}

impl Compiled {
    /// Which form, for the record.
    pub fn describe(&self, major: i32, minor: i32) -> String {
        match self {
            Compiled::Cubin(_) => format!("NVRTC → sm_{major}{minor} CUBIN"),
            Compiled::Ptx(_) => format!("NVRTC → compute_{major}{minor} PTX (driver JIT)"),
        }
    }
}

fn nvrtc_failed(arch: &str, what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Device(format!(
        "NVRTC could not {what} kernels/matbench.cu for {arch}: {e:?}"
    ))
}

/// Compiles [`SOURCE`] to a CUBIN for `sm_{major}{minor}`, or to PTX where NVRTC cannot.
pub fn compile(major: i32, minor: i32) -> Result<Compiled, Error> {
    match compile_cubin(major, minor) {
        Ok(cubin) => Ok(Compiled::Cubin(cubin)),
        Err(cubin_error) => compile_ptx(major, minor)
            .map(Compiled::Ptx)
            .map_err(|_| cubin_error),
    }
}

fn compile_cubin(major: i32, minor: i32) -> Result<Vec<u8>, Error> {
    let arch = format!("sm_{major}{minor}");
    let src = CString::new(SOURCE).map_err(|e| nvrtc_failed(&arch, "read", e))?;
    let name = c"matbench.cu";
    let prog = result::create_program(&src, Some(name))
        .map_err(|e| nvrtc_failed(&arch, "create a program for", e))?;
    let options = [
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_string(),
    ];
    // SAFETY: `prog` was just created and is destroyed below, once; `src` and `name` outlive it.
    let compiled = unsafe { result::compile_program(prog, &options) };
    let out = compiled
        .map_err(|e| {
            // SAFETY: `prog` is alive; the log is copied before the program is destroyed.
            let log = unsafe { result::get_program_log(prog) }
                .map(|l| {
                    let bytes: Vec<u8> = l
                        .iter()
                        .take_while(|&&c| c != 0)
                        .map(|&c| c as u8)
                        .collect();
                    String::from_utf8_lossy(&bytes)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            Error::Device(format!(
                "NVRTC could not compile kernels/matbench.cu for {arch}: {e:?} {log}"
            ))
        })
        .and_then(|()| {
            let mut size = 0usize;
            // SAFETY: `prog` compiled successfully; NVRTC writes the size, then exactly that many bytes.
            unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) }
                .result()
                .map_err(|e| nvrtc_failed(&arch, "size the CUBIN of", e))?;
            let mut cubin = vec![0u8; size];
            // SAFETY: `cubin` holds `size` bytes, as NVRTC asked for.
            unsafe { sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast()) }
                .result()
                .map_err(|e| nvrtc_failed(&arch, "fetch the CUBIN of", e))?;
            Ok(cubin)
        });
    // SAFETY: `prog` came from create_program and is destroyed exactly once.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

fn compile_ptx(major: i32, minor: i32) -> Result<Ptx, Error> {
    let arch = format!("compute_{major}{minor}");
    let opts = cudarc::nvrtc::CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        name: Some("matbench.cu".into()),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(SOURCE, opts)
        .map_err(|e| nvrtc_failed(&arch, "compile", e))
}

impl Kernels {
    /// Loads compiled kernels into `ctx`.
    pub fn load(ctx: &Arc<CudaContext>, compiled: Compiled) -> Result<Kernels, Error> {
        let image = match compiled {
            Compiled::Cubin(bytes) => Ptx::from_binary(bytes),
            Compiled::Ptx(ptx) => ptx,
        };
        let module = ctx
            .load_module(image)
            .map_err(|e| Error::Device(format!("loading the compiled kernels failed: {e:?}")))?;
        let f = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| Error::Device(format!("kernel {name} not found in the module: {e:?}")))
        };
        Ok(Kernels {
            philox_f32: f(NAMES[0])?,
            philox_f64: f(NAMES[1])?,
            sum_f32_partial: f(NAMES[2])?,
            sum_f64_partial: f(NAMES[3])?,
            sum_finish: f(NAMES[4])?,
            colsum_f32_partial: f(NAMES[5])?,
            colsum_f64_partial: f(NAMES[6])?,
            colsum_finish: f(NAMES[7])?,
            rowcheck_f32: f(NAMES[8])?,
            rowcheck_f64: f(NAMES[9])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn every_kernel_the_backend_loads_is_in_the_source() {
        for name in NAMES {
            assert!(
                SOURCE.contains(&format!("extern \"C\" __global__ void {name}(")),
                "{name}"
            );
        }
        assert!(SOURCE.contains(&format!(
            "#define MAX_SAMPLE_ROWS {}",
            crate::verify::MAX_SAMPLE_ROWS
        )));
    }

    /// Compiles the real kernel source with NVRTC, which needs no GPU: only libnvrtc.so.13
    /// (CI installs it from PyPI's nvidia-cuda-nvrtc wheel and puts it on LD_LIBRARY_PATH).
    #[test]
    fn kernels_compile_with_nvrtc_for_every_supported_architecture() {
        if !crate::backend::cuda::probe::preload("nvrtc") {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED kernels_compile_with_nvrtc_for_every_supported_architecture: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc==13.0.88 and add its lib/ to LD_LIBRARY_PATH)"
            );
            return;
        }
        for (major, minor) in [(7, 5), (8, 0), (8, 9), (9, 0)] {
            match compile(major, minor) {
                Ok(Compiled::Cubin(bytes)) => assert!(
                    bytes.starts_with(b"\x7fELF"),
                    "sm_{major}{minor}: not an ELF CUBIN"
                ),
                Ok(Compiled::Ptx(_)) => panic!("sm_{major}{minor}: fell back to PTX"),
                Err(e) => panic!("sm_{major}{minor}: {e}"),
            }
            let ptx =
                compile_ptx(major, minor).unwrap_or_else(|e| panic!("compute_{major}{minor}: {e}"));
            let text = ptx.to_src();
            for name in NAMES {
                assert!(
                    text.contains(name),
                    "{name} missing from the PTX for compute_{major}{minor}"
                );
            }
        }
    }
}
