//! Opening a GPU: context, stream, cuBLAS handle, kernels, timing events and the device record.
//!
//! Everything here runs once per backend, in the start-up phase that `startup_steps` reports,
//! so it is kept apart from the per-iteration code in `mod.rs`. [`Gpu`] holds the handles that
//! the steps borrow while the run's buffers are borrowed mutably beside them; [`CudaBackend::new`]
//! is split into its steps so each stays short, in the same order and under the same step
//! names as before.

use super::kernels::{self, Compiled, Kernels};
use super::{CudaBackend, cublas, driver, probe, storage};
use crate::backend::MatOp;
use crate::error::Error;
use crate::model::Second;
use crate::record::DeviceRecord;
use cudarc::cublas::CudaBlas;
use cudarc::cublas::sys::cublasMath_t;
use cudarc::driver::{
    CudaContext, CudaEvent, CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits, sys,
};
use std::sync::Arc;
use std::time::Instant;

/// The handles of one opened GPU.
pub(super) struct Gpu {
    pub(super) ctx: Arc<CudaContext>,
    pub(super) stream: Arc<CudaStream>,
    /// Shared with the helper thread that warms cuBLAS up ([`super::steps::WarmUp`]).
    pub(super) blas: Arc<CudaBlas>,
    pub(super) kernels: Kernels,
    pub(super) events: [CudaEvent; 4],
    pub(super) multiprocessors: u32,
}

impl Gpu {
    pub(super) fn alloc<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        len: usize,
    ) -> Result<CudaSlice<T>, Error> {
        storage::zeros(&self.stream, len)
    }

    pub(super) fn elapsed(&self, from: usize, to: usize) -> Result<Second, Error> {
        let ms = self.events[from]
            .elapsed_ms(&self.events[to])
            .map_err(driver("reading an event timer"))?;
        Ok(f64::from(ms) / 1e3)
    }

    pub(super) fn record(&self, i: usize) -> Result<(), Error> {
        self.events[i]
            .record(&self.stream)
            .map_err(driver("recording an event"))
    }

    /// Waits for the stream; `what` names the work in the error.
    pub(super) fn sync_as(&self, what: &'static str) -> Result<(), Error> {
        self.stream.synchronize().map_err(driver(what))
    }

    pub(super) fn sync(&self) -> Result<(), Error> {
        self.sync_as("running the kernels")
    }
}

