//! Proving the answer right, the same way for every backend.
//!
//! Σ(A·Aᵀ) = Σₖ(Σᵢ Aᵢₖ)², so the column sums of A (computed in f64 by the backend, on its own
//! device) give an exact reference for s = Σ C in O(n²). A wrong GEMM that happens to preserve
//! the total is caught by the second check: whole sampled rows of C compared element by element
//! with f64 dot products of the rows of A. The diagonal is always among the checked elements,
//! so even A·A in place of A·Aᵀ (whose diagonal is about n/4, not n/3) fails.
//!
//! Tolerances come from the dtype's unit roundoff `u`: every product and partial sum is
//! non-negative, so rounding errors do not cancel the value, and a sum of n terms accumulated
//! in any order has a relative error that in practice stays well under `16·√n·u` (a random-walk
//! bound with a wide margin; the worst case `n·u` is never approached by blocked GEMMs).

use crate::model::Second;
use crate::model::dtype::DType;
use crate::record::{LineFailure, LineSums, Verification};

/// Most rows checked element by element (the GPU kernel's `MAX_SAMPLE_ROWS`).
pub const MAX_SAMPLE_ROWS: usize = 4;

/// What a backend hands over for verification, all in f64, borrowed from a buffer the
/// backend keeps (on the GPU, the page-locked copy of the device's results), so nothing is
/// copied or allocated on the way to the comparison.
#[derive(Clone, Debug, Default)]
pub struct VerificationData<'a> {
    /// Σᵢ Aᵢₖ for every column k.
    pub column_sums: &'a [f64],
    /// Sampled rows of C with their references.
    pub rows: Vec<SampledRow<'a>>,
    /// How the backend spent the time, step by step (GPU: `kernels` and `copy`, CUDA events).
    pub steps_s: Vec<(String, crate::model::Second)>,
}

/// One row of C as computed, and the same row from f64 dot products of A.
#[derive(Clone, Debug)]
pub struct SampledRow<'a> {
    /// Row index r.
    pub row: usize,
    /// C[r, 0..n] as the backend's GEMM produced it.
    pub computed: &'a [f64],
    /// Σₖ A[r,k]·A[j,k] in f64, for j in 0..n.
    pub reference: &'a [f64],
}

/// Length of the flat verification buffer for n: column sums, then the references, then the
/// computed values of up to [`MAX_SAMPLE_ROWS`] rows.
pub fn flat_len(n: usize) -> usize {
    (1 + 2 * MAX_SAMPLE_ROWS) * n
}

impl<'a> VerificationData<'a> {
    /// Reads the flat layout both backends fill: `flat[..n]` column sums, then for each of the
    /// `rows` its n references, then for each its n computed values.
    pub fn from_flat(flat: &'a [f64], n: usize, rows: &[usize]) -> VerificationData<'a> {
        let k = rows.len();
        if flat.len() < (1 + 2 * k) * n {
            return VerificationData::default();
        }
        let (column_sums, rest) = flat.split_at(n);
        let (reference, computed) = rest.split_at(k * n);
        let rows = rows
            .iter()
            .enumerate()
            .map(|(s, &row)| SampledRow {
                row,
                reference: &reference[s * n..(s + 1) * n],
                computed: &computed[s * n..(s + 1) * n],
            })
            .collect();
        VerificationData {
            column_sums,
            rows,
            steps_s: Vec::new(),
        }
    }
}

/// Relative tolerance for sums of `n` non-negative products in `dtype` (module docs): the
/// accumulation term `16·√n·u` of the accumulating precision (f64 for f64, f32 for the rest),
/// plus what the dtype rounds outside the accumulation:
/// - tf32: the tensor cores read A with a 10-bit mantissa, so each product may be off by
///   2·2⁻¹⁰ relative (truncation, the worst case), and so may their positive sum;
/// - bf16, f16: A is stored in the dtype, so the f64 reference uses the very same inputs, but C
///   is rounded to the dtype on output, and cuBLAS may round partial results to it too when it
///   splits the inner dimension (seen on the H200: 2·2⁻⁸ at n = 2049 in bf16); four unit
///   roundoffs of the dtype (4·2⁻⁸, 4·2⁻¹¹) allow for that and still fail a wrong product.
/// - fp8: A is stored in E4M3, which the reference reads exactly too; C is bf16 (as bf16's), and
///   the FP8 tensor cores' shorter accumulation moves every element by up to
///   [`FP8_ACCUMULATION`].
pub fn tolerance(dtype: DType, n: usize) -> f64 {
    let accumulate = |u: f64| 16.0 * (n.max(1) as f64).sqrt() * u;
    let u32 = DType::F32.unit_roundoff();
    match dtype {
        DType::F32 => accumulate(u32),
        DType::F64 => accumulate(DType::F64.unit_roundoff()),
        DType::Tf32 => 2.0 * 2f64.powi(-10) + accumulate(u32),
        DType::Bf16 | DType::F16 => 4.0 * dtype.unit_roundoff() + accumulate(u32),
        DType::Fp8 => 4.0 * dtype.unit_roundoff() + accumulate(u32) + FP8_ACCUMULATION,
    }
}

/// The rows to check: the first, the last and two drawn from the seed, without repeats.
pub fn sample_rows(n: usize, seed: u64) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let words = crate::philox::block(seed ^ 0x5EED_0FC0_FFEE, u64::MAX);
    let mut rows = vec![0, n - 1, words[0] as usize % n, words[1] as usize % n];
    rows.sort_unstable();
    rows.dedup();
    rows.truncate(MAX_SAMPLE_ROWS);
    rows
}

