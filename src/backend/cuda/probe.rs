//! Is CUDA usable here? Checked before any cudarc call that would panic on a missing library
//! (cudarc's dynamic loading panics instead of returning an error), so a machine without a GPU
//! gets one clear sentence.

use crate::error::Error;
use cudarc::driver::{result, sys};

/// The CUDA major this build loads (`libcublas.so.N`, `libnvrtc.so.N`): the cudarc feature
/// chosen by matbench's `cuda-13` (default) or `cuda-12` feature. A driver older than this
/// major cannot run its libraries.
pub const CUDA_MAJOR: u32 = if cfg!(feature = "cuda-12") { 12 } else { 13 };

/// The oldest driver branch that runs CUDA `major` (NVIDIA's CUDA release notes).
fn minimum_driver(major: u32) -> &'static str {
    match major {
        12 => "R525",
        _ => "R580",
    }
}

/// The one-line reason a driver supporting CUDA `driver_version` (as `cuDriverGetVersion`
/// gives it, 12040 for 12.4) cannot run this build's CUDA `build_major` libraries; `None` when
/// it can.
pub fn driver_too_old(driver_version: i32, build_major: u32) -> Option<String> {
    let driver_major = u32::try_from(driver_version / 1000).unwrap_or(0);
    (driver_major < build_major).then(|| {
        format!(
            "the NVIDIA driver supports CUDA {}, older than the CUDA {build_major} libraries this \
             matbench loads (libcublas.so.{build_major}): update the driver to {} or newer, or use \
             matbench's CUDA {driver_major} build (README, \"Older drivers\")",
            format_cuda_version(driver_version),
            minimum_driver(build_major)
        )
    })
}

/// Libraries loaded by [`preload`] stay loaded for the life of the process, so cudarc's own
/// `dlopen` of the same name later is only a reference count.
static KEEP: std::sync::Mutex<Vec<libloading::Library>> = std::sync::Mutex::new(Vec::new());

/// Loads the first of cudarc's candidate file names for `lib` that exists and keeps it loaded.
/// Returns false when none loads. Loading the big CUDA libraries (cuBLAS maps ~0.5 GB) is part
/// of start-up, which is why it may run on a helper thread.
pub fn preload(lib: &str) -> bool {
    for name in cudarc::get_lib_name_candidates(lib) {
        // SAFETY: loading a library runs its initialisers; the CUDA libraries' have no
        // preconditions on the caller.
        if let Ok(handle) = unsafe { libloading::Library::new(&name) } {
            if let Ok(mut keep) = KEEP.lock() {
                keep.push(handle);
            }
            return true;
        }
    }
    false
}

/// The driver library, checked before any driver call.
pub fn check_driver() -> Result<(), Error> {
    if preload("cuda") {
        Ok(())
    } else {
        Err(Error::NoDevice(no_driver_message()))
    }
}

/// cuBLAS, checked (and loaded) before the handle is created.
pub fn check_cublas() -> Result<(), Error> {
    if preload("cublas") {
        Ok(())
    } else {
        Err(Error::NoDevice(missing_library(
            "cuBLAS",
            &format!("libcublas.so.{CUDA_MAJOR}"),
        )))
    }
}

/// NVRTC, checked (and loaded) before the kernels are compiled.
pub fn check_nvrtc() -> Result<(), Error> {
    if preload("nvrtc") {
        Ok(())
    } else {
        Err(Error::NoDevice(missing_library(
            "NVRTC",
            &format!("libnvrtc.so.{CUDA_MAJOR}"),
        )))
    }
}

/// Every library matbench needs for the GPU, in the order a user would fix them.
pub fn check_libraries() -> Result<(), Error> {
    check_driver()?;
    check_cublas()?;
    check_nvrtc()
}

