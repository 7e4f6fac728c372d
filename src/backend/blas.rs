//! The machine's own CBLAS, loaded at run time as the CUDA backend loads cuBLAS: no build-time
//! dependency, no toolkit needed to build, and a one-line reason when none can be used.
//!
//! What a CPU's owner runs: Intel MKL (`libmkl_rt`, PyTorch's), OpenBLAS (numpy's, the
//! distributions'), BLIS — or the library named by `--blas-lib PATH` (also
//! `MATBENCH_BLAS_LIB`), such as the OpenBLAS numpy bundles, whose symbols carry a `scipy_`
//! prefix. LP64 builds (32-bit integers) and ILP64 builds (64-bit integers, symbols with a
//! `64_` suffix, as numpy 2's `scipy_openblas64_`) are both called with their own widths.
//!
//! Written by hand rather than with a BLAS crate because those link a BLAS at build time
//! (cblas-sys, blas-src); choosing one at run time, and recording which, is the point here.

use crate::error::Error;
use libloading::Library;
use std::ffi::{CStr, c_char, c_int};
use std::path::{Path, PathBuf};

/// `CblasRowMajor`.
const ROW_MAJOR: c_int = 101;
/// `CblasNoTrans`.
const NO_TRANS: c_int = 111;
/// `CblasTrans`.
const TRANS: c_int = 112;
/// `CblasUpper`.
const UPPER: c_int = 121;

/// `cblas_?gemm` with CBLAS integers `I` (the enums stay C `int`s in both LP64 and ILP64).
type Gemm<T, I> =
    unsafe extern "C" fn(c_int, c_int, c_int, I, I, I, T, *const T, I, *const T, I, T, *mut T, I);
/// `cblas_?syrk` with CBLAS integers `I`.
type Syrk<T, I> = unsafe extern "C" fn(c_int, c_int, c_int, I, I, T, *const T, I, T, *mut T, I);

/// The four calls, with the library's integer width.
enum Calls {
    /// 32-bit integers (the usual builds).
    Lp64 {
        sgemm: Gemm<f32, c_int>,
        dgemm: Gemm<f64, c_int>,
        ssyrk: Syrk<f32, c_int>,
        dsyrk: Syrk<f64, c_int>,
    },
    /// 64-bit integers, symbols suffixed `64_` (numpy's bundled `scipy_openblas64_`).
    Ilp64 {
        sgemm: Gemm<f32, i64>,
        dgemm: Gemm<f64, i64>,
        ssyrk: Syrk<f32, i64>,
        dsyrk: Syrk<f64, i64>,
    },
}

/// The libraries tried when none is named, most specific first: MKL, OpenBLAS (its pthread
/// and OpenMP variants under their Debian and upstream names), BLIS.
pub const CANDIDATES: &[&str] = &[
    "libmkl_rt.so.2",
    "libmkl_rt.so",
    "libopenblas.so.0",
    "libopenblas.so",
    "libopenblasp.so.0",
    "libopenblaso.so.0",
    "libblis.so.4",
    "libblis.so",
];

/// A loaded CBLAS with the calls matbench makes.
pub struct Cblas {
    /// Kept alive for the function pointers below.
    _lib: Library,
    calls: Calls,
    /// What it is: "OpenBLAS 0.3.21 …", "Intel MKL 2024.2 …", "BLIS 0.9.0", with its file.
    pub description: String,
    /// How its threads are set, for the record.
    pub threading: String,
}

impl Cblas {
    /// The library and its threading in one line, as the record's `device.blas_library`.
    pub fn summary(&self) -> String {
        format!("{}; threads: {}", self.description, self.threading)
    }
}

/// An element type CBLAS computes.
pub trait BlasElement: Sized {
    /// C = A·Aᵀ for the leading m×m blocks of row-major A and C with leading dimension `ld`
    /// (m = ld: the whole matrices), the transpose flag on one buffer.
    fn gemm(blas: &Cblas, m: usize, ld: usize, a: &[Self], c: &mut [Self]);
    /// The upper triangle of C = A·Aᵀ, blocks as for [`BlasElement::gemm`].
    fn syrk(blas: &Cblas, m: usize, ld: usize, a: &[Self], c: &mut [Self]);
}