/// The rows of `rows` a backend checks for an n×n C: those inside it, at most
/// [`MAX_SAMPLE_ROWS`] (the layout of the flat verification buffer, [`flat_len`]).
pub fn usable_rows(rows: &[usize], n: usize) -> Vec<usize> {
    rows.iter()
        .copied()
        .filter(|&r| r < n)
        .take(MAX_SAMPLE_ROWS)
        .collect()
}

/// (value − reference) / |reference|; ±∞ where that is not a number (NaN, a zero reference).
fn signed_rel_error(value: f64, reference: f64) -> f64 {
    let e = rel_error(value, reference);
    if value < reference { -e } else { e }
}

fn rel_error(value: f64, reference: f64) -> f64 {
    let diff = (value - reference).abs();
    if reference == 0.0 {
        if diff == 0.0 { 0.0 } else { f64::INFINITY }
    } else if diff.is_nan() {
        f64::INFINITY
    } else {
        diff / reference.abs()
    }
}

/// Checks every repetition's sum and the sampled rows; never panics on odd data (NaN, empty
/// rows, wrong lengths all fail the check).
pub fn check(dtype: DType, n: usize, data: &VerificationData<'_>, sums: &[f64]) -> Verification {
    let tol = tolerance(dtype, n);
    let sum_reference: f64 = data.column_sums.iter().map(|c| c * c).sum();
    let sum_rel_error = sums
        .iter()
        .map(|&s| rel_error(s, sum_reference))
        .fold(if sums.is_empty() { f64::INFINITY } else { 0.0 }, f64::max);
    let mut elements_checked = 0u64;
    let mut max_element_rel_error: f64 = 0.0;
    let mut shapes_ok = data.column_sums.len() == n && !data.rows.is_empty();
    for row in &data.rows {
        shapes_ok &= row.computed.len() == n && row.reference.len() == n && row.row < n;
        for (&c, &r) in row.computed.iter().zip(row.reference) {
            max_element_rel_error = max_element_rel_error.max(rel_error(c, r));
            elements_checked += 1;
        }
    }
    let passed = shapes_ok && sum_rel_error <= tol && max_element_rel_error <= tol;
    Verification {
        passed,
        sum_reference,
        sum_rel_error,
        sum_tolerance: tol,
        rows_checked: data.rows.iter().map(|r| r.row).collect(),
        elements_checked,
        max_element_rel_error,
        element_tolerance: tol,
        line_sums: None,
    }
}

/// The bounds of a row or column sum's relative error ([`line_bounds`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineBounds {
    /// Every sum's relative error must stay under this.
    pub tolerance: f64,
    /// And within this of the repetition's median error: the share every line carries alike
    /// (the tensor cores' truncating accumulation) is left out, so what a fault does to a few
    /// lines stands out at any n.
    pub spread: f64,
}

