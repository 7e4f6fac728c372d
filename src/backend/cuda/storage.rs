//! A and C on the device in the run's storage type, and the one place that matches on it.
//!
//! In the style of candle's `Map1`/`Map2` over its storage enum: every step that touches A or
//! C is written once, generic over [`Element`], as a [`Map`]; [`Map::map`] is the only `match`
//! on [`Buffers`]. What differs between storage types (which cuBLAS routine, how many Philox
//! outputs per thread, which host matrix) lives on [`Element`] and its [`BlasElement`]
//! supertrait, so adding a storage type means one enum variant and one trait impl, not a new
//! arm at every call site.

#![deny(unsafe_code)]

use super::blas::BlasElement;
use super::driver;
use super::kernels::Kernels;
use crate::backend::HostMatrix;
use crate::error::Error;
use crate::model::dtype::DType;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits};
use std::sync::Arc;

/// A storage type of A and C on the device: f32 (f32 and tf32 runs), f64, or the 16-bit
/// patterns of bf16 and f16.
pub(super) trait Element:
    BlasElement + DeviceRepr + ValidAsZeroBits + Unpin + 'static
{
    /// Elements one Philox thread writes (four 32-bit outputs make two f64s).
    const PHILOX_PER_THREAD: u64;

    /// A copied back to the host, in the matching [`HostMatrix`] variant.
    fn host(v: Vec<Self>) -> HostMatrix;

    /// `--op syrk`: the first pass over C's upper triangle (f32 and f64 only).
    fn sum_upper(k: &Kernels) -> Result<&CudaFunction, Error>;
}

fn syrk_only_f32_f64() -> Error {
    Error::InvalidArgument("--op syrk runs in f32 or f64".into())
}

impl Element for f32 {
    const PHILOX_PER_THREAD: u64 = 4;

    fn host(v: Vec<Self>) -> HostMatrix {
        HostMatrix::F32(v)
    }

    fn sum_upper(k: &Kernels) -> Result<&CudaFunction, Error> {
        Ok(&k.sum_upper_f32)
    }
}

impl Element for f64 {
    const PHILOX_PER_THREAD: u64 = 2;

    fn host(v: Vec<Self>) -> HostMatrix {
        HostMatrix::F64(v)
    }

    fn sum_upper(k: &Kernels) -> Result<&CudaFunction, Error> {
        Ok(&k.sum_upper_f64)
    }
}

impl Element for u16 {
    const PHILOX_PER_THREAD: u64 = 4;

    fn host(v: Vec<Self>) -> HostMatrix {
        HostMatrix::Bits16(v)
    }

    fn sum_upper(_: &Kernels) -> Result<&CudaFunction, Error> {
        Err(syrk_only_f32_f64())
    }
}

/// A and C in the storage type of the run's dtype (tf32 runs store f32; bf16 and f16 runs
/// store their 16-bit patterns).
pub(super) enum Buffers {
    F32 {
        a: CudaSlice<f32>,
        c: CudaSlice<f32>,
    },
    F64 {
        a: CudaSlice<f64>,
        c: CudaSlice<f64>,
    },
    Half {
        a: CudaSlice<u16>,
        c: CudaSlice<u16>,
    },
}

/// `len` zeroed elements on `stream` (at least one, so no allocation is empty).
pub(super) fn zeros<T: DeviceRepr + ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    len: usize,
) -> Result<CudaSlice<T>, Error> {
    stream
        .alloc_zeros::<T>(len.max(1))
        .map_err(driver("allocating GPU memory"))
}

impl Buffers {
    /// A and C of `len` elements each, in `dtype`'s storage type.
    pub(super) fn new(stream: &Arc<CudaStream>, dtype: DType, len: usize) -> Result<Self, Error> {
        Ok(match dtype {
            DType::F64 => Buffers::F64 {
                a: zeros(stream, len)?,
                c: zeros(stream, len)?,
            },
            DType::F32 | DType::Tf32 => Buffers::F32 {
                a: zeros(stream, len)?,
                c: zeros(stream, len)?,
            },
            DType::Bf16 | DType::F16 => Buffers::Half {
                a: zeros(stream, len)?,
                c: zeros(stream, len)?,
            },
        })
    }
}

/// One step over A and C, written once for every storage type.
pub(super) trait Map: Sized {
    /// What the step returns.
    type Out;

    /// The step for storage type `T`.
    fn f<T: Element>(self, a: &mut CudaSlice<T>, c: &mut CudaSlice<T>) -> Result<Self::Out, Error>;

    /// Runs [`Map::f`] on `bufs` in whichever storage type they hold: the one dispatch.
    fn map(self, bufs: &mut Buffers) -> Result<Self::Out, Error> {
        match bufs {
            Buffers::F32 { a, c } => self.f(a, c),
            Buffers::F64 { a, c } => self.f(a, c),
            Buffers::Half { a, c } => self.f(a, c),
        }
    }
}