/// The leading m×m blocks of A and C (row-major, leading dimension `ld`) lie inside their
/// buffers: the bound every call below relies on.
fn assert_blocks(m: usize, ld: usize, a_len: usize, c_len: usize) {
    let reach = if m == 0 { 0 } else { (m - 1) * ld + m };
    assert!(m <= ld && a_len >= reach && c_len >= reach);
}

macro_rules! blas_element {
    ($t:ty, $gemm:ident, $syrk:ident) => {
        impl BlasElement for $t {
            fn gemm(blas: &Cblas, m: usize, ld: usize, a: &[$t], c: &mut [$t]) {
                assert_blocks(m, ld, a.len(), c.len());
                let (pa, pc) = (a.as_ptr(), c.as_mut_ptr());
                // SAFETY: A and C reach (m − 1)·ld + m elements (checked above), row-major
                // with leading dimension ld ≥ m; the library was checked to export the
                // symbol, with the CBLAS signature of its integer width; m and ld fit both
                // widths (the plan caps n at 2²⁰).
                unsafe {
                    match &blas.calls {
                        Calls::Lp64 { $gemm: f, .. } => {
                            let (d, l) = (m as c_int, ld as c_int);
                            f(
                                ROW_MAJOR, NO_TRANS, TRANS, d, d, d, 1.0, pa, l, pa, l, 0.0, pc, l,
                            )
                        }
                        Calls::Ilp64 { $gemm: f, .. } => {
                            let (d, l) = (m as i64, ld as i64);
                            f(
                                ROW_MAJOR, NO_TRANS, TRANS, d, d, d, 1.0, pa, l, pa, l, 0.0, pc, l,
                            )
                        }
                    }
                }
            }

            fn syrk(blas: &Cblas, m: usize, ld: usize, a: &[$t], c: &mut [$t]) {
                assert_blocks(m, ld, a.len(), c.len());
                let (pa, pc) = (a.as_ptr(), c.as_mut_ptr());
                // SAFETY: as for `gemm`; SYRK writes only the upper triangle of C.
                unsafe {
                    match &blas.calls {
                        Calls::Lp64 { $syrk: f, .. } => {
                            let (d, l) = (m as c_int, ld as c_int);
                            f(ROW_MAJOR, UPPER, NO_TRANS, d, d, 1.0, pa, l, 0.0, pc, l)
                        }
                        Calls::Ilp64 { $syrk: f, .. } => {
                            let (d, l) = (m as i64, ld as i64);
                            f(ROW_MAJOR, UPPER, NO_TRANS, d, d, 1.0, pa, l, 0.0, pc, l)
                        }
                    }
                }
            }
        }
    };
}
blas_element!(f32, sgemm, ssyrk);
blas_element!(f64, dgemm, dsyrk);

/// What [`repair_openblas_kernel`] did, for the record: `None` when it did nothing.
static KERNEL_REPAIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The OpenBLAS kernel a CPU deserves, from its instruction sets: `(kernel to ask for, the
/// kernels, lower-case, that are as good)`. `None` below AVX2, where every kernel is as good.
fn deserved_kernel() -> Option<(&'static str, &'static [&'static str])> {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl");
        if avx512 {
            return Some(("SkylakeX", &["skylakex", "cooperlake", "sapphirerapids"]));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some((
                "Haswell",
                &["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"],
            ));
        }
    }
    None
}