/// Bounds of a row or column sum of C, from the errors its n elements carry. The tolerance:
///
/// - **f32, f64** (outputs rounded once from the exact products' accumulation): the rounding
///   errors have random signs and cancel: on f32 the row sums of numpy's OpenBLAS product were
///   within 0.36·u of A·c at n = 500 and 0.12·u at n = 4000 (u = 2⁻²⁴), shrinking with n. So
///   `64·u` bounds them with a wide margin.
/// - **bf16, f16, tf32** (tensor cores): each output carries its storage rounding (u_s = 2⁻⁸
///   for bf16, 2⁻¹¹ for f16; tf32 stores f32 but rounds its inputs to 10-bit significands,
///   u_t = 2⁻¹¹, and a row sum Σⱼ Σₖ A_ik·A_jk carries A_ik's rounding in every term, so it
///   cancels over k only). n independent roundings of at most u_s of elements of one sign: by
///   Hoeffding's inequality their sum's relative error exceeds `u_s·√(2·ln(2/p))/√n·ρ` with
///   probability under p; p = 10⁻¹⁵ and ρ = 2 (the largest element over the mean, the diagonal)
///   give `16·u_s/√n`. And the tensor cores' FP32 accumulation does *not* cancel: it truncates,
///   so every element of a row is low by about the same share, growing with n. Measured on the
///   H200 (2026-11-30, cuBLAS 13): 0.11–0.17·n·2⁻²⁴ in tf32 and f16, up to 0.28·n·2⁻²⁴ in bf16,
///   at n = 4096–16384, where f32's CUDA-core SGEMM stays at 2.3·u. So `n·2⁻²⁴` is added, 3.5×
///   or more above what was measured.
///
/// - **fp8**: C's rounding as bf16's, but at least `u_s/2` (below), plus [`FP8_ACCUMULATION`],
///   the shorter accumulation's share, which does not grow with n.
///
/// Each adds `16·√n·2⁻⁵³` for the f64 reference itself. One wrong element moves its sums by
/// about 1/n of them (1677·u at n = 10000 in f32); a zeroed 64×64 tile moves 64 of each by
/// 64/n, 6.4·10⁻³ at n = 10000 against bf16's bound of 1.2·10⁻³.
///
/// **The spread.** The accumulation's share is common to every line (each sums n elements low
/// by about the same share), so past n ≈ 20000 it would hide a tile's 64/n under the tolerance
/// in the tensor-core types. The spread leaves it out: each line's error must also stay within
/// the reference's term plus the rounding's of the repetition's median error. A tile moves 64
/// of the 2n lines and leaves the median where it was. The rounding's term:
///
/// - tf32: `16·u_t/√n` as above, but at least `u_t/8` (6.1·10⁻⁵): measured 1.0–1.5·10⁻⁵ from
///   the median at n = 4096–65536 (H200), flat in n where `16·u_t/√n` falls (3.05·10⁻⁵ at
///   65536).
/// - bf16, f16 and fp8's bf16 C: at large n the elements of one row lie within a unit or two in
///   the last place of each other (their relative width is about 0.9/√n, bf16's spacing 2⁻⁷),
///   so their roundings stop cancelling and a row's sum carries most of one shared rounding:
///   bf16 measured 1.4, 1.7, 2.4 and 5.8·10⁻⁴ from its median at n = 4096, 16384, 32768 and
///   65536, where `16·u_s/√n` is 2.4·10⁻⁴ (fp8's C: 5.7·10⁻⁴ there). So the term is at least
///   `u_s/2` (1.95·10⁻³ for bf16, 2.4·10⁻⁴ for f16, whose measured spread stayed under
///   1.6·10⁻⁵ to n = 65536).
///
/// So a zeroed 64×64 tile that hits every repetition alike stands out at every n in tf32 and
/// f16 (at n = 65536, 9.8·10⁻⁴ against f16's 2.4·10⁻⁴ and tf32's 6.1·10⁻⁵, where the
/// tolerance is 3.9·10⁻³: both caught on the H200), in bf16 and fp8 up to n ≈ 16384 (its
/// 64/n against `u_s/2` and the tolerance); a fault that hits one repetition is caught by the
/// bit-for-bit comparison ([`LineChecker`]) at any n. For f32 and f64, which have no common
/// share, the spread is the tolerance. It never exceeds the tolerance.
pub fn line_bounds(dtype: DType, n: usize) -> LineBounds {
    let root_n = (n.max(1) as f64).sqrt();
    let reference = 16.0 * root_n * DType::F64.unit_roundoff();
    let accumulate = n.max(1) as f64 * DType::F32.unit_roundoff();
    let u = dtype.unit_roundoff();
    let independent = 16.0 * u / root_n;
    let shared = independent.max(u / 2.0);
    // (the rounding's term in the tolerance, in the spread; the common share)
    let (rounding, spread, common) = match dtype {
        DType::F32 | DType::F64 => (64.0 * u, 64.0 * u, 0.0),
        DType::Tf32 => (independent, independent.max(u / 8.0), accumulate),
        DType::Bf16 | DType::F16 => (independent, shared, accumulate),
        DType::Fp8 => (shared, shared, FP8_ACCUMULATION),
    };
    let tolerance = reference + rounding + common;
    LineBounds {
        tolerance,
        spread: (reference + spread).min(tolerance),
    }
}

/// What fp8's accumulation may move every element of C by, relative, whatever n: `2⁻⁹`.
///
/// The products of E4M3 values are exact, but the tensor cores add them with fewer bits than
/// FP32 (about 14, DeepSeek-V3's report measured on Hopper) and cuBLASLt promotes each chunk of
/// the inner dimension to an FP32 accumulator (fast accumulation off). So every element is low
/// by about the same share, set by the chunk, not by n. Measured on the H200 (2026-11-30,
/// cuBLASLt 13.1, algorithm 66): Σ C 5.0–6.1·10⁻⁴ and every row and column sum within
/// 5.5–7.1·10⁻⁴ of the exact reference at n = 2048–20480, flat in n. `2⁻⁹` = 1.95·10⁻³ is 2.7×
/// the largest; an accumulation with fewer bits still, on another GPU or algorithm, would show
/// as a failed check, not pass unseen.
pub const FP8_ACCUMULATION: f64 = 1.0 / 512.0;

