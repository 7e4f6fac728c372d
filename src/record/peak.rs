//! A GPU run's figures as shares of its datasheet peaks ([`crate::model::peak`]): the GEMM's
//! TFLOP/s against the peak of its arithmetic, the reduction's read of C against the memory
//! bandwidth.

use crate::model::Second;
use crate::model::dtype::DType;
use crate::model::peak;
use crate::model::vocab::MatOp;
use serde::{Deserialize, Serialize};

/// How close a GPU run came to what its datasheet promises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeakRecord {
    /// The datasheet model the GPU was matched to ("NVIDIA H200 SXM"); `null` when matbench's
    /// table does not know it (then `unknown` says so and no share is given).
    pub model: Option<String>,
    /// The arithmetic the GEMM is compared with ("FP32", "FP64 tensor core", …).
    pub precision: Option<String>,
    /// The datasheet's dense peak of that arithmetic, 10¹² FLOP/s.
    pub peak_tflop_per_s: Option<f64>,
    /// `matmul_tflop_per_s` / `peak_tflop_per_s` (0.79 is 79%).
    pub matmul_share: Option<f64>,
    /// The reduction's read of C, n² elements / median reduce time, 10¹² bytes/s.
    pub reduce_tbyte_per_s: f64,
    /// The datasheet's memory bandwidth, 10¹² bytes/s.
    pub memory_peak_tbyte_per_s: Option<f64>,
    /// `reduce_tbyte_per_s` / `memory_peak_tbyte_per_s`.
    pub reduce_share: Option<f64>,
    /// Where the peaks come from (the datasheet or whitepaper).
    pub source: Option<String>,
    /// Why no share is given (a GPU model not in the table).
    pub unknown: Option<String>,
}

impl PeakRecord {
    /// The shares of a run on the GPU the driver calls `name`: `dtype` at `matmul_tflop_per_s`,
    /// and a reduction reading C (all n² elements for a GEMM, the n·(n + 1)/2 of the one
    /// triangle a SYRK writes) in `reduce_median_s`.
    pub fn for_gpu(
        name: &str,
        (dtype, op, n): (DType, MatOp, usize),
        matmul_tflop_per_s: f64,
        reduce_median_s: Second,
    ) -> PeakRecord {
        let n_f = n as f64;
        let elements = match op {
            MatOp::Gemm => n_f * n_f,
            MatOp::Syrk => n_f * (n_f + 1.0) / 2.0,
        };
        let bytes = elements * dtype.c_byte() as f64;
        let reduce_tbyte_per_s = bytes / reduce_median_s.max(f64::MIN_POSITIVE) / 1e12;
        let Some(p) = peak::lookup(name) else {
            return PeakRecord {
                model: None,
                precision: None,
                peak_tflop_per_s: None,
                matmul_share: None,
                reduce_tbyte_per_s,
                memory_peak_tbyte_per_s: None,
                reduce_share: None,
                source: None,
                unknown: Some(format!(
                    "'{name}' is not in matbench's table of datasheet peaks (src/model/peak.rs): no share of peak"
                )),
            };
        };
        let Some((precision, peak_tflop_per_s)) = p.for_dtype(dtype) else {
            return PeakRecord {
                model: Some(p.model.to_string()),
                precision: None,
                peak_tflop_per_s: None,
                matmul_share: None,
                reduce_tbyte_per_s,
                memory_peak_tbyte_per_s: Some(p.memory_tbyte_per_s),
                reduce_share: Some(reduce_tbyte_per_s / p.memory_tbyte_per_s),
                source: Some(p.source.to_string()),
                unknown: Some(format!(
                    "the {} has no {dtype} tensor-core figure in matbench's table of datasheet peaks (src/model/peak.rs): no share of peak",
                    p.model
                )),
            };
        };
        PeakRecord {
            model: Some(p.model.to_string()),
            precision: Some(precision.name().to_string()),
            peak_tflop_per_s: Some(peak_tflop_per_s),
            matmul_share: Some(matmul_tflop_per_s / peak_tflop_per_s),
            reduce_tbyte_per_s,
            memory_peak_tbyte_per_s: Some(p.memory_tbyte_per_s),
            reduce_share: Some(reduce_tbyte_per_s / p.memory_tbyte_per_s),
            source: Some(p.source.to_string()),
            unknown: None,
        }
    }

    /// One line for people: `79.0% of the NVIDIA H200 SXM's 67.0 TFLOP/s FP32 peak; reduce
    /// 4.12 TB/s, 85.8% of 4.8 TB/s`, or why there is no share.
    pub fn summary_line(&self) -> String {
        let reduce = |share: Option<f64>| match (share, self.memory_peak_tbyte_per_s) {
            (Some(s), Some(m)) => format!(
                "reduce {:.2} TB/s, {:.1}% of {m} TB/s",
                self.reduce_tbyte_per_s,
                100.0 * s
            ),
            _ => format!("reduce {:.2} TB/s", self.reduce_tbyte_per_s),
        };
        match (
            &self.model,
            &self.precision,
            self.peak_tflop_per_s,
            self.matmul_share,
        ) {
            (Some(model), Some(precision), Some(peak), Some(share)) => format!(
                "{:.1}% of the {model}'s {peak} TFLOP/s {precision} peak; {}",
                100.0 * share,
                reduce(self.reduce_share)
            ),
            _ => format!(
                "{}; {}",
                self.unknown.as_deref().unwrap_or("no share of peak"),
                reduce(self.reduce_share)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_h200_run_is_a_share_of_its_own_peaks() {
        // The reference run of docs/performance.md: 37.907 ms at n = 10000, f32.
        let r = PeakRecord::for_gpu(
            "NVIDIA H200",
            (DType::F32, MatOp::Gemm, 10_000),
            52.76,
            0.1e-3,
        );
        assert_eq!(r.model.as_deref(), Some("NVIDIA H200 SXM"));
        assert_eq!(r.precision.as_deref(), Some("FP32"));
        assert!((r.matmul_share.unwrap() - 52.76 / 67.0).abs() < 1e-12);
        assert!(
            (r.reduce_tbyte_per_s - 4.0).abs() < 1e-9,
            "{}",
            r.reduce_tbyte_per_s
        );
        assert!((r.reduce_share.unwrap() - 4.0 / 4.8).abs() < 1e-9);
        let line = r.summary_line();
        assert!(
            line.starts_with("78.7% of the NVIDIA H200 SXM's 67 TFLOP/s FP32 peak; reduce 4.00 TB/s, 83.3% of 4.8 TB/s"),
            "{line}"
        );
    }

    #[test]
    fn an_unknown_model_gets_no_share_and_says_so() {
        let r = PeakRecord::for_gpu("NVIDIA A40", (DType::Bf16, MatOp::Gemm, 4096), 100.0, 1e-4);
        assert_eq!((r.model.clone(), r.matmul_share), (None, None));
        assert!(
            r.summary_line()
                .contains("'NVIDIA A40' is not in matbench's table")
        );
    }

    #[test]
    fn a_syrk_reduction_reads_one_triangle() {
        let gemm = PeakRecord::for_gpu("NVIDIA H200", (DType::F32, MatOp::Gemm, 1000), 50.0, 1e-5);
        let syrk = PeakRecord::for_gpu("NVIDIA H200", (DType::F32, MatOp::Syrk, 1000), 50.0, 1e-5);
        let ratio = syrk.reduce_tbyte_per_s / gemm.reduce_tbyte_per_s;
        assert!((ratio - 1001.0 / 2000.0).abs() < 1e-12, "{ratio}");
    }
}