/// Makes an OpenBLAS that does not know this CPU run the kernel its instruction sets deserve.
///
/// An OpenBLAS built with `DYNAMIC_ARCH` picks its kernel from the CPU model when it loads,
/// and one older than the CPU falls back to a generic kernel: Debian 12's OpenBLAS 0.3.21
/// runs its SSE3 "Prescott" kernel on a Sapphire Rapids Xeon, at a sixth of its AVX-512
/// speed (35 against 214 GFLOP/s, f32, n = 2048, 2 threads). Its documented remedy is
/// `OPENBLAS_CORETYPE`, read once when the library loads; so this loads the library matbench
/// would use, asks which kernel it chose, unloads it and, if the kernel is below what the CPU
/// supports, sets `OPENBLAS_CORETYPE` for the load that follows, and says so in the record.
/// A `OPENBLAS_CORETYPE` the user set is left alone.
///
/// Call it before any thread of this process starts (it writes the environment).
#[allow(unsafe_code)]
pub fn repair_openblas_kernel(named: Option<&Path>) {
    if std::env::var_os("OPENBLAS_CORETYPE").is_some() {
        return;
    }
    let Some((kernel, as_good)) = deserved_kernel() else {
        return;
    };
    let picked = {
        let found = match named {
            Some(path) => open_library(path).ok(),
            None => CANDIDATES
                .iter()
                .find_map(|name| open_library(Path::new(name)).ok()),
        };
        let Some((lib, naming)) = found else {
            return;
        };
        let config = symbol_text(&lib, naming, "openblas_get_config");
        let core = symbol_text(&lib, naming, "openblas_get_corename");
        match (config, core) {
            (Some(config), Some(core)) if config.contains("DYNAMIC_ARCH") => {
                let version = config.split_whitespace().take(2).collect::<Vec<_>>();
                (version.join(" "), core)
            }
            _ => return,
        }
        // The library is unloaded here, so the next load reads the environment again.
    };
    let (version, core) = picked;
    if as_good.contains(&core.to_lowercase().as_str()) {
        return;
    }
    // SAFETY: called from `commands::prepare_process`, before any thread of this process
    // exists but the library's own, which are stopped when it unloads (and never read the
    // environment when it stays).
    unsafe { std::env::set_var("OPENBLAS_CORETYPE", kernel) };
    let _ = KERNEL_REPAIR.set(format!(
        "kernel {kernel} set by matbench (OPENBLAS_CORETYPE): {version} picked its {core} kernel on this CPU"
    ));
}

/// Where to look: the named library, or every candidate.
pub fn load(named: Option<&Path>, threads: usize) -> Result<Cblas, Error> {
    match named {
        Some(path) => open(path, threads)
            .map_err(|why| Error::NoDevice(format!("--blas-lib {}: {why}", path.display()))),
        None => {
            let mut tried = Vec::new();
            for name in CANDIDATES {
                match open(Path::new(name), threads) {
                    Ok(blas) => return Ok(blas),
                    Err(why) => tried.push(format!("{name} ({why})")),
                }
            }
            Err(Error::NoDevice(format!(
                "no CBLAS library found (tried {}): install OpenBLAS, MKL or BLIS, name one with \
                 --blas-lib PATH, or use --cpu-engine faer",
                tried.join(", ")
            )))
        }
    }
}

/// How the library names its symbols: a prefix (`""`, or `"scipy_"` in the OpenBLAS numpy
/// bundles) and a suffix (`""`, or `"64_"` in ILP64 builds).
#[derive(Clone, Copy)]
struct Naming {
    prefix: &'static str,
    suffix: &'static str,
}

impl Naming {
    fn symbol(self, name: &str) -> String {
        format!("{}{name}{}\0", self.prefix, self.suffix)
    }
}

/// The naming under which the library exports `cblas_sgemm`.
fn naming(lib: &Library) -> Result<Naming, String> {
    for prefix in ["", "scipy_"] {
        for suffix in ["", "64_"] {
            let n = Naming { prefix, suffix };
            // SAFETY: only probed for existence here.
            if unsafe { lib.get::<*const ()>(n.symbol("cblas_sgemm").as_bytes()) }.is_ok() {
                return Ok(n);
            }
        }
    }
    Err("no cblas_sgemm: not a CBLAS library".into())
}

/// Symbol `name` under `naming`, read as `T`.
fn get<T: Copy>(lib: &Library, naming: Naming, name: &str) -> Result<T, String> {
    // SAFETY: the caller names `T` as the CBLAS (or vendor) signature of `name`; a library
    // exporting the name with another signature would be a broken BLAS.
    unsafe { lib.get::<T>(naming.symbol(name).as_bytes()) }
        .map(|f| *f)
        .map_err(|_| format!("no {name}: an incomplete CBLAS"))
}

/// The library at `path` and how it names its symbols, if it is a CBLAS.
fn open_library(path: &Path) -> Result<(Library, Naming), String> {
    // SAFETY: loading a library runs its initialisers; BLAS libraries' have no preconditions.
    let lib = unsafe { Library::new(path) }.map_err(|e| loader_error(&e))?;
    let n = naming(&lib)?;
    Ok((lib, n))
}

