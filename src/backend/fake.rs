//! A backend for tests of the run loop, the pipeline and the stopping rule, in the spirit of
//! hyperfine's `MockExecutor`: no faer, no CUDA, and a virtual clock, so what a test asserts
//! never depends on the machine's speed or load.
//!
//! It computes the real answer for small n (f64, the Philox matrix, plain loops), so
//! verification runs for real; it reports the matmul times it was given, cycling through them,
//! and advances its clock by each; and it can be told to corrupt its sum from some repetition
//! on, to exercise the failure path.

use crate::backend::{Backend, HostMatrix, Iteration};
use crate::error::Error;
use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::vocab::BackendKind;
use crate::philox::Uniform;
use crate::record::DeviceRecord;
use crate::verify::{VerificationData, flat_len};
use std::cell::Cell;

/// A fake device: see the module docs.
pub struct FakeBackend {
    device: DeviceRecord,
    /// Matmul times reported, in turn.
    times_s: Vec<Second>,
    /// Repetition (counting from 0, warm-up included) from which the sum is wrong.
    corrupt_from: Option<usize>,
    clock_s: Cell<Second>,
    calls: usize,
    n: usize,
    a: Vec<f64>,
    sum: f64,
    checks: Vec<f64>,
    /// Device time of its line sums as a pass of their own (`None`: it offers none).
    line_cost_s: Option<Second>,
    lines_on: bool,
    lines_fresh: bool,
    /// Its line reference and (exact) sums.
    lines: Vec<f64>,
}

impl FakeBackend {
    /// A fake that reports `times_s` as its matmul times, in turn.
    pub fn new(times_s: &[Second]) -> FakeBackend {
        FakeBackend {
            device: DeviceRecord {
                kind: "cpu".into(),
                name: "Fake device".into(),
                index: None,
                uuid: None,
                compute_capability: None,
                multiprocessors: None,
                memory_total_byte: 1 << 30,
                driver_version: None,
                cuda_driver_version: None,
                cublas_version: None,
                nvrtc_version: None,
                threads: Some(1),
                blas_library: None,
                engine_choice: None,
            },
            times_s: times_s.to_vec(),
            corrupt_from: None,
            clock_s: Cell::new(0.0),
            calls: 0,
            n: 0,
            a: Vec::new(),
            sum: 0.0,
            checks: Vec::new(),
            line_cost_s: None,
            lines_on: true,
            lines_fresh: false,
            lines: Vec::new(),
        }
    }

    /// Offers exact line sums, each repetition's costing `cost_s` of device time when on.
    pub fn with_line_sums(mut self, cost_s: Second) -> FakeBackend {
        self.line_cost_s = Some(cost_s);
        self
    }

    /// From repetition `rep` on (warm-up included, from 0), the sum is 1% too large.
    pub fn corrupt_from(mut self, rep: usize) -> FakeBackend {
        self.corrupt_from = Some(rep);
        self
    }

    /// Repetitions run so far, warm-up included.
    pub fn calls(&self) -> usize {
        self.calls
    }

    fn dot(&self, i: usize, j: usize) -> f64 {
        let n = self.n;
        (0..n).map(|k| self.a[i * n + k] * self.a[j * n + k]).sum()
    }
}

impl Backend for FakeBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn device(&self) -> &DeviceRecord {
        &self.device
    }

    fn math_mode(&self, dtype: DType) -> String {
        format!("{dtype}: fake, computed in f64 by plain loops")
    }

    fn prepare(&mut self, n: usize, _dtype: DType) -> Result<(), Error> {
        if n > 256 {
            return Err(Error::OutOfMemory(format!(
                "the fake backend computes n ≤ 256, not {n}"
            )));
        }
        self.n = n;
        self.a = vec![0.0; n * n];
        Ok(())
    }

    fn generate(&mut self, seed: u64) -> Result<Second, Error> {
        for (i, x) in self.a.iter_mut().enumerate() {
            *x = f64::uniform_at(seed, i as u64);
        }
        let n = self.n;
        self.sum = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| self.dot(i, j))
            .sum();
        self.clock_s.set(self.clock_s.get() + 1e-3);
        Ok(1e-3)
    }

    fn iterate(&mut self) -> Result<Iteration, Error> {
        let matmul_s = self.times_s[self.calls % self.times_s.len()];
        let wrong = self.corrupt_from.is_some_and(|from| self.calls >= from);
        self.calls += 1;
        self.clock_s.set(self.clock_s.get() + matmul_s + 1e-6);
        self.lines_fresh = self.line_cost_s.is_some() && self.lines_on;
        Ok(Iteration {
            matmul_s,
            reduce_s: 1e-6,
            lines_s: self.line_cost_s.filter(|_| self.lines_fresh),
            sum: if wrong { self.sum * 1.01 } else { self.sum },
        })
    }

    fn verification_data(&mut self, rows: &[usize]) -> Result<VerificationData<'_>, Error> {
        let n = self.n;
        let rows = crate::verify::usable_rows(rows, n);
        let mut flat = vec![0.0; flat_len(n)];
        for (k, sum) in flat[..n].iter_mut().enumerate() {
            *sum = (0..n).map(|i| self.a[i * n + k]).sum();
        }
        for (s, &r) in rows.iter().enumerate() {
            for j in 0..n {
                let value = self.dot(r, j);
                flat[n + s * n + j] = value;
                flat[n + (rows.len() + s) * n + j] = value;
            }
        }
        self.checks = flat;
        Ok(VerificationData::from_flat(&self.checks, n, &rows))
    }

    fn line_reference(&mut self) -> Option<(Vec<f64>, Option<String>)> {
        self.line_cost_s?;
        let n = self.n;
        self.lines = (0..n)
            .map(|i| (0..n).map(|j| self.dot(i, j)).sum())
            .collect();
        Some((self.lines.clone(), None))
    }

    fn set_line_sums(&mut self, on: bool) {
        self.lines_on = on;
    }

    fn line_sums(&self) -> Option<(&[f64], &[f64])> {
        self.lines_fresh
            .then_some((&self.lines[..], &self.lines[..]))
    }

    fn download_matrix(&mut self) -> Result<HostMatrix, Error> {
        Ok(HostMatrix::F64(self.a.clone()))
    }

    fn wall_clock_s(&self) -> Second {
        self.clock_s.get()
    }
}
