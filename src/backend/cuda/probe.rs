//! Is CUDA usable here? Checked before any cudarc call that would panic on a missing library
//! (cudarc's dynamic loading panics instead of returning an error), so a machine without a GPU
//! gets one clear sentence.

use crate::error::Error;
use cudarc::driver::{result, sys};

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
            "libcublas.so.13",
        )))
    }
}

/// NVRTC, checked (and loaded) before the kernels are compiled.
pub fn check_nvrtc() -> Result<(), Error> {
    if preload("nvrtc") {
        Ok(())
    } else {
        Err(Error::NoDevice(missing_library("NVRTC", "libnvrtc.so.13")))
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
        "the NVIDIA driver is present but {what} is not ({file} could not be loaded): install the CUDA 13 libraries, put them on LD_LIBRARY_PATH, or use the Docker image"
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
            _ => Error::NoDevice(format!("the NVIDIA driver could not start ({name}): is the driver installed and recent enough for CUDA 13?")),
        }
    })?;
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
    fn version_and_uuid_formats() {
        assert_eq!(format_cuda_version(13000), "13.0");
        assert_eq!(format_cuda_version(12080), "12.8");
        assert_eq!(format_cublas_version(130002), "13.0.2");
        let uuid = format_uuid(&[0xab; 16]);
        assert_eq!(uuid.len(), 40);
        assert!(uuid.starts_with("GPU-abababab-abab-"));
    }
}