/// The text returned by `name`, a function of no arguments returning a static C string
/// (`openblas_get_config`, `openblas_get_corename`, `bli_info_get_version_str`).
fn symbol_text(lib: &Library, naming: Naming, name: &str) -> Option<String> {
    // SAFETY: the three functions named above take nothing and return a static
    // NUL-terminated string (or null).
    unsafe {
        let f = lib
            .get::<unsafe extern "C" fn() -> *const c_char>(naming.symbol(name).as_bytes())
            .ok()?;
        let p = f();
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().trim().to_string())
    }
}

fn open(path: &Path, threads: usize) -> Result<Cblas, String> {
    let (lib, n) = open_library(path)?;
    let calls = if n.suffix.is_empty() {
        Calls::Lp64 {
            sgemm: get(&lib, n, "cblas_sgemm")?,
            dgemm: get(&lib, n, "cblas_dgemm")?,
            ssyrk: get(&lib, n, "cblas_ssyrk")?,
            dsyrk: get(&lib, n, "cblas_dsyrk")?,
        }
    } else {
        Calls::Ilp64 {
            sgemm: get(&lib, n, "cblas_sgemm")?,
            dgemm: get(&lib, n, "cblas_dgemm")?,
            ssyrk: get(&lib, n, "cblas_ssyrk")?,
            dsyrk: get(&lib, n, "cblas_dsyrk")?,
        }
    };
    let (vendor, threading) = identify(&lib, n, threads);
    let file = resolved_path(path).unwrap_or_else(|| path.to_path_buf());
    let width = if n.suffix.is_empty() { "LP64" } else { "ILP64" };
    Ok(Cblas {
        calls,
        description: format!("{vendor}, {width} ({})", file.display()),
        threading,
        _lib: lib,
    })
}

/// The library's name and version, and its threads set to `threads` through its own call.
fn identify(lib: &Library, naming: Naming, threads: usize) -> (String, String) {
    let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
    let prefix = naming.prefix;
    let get = |name: &str| -> Option<*const ()> {
        let symbol = naming.symbol(name);
        // SAFETY: only the address is taken here; each use below casts it to the function's
        // documented signature.
        unsafe { lib.get::<*const ()>(symbol.as_bytes()) }
            .ok()
            .map(|s| *s)
    };
    if let Some(set) = get("openblas_set_num_threads") {
        // SAFETY: `void openblas_set_num_threads(int)`.
        let set: unsafe extern "C" fn(c_int) = unsafe { std::mem::transmute(set) };
        unsafe { set(n) };
        let config = symbol_text(lib, naming, "openblas_get_config").unwrap_or_default();
        let mut name = if config.is_empty() {
            "OpenBLAS".to_string()
        } else {
            config
        };
        if let Some(repair) = KERNEL_REPAIR.get() {
            name = format!("{name} [{repair}]");
        } else if let Some(core) = std::env::var_os("OPENBLAS_CORETYPE") {
            name = format!(
                "{name} [OPENBLAS_CORETYPE={} set by the user]",
                core.to_string_lossy()
            );
        }
        return (
            name,
            format!(
                "{prefix}openblas_set_num_threads{}({threads})",
                naming.suffix
            ),
        );
    }
    if let Some(set) = get("MKL_Set_Num_Threads") {
        // SAFETY: `void MKL_Set_Num_Threads(int)`.
        let set: unsafe extern "C" fn(c_int) = unsafe { std::mem::transmute(set) };
        unsafe { set(n) };
        let version = get("MKL_Get_Version_String")
            .map(|f| {
                let mut buf = [0 as c_char; 256];
                // SAFETY: `void MKL_Get_Version_String(char *buf, int len)` writes at most len
                // bytes, NUL-terminated.
                let f: unsafe extern "C" fn(*mut c_char, c_int) = unsafe { std::mem::transmute(f) };
                unsafe { f(buf.as_mut_ptr(), 256) };
                // SAFETY: NUL-terminated within the buffer (the last byte is never written).
                unsafe { CStr::from_ptr(buf.as_ptr()) }
                    .to_string_lossy()
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|| "Intel MKL".into());
        return (version, format!("MKL_Set_Num_Threads({threads})"));
    }
    if let Some(set) = get("bli_thread_set_num_threads") {
        // SAFETY: `void bli_thread_set_num_threads(dim_t n)`, dim_t a 64-bit integer.
        let set: unsafe extern "C" fn(i64) = unsafe { std::mem::transmute(set) };
        unsafe { set(threads as i64) };
        let version = symbol_text(lib, naming, "bli_info_get_version_str").unwrap_or_default();
        return (
            format!("BLIS {version}").trim().to_string(),
            format!("bli_thread_set_num_threads({threads})"),
        );
    }
    (
        "a CBLAS of unknown vendor".into(),
        "its own default (no known call to set threads)".into(),
    )
}

/// The file a library name resolved to, from the process's maps (Linux).
fn resolved_path(name: &Path) -> Option<PathBuf> {
    if name.is_absolute() {
        return Some(name.to_path_buf());
    }
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let stem = name.file_name()?.to_string_lossy().into_owned();
    let stem = stem.split(".so").next()?.to_string();
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p).file_name().is_some_and(|f| {
                let f = f.to_string_lossy();
                f.starts_with(&stem) && (f.ends_with(".so") || f.contains(".so."))
            })
        })
        .map(PathBuf::from)
}

