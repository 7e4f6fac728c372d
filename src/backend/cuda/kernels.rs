//! matbench's own kernels: embedded source, compiled once per process with NVRTC for the
//! device's compute capability, loaded into the context.

use crate::error::Error;
use cudarc::driver::{CudaContext, CudaFunction};
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};
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
    pub rowdots_f32: CudaFunction,
    pub rowdots_f64: CudaFunction,
}

/// Compiles [`SOURCE`] to PTX for `compute_{major}{minor}`; the driver turns it into the
/// device's machine code when the module loads.
pub fn compile(major: i32, minor: i32) -> Result<Ptx, Error> {
    let arch = format!("compute_{major}{minor}");
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        name: Some("matbench.cu".into()),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(SOURCE, opts).map_err(|e| {
        let detail = match &e {
            CompileError::CompileError { log, .. } => log
                .to_string_lossy()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            other => format!("{other:?}"),
        };
        Error::Device(format!(
            "NVRTC could not compile kernels/matbench.cu for {arch}: {detail}"
        ))
    })
}

impl Kernels {
    /// Compiles and loads every kernel into `ctx`.
    pub fn load(ctx: &Arc<CudaContext>, major: i32, minor: i32) -> Result<Kernels, Error> {
        let ptx = compile(major, minor)?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| Error::Device(format!("loading the compiled kernels failed: {e:?}")))?;
        let f = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| Error::Device(format!("kernel {name} not found in the module: {e:?}")))
        };
        Ok(Kernels {
            philox_f32: f("philox_uniform_f32")?,
            philox_f64: f("philox_uniform_f64")?,
            sum_f32_partial: f("sum_f32_partial")?,
            sum_f64_partial: f("sum_f64_partial")?,
            sum_finish: f("sum_finish")?,
            colsum_f32_partial: f("colsum_f32_partial")?,
            colsum_f64_partial: f("colsum_f64_partial")?,
            colsum_finish: f("colsum_finish")?,
            rowdots_f32: f("rowdots_f32")?,
            rowdots_f64: f("rowdots_f64")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_the_backend_loads_is_in_the_source() {
        for name in [
            "philox_uniform_f32",
            "philox_uniform_f64",
            "sum_f32_partial",
            "sum_f64_partial",
            "sum_finish",
            "colsum_f32_partial",
            "colsum_f64_partial",
            "colsum_finish",
            "rowdots_f32",
            "rowdots_f64",
        ] {
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
}

#[cfg(test)]
mod nvrtc_tests {
    use std::io::Write;

    /// Compiles the real kernel source with NVRTC, which needs no GPU: only libnvrtc.so.13
    /// (CI installs it from PyPI's nvidia-cuda-nvrtc wheel and puts it on LD_LIBRARY_PATH).
    #[test]
    fn kernels_compile_with_nvrtc_for_every_supported_architecture() {
        // SAFETY: only tries to dlopen the candidate library names.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED kernels_compile_with_nvrtc_for_every_supported_architecture: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc==13.0.88 and add its lib/ to LD_LIBRARY_PATH)"
            );
            return;
        }
        for (major, minor) in [(7, 5), (8, 0), (8, 9), (9, 0)] {
            let ptx = super::compile(major, minor)
                .unwrap_or_else(|e| panic!("compute_{major}{minor}: {e}"));
            let text = ptx.to_src();
            for name in [
                "philox_uniform_f32",
                "sum_f32_partial",
                "rowdots_f64",
                "colsum_finish",
            ] {
                assert!(
                    text.contains(name),
                    "{name} missing from the PTX for compute_{major}{minor}"
                );
            }
        }
    }
}