/// The reference of every row and column sum, A·c with c the column sums of A, in f64 (O(n²)),
/// for a row-major n×n A given element by element.
pub fn line_reference(n: usize, a: impl Fn(usize) -> f64 + Sync) -> Vec<f64> {
    use rayon::prelude::*;
    let c: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|k| (0..n).map(|i| a(i * n + k)).sum())
        .collect();
    (0..n)
        .into_par_iter()
        .map(|i| (0..n).map(|k| a(i * n + k) * c[k]).sum())
        .collect()
}

/// Most rows or columns a failure names.
const NAMED: usize = 16;
/// Most failing repetitions kept in the record.
const FAILURES_KEPT: usize = 16;

/// The running check of every repetition's row and column sums against [`line_reference`]
/// and, where the backend's product is deterministic, against each other bit for bit.
///
/// **Bit for bit.** An unchanged C gives the same sums, bits and all, in every repetition
/// (the sums are added in a fixed order on every backend that claims this). So the first
/// repetition that passes the tolerance becomes the fingerprint, and every later one must
/// match it exactly: a fault far under the tolerance (one element in bf16) still changes its
/// row's sum. If most repetitions compared differ from the fingerprint and agree with each
/// other, it was the fingerprint's repetition that was hit, and it is the one named.
#[derive(Debug)]
pub struct LineChecker {
    reference: Vec<f64>,
    spread: f64,
    record: LineSums,
    bitwise: Option<Bitwise>,
}

/// The bit-for-bit comparison's state.
#[derive(Debug)]
struct Bitwise {
    /// The fingerprint's repetition and its sums' bits (rows, then columns).
    first: Option<(u32, bool, Vec<u64>)>,
    /// Repetitions compared with it.
    compared: u32,
    /// Those that differed.
    differing: u32,
    /// The first of them (lines named against the fingerprint).
    kept: Vec<LineFailure>,
    /// The hash of the differing repetitions' bits while they all agree; `None` once two
    /// disagree (or before any differed).
    agreed: Option<u64>,
}

impl LineChecker {
    /// A checker against `reference` with relative `bounds`; `bitwise` where the backend's
    /// product and sums are deterministic.
    pub fn new(
        reference: Vec<f64>,
        bounds: LineBounds,
        injected_fault: Option<String>,
        bitwise: bool,
    ) -> Self {
        LineChecker {
            reference,
            spread: bounds.spread,
            record: LineSums {
                repetitions_checked: 0,
                tolerance: bounds.tolerance,
                max_rel_error: 0.0,
                failed_repetitions: 0,
                failures: Vec::new(),
                injected_fault,
                bitwise_compared: bitwise,
                median_s: None,
                share_of_matmul: None,
                checked_every: None,
                budget_share: None,
                spread: Some(bounds.spread),
                max_spread: Some(0.0),
            },
            bitwise: bitwise.then_some(Bitwise {
                first: None,
                compared: 0,
                differing: 0,
                kept: Vec::new(),
                agreed: None,
            }),
        }
    }

    /// Checks repetition `repetition` (from 1; `warmup` if it was one): its row and column sums,
    /// each within the tolerance and within the spread of the repetition's median error
    /// ([`LineBounds`]). Sums of the wrong length fail every line.
    pub fn check(&mut self, repetition: u32, warmup: bool, rows: &[f64], columns: &[f64]) {
        let (tol, spread) = (self.record.tolerance, self.spread);
        let reference = &self.reference;
        let errors = |sums: &[f64]| -> Option<Vec<f64>> {
            (sums.len() == reference.len()).then(|| {
                sums.iter()
                    .zip(reference)
                    .map(|(&s, &r)| signed_rel_error(s, r))
                    .collect()
            })
        };
        let (row_errors, column_errors) = (errors(rows), errors(columns));
        let mut finite: Vec<f64> = row_errors
            .iter()
            .chain(&column_errors)
            .flatten()
            .copied()
            .filter(|e| e.is_finite())
            .collect();
        let median = crate::model::stats::median(&mut finite).unwrap_or(0.0);
        // (largest |error|, largest distance from the median)
        let mut worst = (0f64, 0f64);
        let mut outside = |errors: Option<Vec<f64>>| -> Vec<usize> {
            let Some(errors) = errors else {
                worst = (f64::INFINITY, f64::INFINITY);
                return (0..reference.len()).collect();
            };
            errors
                .iter()
                .enumerate()
                .filter_map(|(i, &e)| {
                    let off = (e - median).abs();
                    worst = (worst.0.max(e.abs()), worst.1.max(off));
                    (e.abs() > tol || off > spread).then_some(i)
                })
                .collect()
        };
        let bad_rows = outside(row_errors);
        let bad_columns = outside(column_errors);
        let r = &mut self.record;
        r.repetitions_checked += 1;
        r.max_rel_error = r.max_rel_error.max(worst.0);
        r.max_spread = r.max_spread.map(|m| m.max(worst.1));
        if bad_rows.is_empty() && bad_columns.is_empty() {
            if let Some(b) = self.bitwise.as_mut() {
                b.compare(repetition, warmup, rows, columns);
            }
            return;
        }
        r.failed_repetitions += 1;
        if r.failures.len() < FAILURES_KEPT {
            r.failures.push(failure(
                (repetition, warmup),
                bad_rows,
                bad_columns,
                (worst.0, Some(worst.1)),
                false,
            ));
        }
    }