/// The loader's message with its cause ("cannot open shared object file: …").
fn loader_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_and_one_without_cblas_are_refused_with_the_reason() {
        let e = load(Some(Path::new("/nonexistent/libopenblas.so.0")), 1)
            .err()
            .unwrap();
        assert_eq!(e.exit(), crate::error::Exit::NoDevice);
        assert!(
            e.to_string().contains("cannot open shared object file"),
            "{e}"
        );
        // The C maths library exports no CBLAS.
        let e = load(Some(Path::new("libm.so.6")), 1).err().unwrap();
        assert_eq!(e.exit(), crate::error::Exit::NoDevice);
        assert!(e.to_string().contains("not a CBLAS library"), "{e}");
    }

    #[test]
    fn a_library_missing_one_of_the_calls_is_an_incomplete_cblas() {
        // The C library stands in for a CBLAS that lacks a call matbench makes.
        // SAFETY: loading the C library, already loaded in every process, runs nothing new.
        let lib = unsafe { Library::new("libc.so.6") }.unwrap();
        let plain = Naming {
            prefix: "",
            suffix: "",
        };
        let e = get::<Syrk<f64, c_int>>(&lib, plain, "cblas_dsyrk")
            .err()
            .unwrap();
        assert_eq!(e, "no cblas_dsyrk: an incomplete CBLAS");
        assert!(naming(&lib).is_err());
    }

    #[test]
    fn an_openblas_kernel_below_the_cpu_is_told_apart_from_one_as_good() {
        let Some((kernel, as_good)) = deserved_kernel() else {
            eprintln!("SKIPPED an_openblas_kernel_below_the_cpu…: this CPU has no AVX2");
            return;
        };
        assert!(as_good.contains(&kernel.to_lowercase().as_str()));
        for generic in ["prescott", "core2", "nehalem", "sandybridge", "atom"] {
            assert!(!as_good.contains(&generic), "{generic}");
        }
    }

    /// The distribution's OpenBLAS, which CI installs (`MATBENCH_REQUIRE_BLAS=1` there makes
    /// its absence a failure); elsewhere a machine without one says so and skips.
    #[test]
    fn the_machines_blas_computes_a_times_a_transposed() {
        let blas = match load(None, 2) {
            Ok(b) => b,
            Err(e) if std::env::var_os("MATBENCH_REQUIRE_BLAS").is_none() => {
                eprintln!("SKIPPED the_machines_blas_computes_a_times_a_transposed: {e}");
                return;
            }
            Err(e) => panic!("MATBENCH_REQUIRE_BLAS is set and {e}"),
        };
        assert!(blas.description.contains("LP64"), "{}", blas.description);
        let n = 5;
        let a: Vec<f64> = (0..n * n).map(|i| (i % 7) as f64 - 2.5).collect();
        let mut c = vec![0.0; n * n];
        f64::gemm(&blas, n, n, &a, &mut c);
        let mut upper = vec![0.0f32; n * n];
        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        f32::syrk(&blas, n, n, &a32, &mut upper);
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum();
                assert_eq!(c[i * n + j], want, "({i}, {j})");
                if j >= i {
                    assert_eq!(f64::from(upper[i * n + j]), want, "syrk ({i}, {j})");
                }
            }
        }
    }
}
