//! matbench's own kernels: shipped as machine code for the common architectures, compiled with
//! NVRTC for any other, loaded into the context.
//!
//! **Shipped CUBINs.** `scripts/kernels-prebuild.py` compiles `kernels/matbench.cu` ahead of
//! time with the CUDA major's own NVRTC (pinned from PyPI) into `kernels/prebuilt/cudaNN/`,
//! and the binary embeds its major's set ([`shipped`]). A GPU whose architecture is shipped
//! loads that CUBIN directly: no NVRTC call, no compile on the critical path, NVRTC not even
//! loaded (a fresh H200 machine waited 1.23 s for it). NVRTC's output is deterministic, so CI
//! rebuilds the set and compares bytes (`kernels-prebuild.py --check`), and a unit test checks
//! the source's SHA-256 against the manifest: a kernel edit without a rebuild fails CI.
//!
//! **NVRTC, the fallback.** For an architecture not shipped (or a shipped CUBIN the driver
//! refuses) NVRTC is asked for machine code (`sm_XY`), so loading the module needs no PTX JIT in
//! the driver; only when this NVRTC does not know the GPU's architecture does it fall back to
//! PTX for `compute_XY`, which the driver compiles. Compilation needs no context, so
//! [`CudaBackend::new`](super::CudaBackend::new) runs it on a helper thread while the context
//! is created.

use crate::error::Error;
use cudarc::driver::{CudaContext, CudaFunction};
use cudarc::nvrtc::{Ptx, result, sys};
use std::ffi::CString;
use std::sync::Arc;

/// The source of every kernel, `kernels/matbench.cu`.
pub const SOURCE: &str = include_str!("../../../kernels/matbench.cu");

/// `kernels/prebuilt/manifest.json`: which NVRTC built the shipped CUBINs, from which source.
pub const MANIFEST: &str = include_str!("../../../kernels/prebuilt/manifest.json");

/// The set of CUBINs this binary ships: its CUDA major's.
macro_rules! shipped_set {
    ($dir:literal, $nvrtc:literal, [$(($major:literal, $minor:literal)),* $(,)?]) => {
        ($nvrtc, &[$(($major, $minor, include_bytes!(concat!(
            "../../../kernels/prebuilt/", $dir, "/sm_", stringify!($major), stringify!($minor), ".cubin"
        )) as &[u8])),*])
    };
}