fn no_driver_message() -> String {
    if crate::host::in_container() {
        "this container sees no NVIDIA driver (libcuda.so.1 is missing): start it with `docker run --gpus all …` (NVIDIA Container Toolkit), or run `matbench cpu N`".into()
    } else {
        "no NVIDIA driver found (libcuda.so.1 could not be loaded): install the NVIDIA driver, or run `matbench cpu N`".into()
    }
}

fn missing_library(what: &str, file: &str) -> String {
    format!(
        "the NVIDIA driver is present but {what} is not ({file} could not be loaded): install the CUDA {CUDA_MAJOR} libraries, put them on LD_LIBRARY_PATH, or use the Docker image"
    )
}

/// Describes a driver error by its CUDA name.
pub fn driver_error_name(e: &result::DriverError) -> String {
    e.error_name().map_or_else(
        |_| format!("{:?}", e.0),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Initialises the driver and counts the GPUs it sees.
pub fn device_count() -> Result<usize, Error> {
    check_driver()?;
    result::init().map_err(|e| {
        let name = driver_error_name(&e);
        match e.0 {
            sys::CUresult::CUDA_ERROR_NO_DEVICE => {
                let hint = if crate::host::in_container() { " (inside a container: start it with `--gpus all`)" } else { "" };
                Error::NoDevice(format!("the NVIDIA driver sees no GPU{hint}"))
            }
            _ => Error::NoDevice(format!("the NVIDIA driver could not start ({name}): is the driver installed and recent enough for CUDA {CUDA_MAJOR}?")),
        }
    })?;
    let mut version = 0;
    // SAFETY: writes one int; the driver library was checked present and initialised.
    if unsafe { sys::cuDriverGetVersion(&mut version) }
        .result()
        .is_ok()
        && let Some(why) = driver_too_old(version, CUDA_MAJOR)
    {
        return Err(Error::NoDevice(why));
    }
    let count = result::device::get_count().map_err(|e| {
        Error::NoDevice(format!("counting GPUs failed ({})", driver_error_name(&e)))
    })?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// Fails unless `index` names a GPU.
pub fn check_index(index: usize) -> Result<(), Error> {
    let count = device_count()?;
    if count == 0 {
        return Err(Error::NoDevice("the NVIDIA driver sees no GPU".into()));
    }
    if index >= count {
        return Err(Error::NoDevice(format!(
            "GPU {index} does not exist: this machine has {count} GPU{} (use --gpu 0{})",
            if count == 1 { "" } else { "s" },
            if count > 1 {
                format!("..{}", count - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

/// "13.0" from the driver API's 13000.
pub fn format_cuda_version(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// "13.0.2" from cuBLAS's 130002 (major·10000 + minor·100 + patch).
pub fn format_cublas_version(v: i32) -> String {
    format!("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100)
}

/// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints it.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        hex[0..4].concat(),
        hex[4..6].concat(),
        hex[6..8].concat(),
        hex[8..10].concat(),
        hex[10..16].concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_too_old_for_the_libraries_is_named_with_both_versions() {
        assert_eq!(driver_too_old(13000, 13), None);
        assert_eq!(driver_too_old(13020, 13), None);
        assert_eq!(driver_too_old(12080, 12), None);
        let why = driver_too_old(12040, 13).unwrap();
        assert!(
            why.contains("CUDA 12.4") && why.contains("CUDA 13 libraries"),
            "{why}"
        );
        assert!(
            why.contains("R580") && why.contains("CUDA 12 build"),
            "{why}"
        );
        let why = driver_too_old(11080, 12).unwrap();
        assert!(why.contains("CUDA 11.8") && why.contains("R525"), "{why}");
    }

    #[test]
    fn version_and_uuid_formats() {
        assert_eq!(format_cuda_version(13000), "13.0");
        assert_eq!(format_cuda_version(12080), "12.8");
        assert_eq!(format_cublas_version(130002), "13.0.2");
        let uuid = format_uuid(&[0xab; 16]);
        assert_eq!(uuid.len(), 40);
        assert!(uuid.starts_with("GPU-abababab-abab-"));
    }
}