    /// What the record keeps; `costs` are the measured repetitions' (line sums, matmul)
    /// device times, where the sums are a step of their own.
    pub fn finish(self, costs: &[(Second, Second)]) -> LineSums {
        let mut record = self.record;
        if let Some(b) = self.bitwise {
            let (count, odd) = b.odd_ones();
            record.failed_repetitions += count;
            record.failures.extend(odd);
            record.failures.sort_by_key(|f| f.repetition);
            record.failures.truncate(FAILURES_KEPT);
        }
        let lines: Vec<Second> = costs.iter().map(|c| c.0).collect();
        let matmul: Vec<Second> = costs.iter().map(|c| c.1).collect();
        if let (Some(l), Some(m)) = (
            crate::model::stats::Summary::from_samples(&lines),
            crate::model::stats::Summary::from_samples(&matmul),
        ) {
            record.median_s = Some(l.median_s);
            record.share_of_matmul = Some(l.median_s / m.median_s.max(f64::MIN_POSITIVE));
        }
        record
    }
}

/// A failing repetition as the record keeps it: the first [`NAMED`] rows and columns, and how
/// many in all.
fn failure(
    (repetition, warmup): (u32, bool),
    rows: Vec<usize>,
    columns: Vec<usize>,
    (max_rel_error, max_spread): (f64, Option<f64>),
    bitwise: bool,
) -> LineFailure {
    LineFailure {
        repetition,
        warmup,
        rows_failed: u32::try_from(rows.len()).unwrap_or(u32::MAX),
        columns_failed: u32::try_from(columns.len()).unwrap_or(u32::MAX),
        rows: rows.into_iter().take(NAMED).collect(),
        columns: columns.into_iter().take(NAMED).collect(),
        max_rel_error,
        max_spread,
        bitwise,
    }
}

/// The bits of a repetition's sums, rows then columns.
fn bits(rows: &[f64], columns: &[f64]) -> Vec<u64> {
    rows.iter().chain(columns).map(|v| v.to_bits()).collect()
}