/// A shipped set: the NVRTC version that built it, and (major, minor, CUBIN) per architecture.
type ShippedSet = (&'static str, &'static [(i32, i32, &'static [u8])]);

#[cfg(feature = "cuda-13")]
const SHIPPED: ShippedSet = shipped_set!(
    "cuda13",
    "13.0",
    [(7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (10, 0), (12, 0)]
);
#[cfg(all(feature = "cuda-12", not(feature = "cuda-13")))]
const SHIPPED: ShippedSet = shipped_set!(
    "cuda12",
    "12.8",
    [
        (7, 0),
        (7, 5),
        (8, 0),
        (8, 6),
        (8, 9),
        (9, 0),
        (10, 0),
        (12, 0)
    ]
);

/// The shipped CUBIN for compute capability `major.minor`, if this binary carries one.
pub fn shipped(major: i32, minor: i32) -> Option<&'static [u8]> {
    SHIPPED
        .1
        .iter()
        .find(|(ma, mi, _)| (*ma, *mi) == (major, minor))
        .map(|(_, _, cubin)| *cubin)
}

/// The NVRTC version that built the shipped CUBINs ("13.0").
pub fn shipped_nvrtc() -> &'static str {
    SHIPPED.0
}

/// The kernels for one dtype's storage: f32, f64, bf16, f16, or fp8 (A in E4M3, C in bf16).
pub struct TypedKernels {
    /// Philox fill of A.
    pub philox: CudaFunction,
    /// First pass of Σ C.
    pub sum_partial: CudaFunction,
    /// First pass of the column sums of A.
    pub colsum_partial: CudaFunction,
    /// Sampled rows of C and their f64 references.
    pub rowcheck: CudaFunction,
    /// First pass of every row and column sum of C.
    pub linesum_partial: CudaFunction,
    /// The exact reference of those sums, A·(column sums of A).
    pub lineref: CudaFunction,
    /// The test-only fault put into C.
    pub inject: CudaFunction,
}

/// The loaded kernels.
pub struct Kernels {
    /// f32 storage (f32 and tf32 runs).
    pub f32: TypedKernels,
    /// f64 storage.
    pub f64: TypedKernels,
    /// bfloat16 storage.
    pub bf16: TypedKernels,
    /// IEEE half storage.
    pub f16: TypedKernels,
    /// fp8: A in E4M3, C in bfloat16.
    pub fp8: TypedKernels,
    /// Second pass of Σ C (type-independent: adds f64 partials).
    pub sum_finish: CudaFunction,
    /// `--op syrk`: first pass over the upper triangle, f32.
    pub sum_upper_f32: CudaFunction,
    /// `--op syrk`: first pass over the upper triangle, f64.
    pub sum_upper_f64: CudaFunction,
    /// Second pass of the column sums.
    pub colsum_finish: CudaFunction,
    /// Second pass of the row and column sums of C.
    pub linesum_finish: CudaFunction,
}

impl Kernels {
    /// The kernels for `dtype`'s storage (tf32 runs store f32).
    pub fn for_dtype(&self, dtype: crate::model::dtype::DType) -> &TypedKernels {
        use crate::model::dtype::DType;
        match dtype {
            DType::F32 | DType::Tf32 => &self.f32,
            DType::F64 => &self.f64,
            DType::Bf16 => &self.bf16,
            DType::F16 => &self.f16,
            DType::Fp8 => &self.fp8,
        }
    }
}

/// The typed kernel sets, one per storage of A and C.
pub const SETS: [&str; 5] = ["f32", "f64", "bf16", "f16", "fp8"];

/// The kernels of one set, in [`TypedKernels`]' order: philox, sum, colsum, rowcheck, linesum,
/// lineref, inject. Those that read A are named after A's storage type, those that read only C
/// after C's: the same for every set but fp8 (A in E4M3, C in bf16).
pub fn set_names(set: &str) -> [String; 7] {
    let (a, c) = match set {
        "fp8" => ("e4m3", "bf16"),
        t => (t, t),
    };
    [
        format!("philox_uniform_{a}"),
        format!("sum_{c}_partial"),
        format!("colsum_{a}_partial"),
        format!("rowcheck_{a}"),
        format!("linesum_{c}_partial"),
        format!("lineref_{a}"),
        format!("inject_{c}"),
    ]
}

/// Names of every kernel the backend loads, each once.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = SETS.iter().flat_map(|t| set_names(t)).collect();
    out.sort();
    out.dedup();
    out.push("sum_finish".into());
    out.push("sum_upper_f32_partial".into());
    out.push("sum_upper_f64_partial".into());
    out.push("colsum_finish".into());
    out.push("linesum_finish".into());
    out
}

/// What NVRTC produced.
#[derive(Debug)]
pub enum Compiled {
    /// Machine code for `sm_XY`.
    Cubin(Vec<u8>),
    /// PTX for `compute_XY` (fallback).
    Ptx(Ptx),
    /// The CUBIN shipped in the binary for `sm_XY` (no NVRTC call).
    Shipped(&'static [u8]),
}

impl Compiled {
    /// Which form, for the record.
    pub fn describe(&self, major: i32, minor: i32) -> String {
        match self {
            Compiled::Cubin(_) => format!("NVRTC → sm_{major}{minor} CUBIN"),
            Compiled::Ptx(_) => format!("NVRTC → compute_{major}{minor} PTX (driver JIT)"),
            Compiled::Shipped(_) => format!(
                "shipped sm_{major}{minor} CUBIN (NVRTC {}, kernels/prebuilt)",
                shipped_nvrtc()
            ),
        }
    }
}

fn nvrtc_failed(arch: &str, what: &str, e: impl std::fmt::Debug) -> Error {
    Error::device_msg(format!(
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
            Error::device_msg(format!(
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
            Compiled::Shipped(bytes) => Ptx::from_binary(bytes.to_vec()),
            Compiled::Ptx(ptx) => ptx,
        };
        let module = ctx.load_module(image).map_err(|e| {
            Error::device_msg(format!("loading the compiled kernels failed: {e:?}"))
        })?;
        let f = |name: &str| {
            module.load_function(name).map_err(|e| {
                Error::device_msg(format!("kernel {name} not found in the module: {e:?}"))
            })
        };
        let typed = |t: &str| -> Result<TypedKernels, Error> {
            let [philox, sum, colsum, rowcheck, linesum, lineref, inject] = set_names(t);
            Ok(TypedKernels {
                philox: f(&philox)?,
                sum_partial: f(&sum)?,
                colsum_partial: f(&colsum)?,
                rowcheck: f(&rowcheck)?,
                linesum_partial: f(&linesum)?,
                lineref: f(&lineref)?,
                inject: f(&inject)?,
            })
        };
        Ok(Kernels {
            f32: typed("f32")?,
            f64: typed("f64")?,
            bf16: typed("bf16")?,
            f16: typed("f16")?,
            fp8: typed("fp8")?,
            sum_finish: f("sum_finish")?,
            sum_upper_f32: f("sum_upper_f32_partial")?,
            sum_upper_f64: f("sum_upper_f64_partial")?,
            colsum_finish: f("colsum_finish")?,
            linesum_finish: f("linesum_finish")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn every_kernel_the_backend_loads_is_in_the_source() {
        for name in names() {
            assert!(
                SOURCE.contains(&format!("extern \"C\" __global__ void {name}(")),
                "{name}"
            );
        }
        assert!(SOURCE.contains(&format!(
            "#define MAX_SAMPLE_ROWS {}",
            crate::verify::MAX_SAMPLE_ROWS
        )));
        use super::super::launch::{LINE_THREADS, LINE_TILE_ROWS};
        assert!(SOURCE.contains(&format!("#define LINE_TILE_ROWS {LINE_TILE_ROWS}\n")));
        assert!(SOURCE.contains(&format!("#define LINE_THREADS {LINE_THREADS}\n")));
    }

    /// The shipped CUBINs are this source's: its SHA-256 is the manifest's (CI also rebuilds
    /// them and compares bytes), each is an ELF holding every kernel, and the binary ships the
    /// architectures the manifest lists for its CUDA major.
    #[test]
    fn the_shipped_cubins_are_built_from_this_source() {
        use sha2::Digest;
        let manifest: serde_json::Value = serde_json::from_str(MANIFEST).unwrap();
        let sha = format!("{:x}", sha2::Sha256::digest(SOURCE.as_bytes()));
        assert_eq!(
            manifest["source_sha256"], sha,
            "kernels/matbench.cu changed: run python3 scripts/kernels-prebuild.py"
        );
        let set = if cfg!(feature = "cuda-13") {
            "cuda13"
        } else {
            "cuda12"
        };
        assert_eq!(manifest["sets"][set]["nvrtc"], shipped_nvrtc());
        let listed: Vec<String> = manifest["sets"][set]["architectures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let shipped_archs: Vec<String> = SHIPPED
            .1
            .iter()
            .map(|(ma, mi, _)| format!("sm_{ma}{mi}"))
            .collect();
        assert_eq!(listed, shipped_archs);
        for (major, minor, cubin) in SHIPPED.1 {
            assert!(cubin.starts_with(b"\x7fELF"), "sm_{major}{minor}");
            let text = String::from_utf8_lossy(cubin);
            for name in names() {
                assert!(
                    text.contains(&name),
                    "{name} missing from sm_{major}{minor}"
                );
            }
        }
        assert!(shipped(9, 0).is_some() && shipped(8, 7).is_none());
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
                Ok(Compiled::Shipped(_)) => panic!("compile() never returns the shipped CUBIN"),
                Err(e) => panic!("sm_{major}{minor}: {e}"),
            }
            let ptx =
                compile_ptx(major, minor).unwrap_or_else(|e| panic!("compute_{major}{minor}: {e}"));
            let text = ptx.to_src();
            for name in names() {
                assert!(
                    text.contains(&name),
                    "{name} missing from the PTX for compute_{major}{minor}"
                );
            }
        }
    }
}
