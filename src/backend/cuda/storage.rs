//! A and C on the device in the run's storage type, and the one place that matches on it.
//!
//! In the style of candle's `Map1`/`Map2` over its storage enum: every step that touches A or
//! C is written once, generic over [`Element`], as a [`Map`]; [`Map::map`] is the only `match`
//! on [`Buffers`]. What differs between storage types (which cuBLAS routine, how many Philox
//! outputs per thread, which host matrix, C's type) lives on [`Element`] and its
//! [`BlasElement`] supertrait, so adding a storage type means one enum variant and one trait
//! impl, not a new arm at every call site. A's storage type decides C's
//! ([`BlasElement::C`]): the same for every dtype but fp8, whose A is E4M3 and C bf16.

#![deny(unsafe_code)]

use super::blas::{BlasElement, syrk_only_f32_f64};
use super::driver;
use super::kernels::Kernels;
use crate::backend::HostMatrix;
use crate::error::Error;
use crate::model::dtype::DType;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits};
use std::sync::Arc;

/// A storage type of A on the device: f32 (f32 and tf32 runs), f64, the 16-bit patterns of
/// bf16 and f16, or the 8-bit patterns of E4M3 (fp8 runs).
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

impl Element for u8 {
    const PHILOX_PER_THREAD: u64 = 4;

    fn host(v: Vec<Self>) -> HostMatrix {
        HostMatrix::Bits8(v)
    }

    fn sum_upper(_: &Kernels) -> Result<&CudaFunction, Error> {
        Err(syrk_only_f32_f64())
    }
}

/// A and C in the storage types of the run's dtype (tf32 runs store f32; bf16 and f16 runs
/// store their 16-bit patterns; fp8 runs A's E4M3 bytes and C's bf16 patterns).
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
    Fp8 {
        a: CudaSlice<u8>,
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
            DType::Fp8 => Buffers::Fp8 {
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

    /// The step for A stored as `T` (and C as `T::C`).
    fn f<T: Element>(
        self,
        a: &mut CudaSlice<T>,
        c: &mut CudaSlice<T::C>,
    ) -> Result<Self::Out, Error>;

    /// Runs [`Map::f`] on `bufs` in whichever storage type they hold: the one dispatch.
    fn map(self, bufs: &mut Buffers) -> Result<Self::Out, Error> {
        match bufs {
            Buffers::F32 { a, c } => self.f(a, c),
            Buffers::F64 { a, c } => self.f(a, c),
            Buffers::Half { a, c } => self.f(a, c),
            Buffers::Fp8 { a, c } => self.f(a, c),
        }
    }
}
