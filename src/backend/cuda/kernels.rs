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