/// The start-up phase's named steps, each timed from the end of the one before.
struct Steps {
    list: Vec<(&'static str, Second)>,
    since: Instant,
}

impl Steps {
    fn step(&mut self, name: &'static str) {
        self.list.push((name, self.since.elapsed().as_secs_f64()));
        self.since = Instant::now();
    }
}

/// Compute capability and multiprocessor count of GPU `index`.
fn capability(index: usize) -> Result<(i32, i32, i32), Error> {
    let ordinal =
        i32::try_from(index).map_err(|_| Error::NoDevice(format!("GPU {index} does not exist")))?;
    let dev = cudarc::driver::result::device::get(ordinal).map_err(driver("opening the GPU"))?;
    let attribute = |a| {
        // SAFETY: `dev` is a valid device handle from cuDeviceGet; the call writes one int.
        unsafe { cudarc::driver::result::device::get_attribute(dev, a) }
            .map_err(driver("reading a device attribute"))
    };
    use sys::CUdevice_attribute as A;
    Ok((
        attribute(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
        attribute(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        attribute(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
    ))
}

/// The cuBLAS handle on `stream`, math mode set explicitly to CUBLAS_DEFAULT_MATH.
fn open_blas(stream: &Arc<CudaStream>) -> Result<CudaBlas, Error> {
    let blas = CudaBlas::new(stream.clone()).map_err(cublas("creating the cuBLAS handle"))?;
    // SAFETY: the handle is alive for the duration of the call (owned by `blas`).
    unsafe {
        cudarc::cublas::sys::cublasSetMathMode(*blas.handle(), cublasMath_t::CUBLAS_DEFAULT_MATH)
    }
    .result()
    .map_err(cublas("setting the cuBLAS math mode"))?;
    Ok(blas)
}

/// Four timing events (`CU_EVENT_DEFAULT`: timing on).
fn timing_events(ctx: &Arc<CudaContext>) -> Result<[CudaEvent; 4], Error> {
    let timing = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
    let event = || ctx.new_event(timing).map_err(driver("creating an event"));
    Ok([event()?, event()?, event()?, event()?])
}

/// GPU `index` as a run records it.
fn device_record(
    ctx: &Arc<CudaContext>,
    blas: &CudaBlas,
    index: usize,
    (major, minor, multiprocessors): (i32, i32, i32),
    nvrtc_version: Option<String>,
) -> Result<DeviceRecord, Error> {
    Ok(DeviceRecord {
        kind: "gpu".into(),
        name: ctx.name().map_err(driver("reading the GPU name"))?,
        index: Some(index),
        uuid: ctx
            .uuid()
            .ok()
            .map(|u| probe::format_uuid(&u.bytes.map(|b| b as u8))),
        compute_capability: Some(format!("{major}.{minor}")),
        multiprocessors: Some(u32::try_from(multiprocessors).unwrap_or(0)),
        memory_total_byte: ctx
            .total_mem()
            .map_err(driver("reading the GPU memory size"))? as u64,
        driver_version: crate::host::nvidia_driver_version(),
        cuda_driver_version: cuda_driver_version(),
        cublas_version: cublas_version(blas),
        nvrtc_version,
        threads: None,
        blas_library: None,
        engine_choice: None,
    })
}

impl CudaBackend {
    /// Opens GPU `index`: checks the libraries, creates the context and the cuBLAS handle (math
    /// mode set explicitly to CUBLAS_DEFAULT_MATH: true FP32 for Sgemm) and compiles the kernels.
    /// NVRTC needs no context, so the kernels compile on a helper thread meanwhile, and cuBLAS
    /// (the largest library) is loaded on another.
    pub fn new(index: usize) -> Result<CudaBackend, Error> {
        let mut steps = Steps {
            list: Vec::new(),
            since: Instant::now(),
        };
        let fault = crate::backend::fault::Fault::from_env()?;
        probe::check_index(index)?;
        let (major, minor, multiprocessors) = capability(index)?;
        steps.step("driver");
        // A shipped CUBIN needs no compile; any other architecture is compiled with NVRTC on a
        // helper thread while the context is created.
        let shipped = kernels::shipped(major, minor);
        let compiler = shipped
            .is_none()
            .then(|| std::thread::spawn(move || compile(major, minor)));
        let cublas_loader = std::thread::spawn(probe::check_cublas);
        let ctx = CudaContext::new(index).map_err(driver("creating the CUDA context"))?;
        let stream = ctx.default_stream();
        steps.step("context");
        cublas_loader
            .join()
            .map_err(|_| Error::device_msg("loading cuBLAS panicked"))??;
        let blas = open_blas(&stream)?;
        steps.step("cublas");
        let (kernels, kernel_form, compile_s) = match (shipped, compiler) {
            (Some(cubin), _) => {
                steps.step("kernels_wait");
                match Kernels::load(&ctx, Compiled::Shipped(cubin)) {
                    Ok(k) => (k, Compiled::Shipped(cubin).describe(major, minor), None),
                    // A driver that refuses the shipped CUBIN: compile for it, as before.
                    Err(refused) => {
                        let (compiled, compile_s) = compile(major, minor).map_err(|e| {
                            Error::device_msg(format!(
                                "the driver refused the shipped sm_{major}{minor} CUBIN ({refused}), and compiling the kernels instead failed: {e}"
                            ))
                        })?;
                        let form = format!(
                            "{} (the shipped CUBIN was refused: {refused})",
                            compiled.describe(major, minor)
                        );
                        (Kernels::load(&ctx, compiled)?, form, Some(compile_s))
                    }
                }
            }
            (None, Some(compiler)) => {
                let (compiled, compile_s) = compiler
                    .join()
                    .map_err(|_| Error::device_msg("compiling the kernels panicked"))??;
                let form = compiled.describe(major, minor);
                steps.step("kernels_wait");
                (Kernels::load(&ctx, compiled)?, form, Some(compile_s))
            }
            (None, None) => unreachable!("a compiler thread runs whenever no CUBIN is shipped"),
        };
        steps.step("kernels_load");
        let events = timing_events(&ctx)?;
        // NVRTC is loaded only when it compiled; a shipped CUBIN names the NVRTC that built it.
        let nvrtc = match compile_s {
            Some(_) => nvrtc_version(),
            None => Some(format!("{} (shipped CUBIN)", kernels::shipped_nvrtc())),
        };
        let device = device_record(&ctx, &blas, index, (major, minor, multiprocessors), nvrtc)?;
        steps.step("device_info");
        if let Some(compile_s) = compile_s {
            steps
                .list
                .push(("kernels_compile (helper thread)", compile_s));
        }
        let gpu = Gpu {
            ctx,
            stream,
            blas: Arc::new(blas),
            kernels,
            events,
            multiprocessors: u32::try_from(multiprocessors).unwrap_or(1).max(1),
        };
        Ok(CudaBackend {
            gpu,
            kernel_form,
            device,
            startup_steps: steps.list,
            op: MatOp::Gemm,
            fault,
            warmed: false,
            algo_search: None,
            algo_record: None,
            state: None,
        })
    }
}

/// NVRTC checked, then the kernels compiled for `sm_{major}{minor}`, and how long that took.
fn compile(major: i32, minor: i32) -> Result<(Compiled, f64), Error> {
    let t = Instant::now();
    probe::check_nvrtc()?;
    kernels::compile(major, minor).map(|k| (k, t.elapsed().as_secs_f64()))
}

fn cuda_driver_version() -> Option<String> {
    let mut v = 0;
    // SAFETY: writes one int; the driver library was checked present.
    unsafe { sys::cuDriverGetVersion(&mut v) }.result().ok()?;
    Some(probe::format_cuda_version(v))
}

fn cublas_version(blas: &CudaBlas) -> Option<String> {
    let mut v = 0;
    // SAFETY: the handle is alive (owned by `blas`); writes one int.
    unsafe { cudarc::cublas::sys::cublasGetVersion_v2(*blas.handle(), &mut v) }
        .result()
        .ok()?;
    Some(probe::format_cublas_version(v))
}

fn nvrtc_version() -> Option<String> {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: writes two ints; the NVRTC library was checked present.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .ok()?;
    Some(format!("{major}.{minor}"))
}

/// One GPU as `matbench info` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GpuInfo {
    /// The device, as a run would record it.
    pub device: DeviceRecord,
    /// Free device memory now.
    pub memory_free_byte: u64,
}

/// Every GPU the driver sees, each opened briefly (context creation included).
pub fn list_gpus() -> Result<Vec<GpuInfo>, Error> {
    let count = probe::device_count()?;
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let backend = CudaBackend::new(index)?;
        let (free, _) = backend
            .gpu
            .ctx
            .mem_get_info()
            .map_err(driver("reading free GPU memory"))?;
        out.push(GpuInfo {
            device: backend.device.clone(),
            memory_free_byte: free as u64,
        });
    }
    Ok(out)
}