impl Bitwise {
    fn compare(&mut self, repetition: u32, warmup: bool, rows: &[f64], columns: &[f64]) {
        let now = bits(rows, columns);
        let Some((_, _, first)) = &self.first else {
            self.first = Some((repetition, warmup, now));
            return;
        };
        self.compared += 1;
        if *first == now {
            return;
        }
        let n = rows.len();
        let differ = |range: std::ops::Range<usize>| -> Vec<usize> {
            range
                .filter(|&i| first.get(i) != now.get(i))
                .map(|i| i % n.max(1))
                .collect()
        };
        let (bad_rows, bad_columns) = (differ(0..n), differ(n..now.len().max(first.len())));
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            now.hash(&mut h);
            h.finish()
        };
        self.agreed = match (self.differing, self.agreed) {
            (0, _) => Some(hash),
            (_, Some(h)) if h == hash => Some(h),
            _ => None,
        };
        self.differing += 1;
        if self.kept.len() < FAILURES_KEPT {
            let failed = failure(
                (repetition, warmup),
                bad_rows,
                bad_columns,
                (0.0, None),
                true,
            );
            self.kept.push(failed);
        }
    }

    /// The repetitions whose sums were not the same bits as the others', and how many.
    fn odd_ones(self) -> (u32, Vec<LineFailure>) {
        let Some((first_rep, first_warmup, _)) = self.first else {
            return (0, Vec::new());
        };
        let most_differ = self.differing >= 2 && 2 * self.differing > self.compared;
        if most_differ && self.agreed.is_some() {
            // every other repetition agrees: the fingerprint's was the odd one
            return match self.kept.into_iter().next() {
                Some(mut f) => {
                    f.repetition = first_rep;
                    f.warmup = first_warmup;
                    (1, vec![f])
                }
                None => (0, Vec::new()),
            };
        }
        (self.differing, self.kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sums_catch_and_place_a_wrong_element_in_any_repetition() {
        let reference = vec![10.0, 20.0, 30.0];
        let bounds = line_bounds(DType::F32, 3);
        assert!(bounds.tolerance < 5e-6 && bounds.spread == bounds.tolerance);
        let mut checker = LineChecker::new(reference.clone(), bounds, None, false);
        checker.check(1, true, &reference, &reference);
        let mut rows = reference.clone();
        rows[1] *= 1.0 + 1e-4; // one element of row 1 off by 1/n of the row's sum, roughly
        let mut cols = reference.clone();
        cols[2] *= 1.0 - 1e-4;
        checker.check(2, false, &rows, &cols);
        checker.check(3, false, &reference[..2], &reference); // a short vector fails every line
        let r = checker.finish(&[]);
        assert_eq!((r.repetitions_checked, r.failed_repetitions), (3, 2));
        assert_eq!((r.median_s, r.share_of_matmul), (None, None));
        let f = &r.failures[0];
        assert_eq!((f.repetition, f.warmup), (2, false));
        assert_eq!((f.rows.clone(), f.columns.clone()), (vec![1], vec![2]));
        assert_eq!(
            (r.failures[1].rows_failed, r.failures[1].columns_failed),
            (3, 0)
        );
        assert!(r.failures[1].max_rel_error.is_infinite());
        let text = r.summary();
        assert!(text.starts_with("row/column sums FAILED in 2 of 3 repetitions, first repetition 2: rows 1, columns 2"), "{text}");
    }

    #[test]
    fn line_tolerances_leave_room_for_rounding_and_catch_a_zeroed_tile() {
        for &dtype in <DType as clap::ValueEnum>::value_variants() {
            for n in [256usize, 4096, 10_000, 16_384, 65_536] {
                let LineBounds {
                    tolerance: tol,
                    spread,
                } = line_bounds(dtype, n);
                // a zeroed 64×64 tile moves 64 row sums by 64/n of them
                let tile = 64.0 / n as f64;
                let storage = match dtype {
                    DType::F32 | DType::F64 => dtype.unit_roundoff(),
                    _ => dtype.unit_roundoff() / (n as f64).sqrt(),
                };
                assert!(tol > 8.0 * storage, "{dtype} n={n}: {tol:e}");
                // what the H200 measured, with room: 0.28·n·2⁻²⁴ (bf16, n = 16384); fp8
                // 7.1·10⁻⁴ at every n from 2048 to 20480
                match dtype {
                    DType::F32 | DType::F64 => {}
                    DType::Fp8 => assert!(tol > 2.5 * 7.1e-4, "{dtype} n={n}"),
                    _ => assert!(
                        tol > 3.5 * 0.28 * n as f64 * 2f64.powi(-24),
                        "{dtype} n={n}"
                    ),
                }
                // fp8's accumulation share and C's shared rounding leave a 64×64 tile room up to
                // n = 8192 only
                let (room, up_to) = if dtype == DType::Fp8 {
                    (1.5, 8192)
                } else {
                    (2.5, 16_384)
                };
                if n <= up_to {
                    assert!(tile > room * tol, "{dtype} n={n}: tile {tile:e} vs {tol:e}");
                }
                // without the common share, a tile stands out at every n in tf32 and f16, and
                // in bf16 and fp8 as long as C's shared rounding lets it
                assert!(spread > 8.0 * storage && spread <= tol, "{dtype} n={n}");
                if !matches!(dtype, DType::Bf16 | DType::Fp8) || n <= 8192 {
                    assert!(
                        tile > 3.0 * spread,
                        "{dtype} n={n}: tile {tile:e} vs {spread:e}"
                    );
                }
                // what the H200 measured from the median (bf16 n = 65536: 5.8·10⁻⁴)
                if matches!(dtype, DType::Bf16 | DType::Fp8) {
                    assert!(
                        spread > 3.0 * 5.8e-4 || spread == tol,
                        "{dtype} n={n}: {spread:e} {tol:e}"
                    );
                }
            }
        }
        // one zeroed element (1/n of its sums) is caught in f32 and f64
        for n in [1000usize, 10_000, 65_536] {
            for dtype in [DType::F32, DType::F64] {
                assert!(
                    1.0 / n as f64 > 3.0 * line_bounds(dtype, n).tolerance,
                    "{dtype} {n}"
                );
            }
        }
    }

    /// Every line low by the same share (the tensor cores' truncating accumulation) passes; a
    /// tile that moves a few lines by less than the tolerance, in every repetition alike (so
    /// the bitwise comparison sees nothing), fails on the spread and is named.
    #[test]
    fn a_fault_under_the_common_share_stands_out_from_the_median() {
        let n = 65_536;
        let bounds = line_bounds(DType::F16, n);
        let common = -0.6 * (bounds.tolerance - bounds.spread);
        let reference: Vec<f64> = (0..n).map(|i| 1000.0 + (i % 97) as f64).collect();
        // rounding noise within a third of the spread, alternating in sign
        let computed = |tile: bool| -> Vec<f64> {
            reference
                .iter()
                .enumerate()
                .map(|(i, &r)| {
                    let noise = if i % 2 == 0 { 1.0 } else { -1.0 } * bounds.spread / 3.0;
                    let hit = if tile && (100..164).contains(&i) {
                        -64.0 / n as f64
                    } else {
                        0.0
                    };
                    r * (1.0 + common + noise + hit)
                })
                .collect()
        };
        let mut checker = LineChecker::new(reference.clone(), bounds, None, true);
        let clean = computed(false);
        checker.check(1, true, &clean, &clean);
        let r = checker.finish(&[]);
        assert_eq!(r.failed_repetitions, 0, "{}", r.summary());
        assert!(r.max_spread.unwrap() < bounds.spread, "{r:?}");
        assert!(
            r.summary().contains("of their repetition's median"),
            "{}",
            r.summary()
        );
        let mut checker = LineChecker::new(reference.clone(), bounds, None, true);
        let hit = computed(true);
        for rep in 1..=3 {
            checker.check(rep, rep == 1, &hit, &clean);
        }
        let r = checker.finish(&[]);
        assert_eq!(r.failed_repetitions, 3, "{}", r.summary());
        let f = &r.failures[0];
        assert!(
            f.max_rel_error < bounds.tolerance,
            "under the tolerance: {f:?}"
        );
        assert_eq!((f.rows_failed, f.columns_failed), (64, 0));
        assert_eq!(f.rows[0], 100);
        assert!(
            r.summary().contains("from the repetition's median error"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn repetitions_are_compared_bit_for_bit_and_the_odd_one_is_named() {
        let reference: Vec<f64> = vec![10.0, 20.0, 30.0];
        let tol = LineBounds {
            tolerance: 1e-3,
            spread: 1e-3,
        };
        let nudged = |i: usize| {
            let mut v = reference.clone();
            v[i] = f64::from_bits(v[i].to_bits() + 1); // far within the bound
            v
        };
        // repetition 3 differs in row 1 and column 2: named, though within the bound
        let mut checker = LineChecker::new(reference.clone(), tol, None, true);
        for rep in 1..=5 {
            let (rows, cols) = if rep == 3 {
                (nudged(1), nudged(2))
            } else {
                (reference.clone(), reference.clone())
            };
            checker.check(rep, rep == 1, &rows, &cols);
        }
        let r = checker.finish(&[(1e-4, 1e-2), (3e-4, 3e-2), (2e-4, 2e-2)]);
        assert!(r.bitwise_compared);
        assert_eq!(r.failed_repetitions, 1);
        let f = &r.failures[0];
        assert!(f.bitwise && f.repetition == 3, "{f:?}");
        assert_eq!((f.rows.clone(), f.columns.clone()), (vec![1], vec![2]));
        assert_eq!(r.median_s, Some(2e-4));
        assert!((r.share_of_matmul.unwrap() - 0.01).abs() < 1e-12);
        assert!(r.summary().contains("not the same bits"), "{}", r.summary());
        // repetition 1 was hit: every other one agrees against it, so it is the one named
        let mut checker = LineChecker::new(reference.clone(), tol, None, true);
        checker.check(1, true, &nudged(0), &reference);
        for rep in 2..=4 {
            checker.check(rep, false, &reference, &reference);
        }
        let r = checker.finish(&[]);
        assert_eq!(r.failed_repetitions, 1);
        assert_eq!((r.failures[0].repetition, r.failures[0].warmup), (1, true));
        assert_eq!(r.failures[0].rows, vec![0]);
        // identical repetitions pass; without `bitwise` a difference within the bound passes
        let mut checker = LineChecker::new(reference.clone(), tol, None, true);
        for rep in 1..=3 {
            checker.check(rep, false, &reference, &reference);
        }
        let r = checker.finish(&[]);
        assert_eq!(r.failed_repetitions, 0);
        assert!(
            r.summary().contains("the same bits in each"),
            "{}",
            r.summary()
        );
        let mut checker = LineChecker::new(reference.clone(), tol, None, false);
        checker.check(1, false, &reference, &reference);
        checker.check(2, false, &nudged(1), &reference);
        assert_eq!(checker.finish(&[]).failed_repetitions, 0);
    }

    /// A small A's flat verification buffer (exact products, naive f64) and Σ(A·Aᵀ).
    fn flat_for(a: &[f64], n: usize, rows: &[usize]) -> (Vec<f64>, f64) {
        let dot = |r: usize, j: usize| (0..n).map(|k| a[r * n + k] * a[j * n + k]).sum::<f64>();
        let mut flat: Vec<f64> = (0..n).map(|k| (0..n).map(|i| a[i * n + k]).sum()).collect();
        for _ in 0..2 {
            for &r in rows {
                flat.extend((0..n).map(|j| dot(r, j)));
            }
        }
        let total = (0..n)
            .flat_map(|r| (0..n).map(move |j| (r, j)))
            .map(|(r, j)| dot(r, j))
            .sum();
        (flat, total)
    }

    fn matrix(n: usize) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        <f64 as crate::philox::Uniform>::fill(3, 0, &mut a);
        a
    }

    #[test]
    fn identity_sum_of_aat_equals_sum_of_squared_column_sums() {
        let n = 17;
        let (flat, total) = flat_for(&matrix(n), n, &[0, 16]);
        let v = check(
            DType::F64,
            n,
            &VerificationData::from_flat(&flat, n, &[0, 16]),
            &[total],
        );
        assert!(v.passed, "{v:?}");
        assert!(v.sum_rel_error < 1e-14);
        assert_eq!(v.elements_checked, 34);
    }

    #[test]
    fn a_wrong_sum_fails() {
        let n = 17;
        let (flat, total) = flat_for(&matrix(n), n, &[0]);
        let data = VerificationData::from_flat(&flat, n, &[0]);
        let v = check(DType::F32, n, &data, &[total, total * (1.0 + 1e-3)]);
        assert!(!v.passed);
        assert!(v.sum_rel_error > 9e-4);
    }

    #[test]
    fn a_wrong_element_fails_and_nan_fails() {
        let n = 9;
        let rows = [0, 4];
        let (mut flat, total) = flat_for(&matrix(n), n, &rows);
        // computed values of the second row start at n + 2n + n
        flat[4 * n + 3] *= 1.01;
        assert!(
            !check(
                DType::F32,
                n,
                &VerificationData::from_flat(&flat, n, &rows),
                &[total]
            )
            .passed
        );
        flat[4 * n + 3] = f64::NAN;
        let v = check(
            DType::F32,
            n,
            &VerificationData::from_flat(&flat, n, &rows),
            &[total],
        );
        assert!(!v.passed && v.max_element_rel_error.is_infinite());
        assert!(
            !check(
                DType::F32,
                n,
                &VerificationData::from_flat(&flat, n, &rows),
                &[f64::NAN]
            )
            .passed
        );
    }

    #[test]
    fn a_times_a_instead_of_a_times_a_transposed_fails() {
        let n = 64;
        let a = matrix(n);
        let (mut flat, total) = flat_for(&a, n, &[5]);
        for j in 0..n {
            flat[2 * n + j] = (0..n).map(|k| a[5 * n + k] * a[k * n + j]).sum();
        }
        assert!(
            !check(
                DType::F32,
                n,
                &VerificationData::from_flat(&flat, n, &[5]),
                &[total]
            )
            .passed
        );
    }

    #[test]
    fn a_short_buffer_gives_no_data_and_fails() {
        let flat = vec![1.0; 10];
        let data = VerificationData::from_flat(&flat, 4, &[0, 3]);
        assert!(data.rows.is_empty() && data.column_sums.is_empty());
        assert!(!check(DType::F32, 4, &data, &[1.0]).passed);
    }

    #[test]
    fn missing_data_fails() {
        let v = check(DType::F32, 4, &VerificationData::default(), &[]);
        assert!(!v.passed);
    }

    #[test]
    fn sample_rows_are_distinct_in_range_and_include_both_ends() {
        for n in [1usize, 2, 3, 1000] {
            let rows = sample_rows(n, 99);
            assert!(rows.iter().all(|&r| r < n));
            assert!(rows.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(rows[0], 0);
            assert_eq!(*rows.last().unwrap(), n - 1);
        }
        assert_eq!(sample_rows(1000, 1), sample_rows(1000, 1));
    }

    #[test]
    fn reduced_precisions_allow_their_rounding_and_no_more() {
        let n = 10_000;
        assert!(tolerance(DType::Tf32, n) > 1.9e-3 && tolerance(DType::Tf32, n) < 2.2e-3);
        assert!(tolerance(DType::Bf16, n) > 1.56e-2 && tolerance(DType::Bf16, n) < 1.58e-2);
        assert!(tolerance(DType::F16, n) > 1.9e-3 && tolerance(DType::F16, n) < 2.1e-3);
        assert!(tolerance(DType::F32, n) < tolerance(DType::F16, n));
    }

    #[test]
    fn tolerances_scale_with_precision() {
        assert!(tolerance(DType::F64, 10_000) < 1e-12);
        let f32_tol = tolerance(DType::F32, 10_000);
        assert!(f32_tol > 1e-5 && f32_tol < 1e-4, "{f32_tol}");
    }
}
