//! `--check`: is this GPU healthy? The verdict is written into the run's record (so `report`
//! can name the machines that failed it) and ends the process with exit 7 when it fails.
//!
//! Reasons, each one line naming the GPU, the figure and the limit: a wrong answer; a GEMM
//! below the floor share of its datasheet peak (`--min-share`, for sizes that can reach it);
//! slower than its siblings by more than `--slow-margin` (several GPUs at once); a counter
//! that means a bad card (uncorrectable ECC errors, a failed or pending row remap, a PCIe link
//! below its maximum under load, a critical Xid error). A GPU another process used during the
//! run is not called slow: that it was shared is the reason given instead.

use crate::error::Error;
use crate::model::job::CheckRule;
use crate::model::peak::MIN_SHARE_N;
use crate::model::vocab::MatOp;
use crate::record::{CheckRecord, RunRecord};

/// The floor that applies to `record`, as a fraction: `None` for a GPU model without a known
/// peak, a SYRK (whose share of a GEMM peak is not the same figure) or n below
/// [`MIN_SHARE_N`].
fn floor_for(record: &RunRecord, rule: &CheckRule) -> Option<f64> {
    let known = record.peak.as_ref()?.matmul_share.is_some();
    (known && record.config.op == MatOp::Gemm && record.config.n >= MIN_SHARE_N)
        .then_some(rule.min_share)
}

/// The GPU's name in a reason: `GPU 1 (NVIDIA H200)`.
pub fn gpu_name(record: &RunRecord) -> String {
    format!(
        "GPU {} ({})",
        record.config.gpu_index.unwrap_or(0),
        record.device.name
    )
}

/// The verdict on one run; `slower_than_siblings` is the multi-GPU rule's reason, where it
/// found one.
pub fn verdict(
    record: &RunRecord,
    rule: &CheckRule,
    slower_than_siblings: Option<String>,
) -> CheckRecord {
    let mut reasons = Vec::new();
    let gpu = gpu_name(record);
    if !record.verification.passed {
        reasons.push(format!(
            "{gpu} computed a wrong answer: {}",
            record.verification.summary_line()
        ));
    }
    let health = record.health.as_ref();
    let shared = health.and_then(|h| h.shared_line());
    let judged_speed = shared.is_none();
    if let Some(line) = shared {
        reasons.push(format!("{gpu}: {line}; its speed is not judged"));
    }
    for bad in health.map(|h| h.bad_card_reasons()).unwrap_or_default() {
        reasons.push(format!("{gpu}: {bad}"));
    }
    let min_share = floor_for(record, rule).filter(|_| judged_speed);
    if let (Some(floor), Some(peak)) = (min_share, &record.peak)
        && let (Some(share), Some(peak_tflop), Some(precision)) =
            (peak.matmul_share, peak.peak_tflop_per_s, &peak.precision)
        && share < floor
    {
        reasons.push(format!(
            "{gpu} ran at {:.2} TFLOP/s, {:.1}% of its {peak_tflop} TFLOP/s {precision} peak, below the {:.0}% floor (--min-share)",
            record.matmul_tflop_per_s,
            100.0 * share,
            100.0 * floor
        ));
    }
    reasons.extend(slower_than_siblings.filter(|_| judged_speed));
    CheckRecord {
        passed: reasons.is_empty(),
        min_share,
        reasons,
    }
}

/// The process's verdict on checked records: the first reason of the first failed one, as
/// the error that ends the process with exit 7 (the output lists every reason).
pub fn outcome<'a>(records: impl IntoIterator<Item = &'a RunRecord>) -> Result<(), Error> {
    let failed = records
        .into_iter()
        .filter_map(|r| r.check.as_ref())
        .find(|c| !c.passed);
    match failed.and_then(|c| c.reasons.first()) {
        Some(reason) => Err(Error::CheckFailed(format!("{reason} (--check)"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::peak::PeakRecord;

    /// The committed H200 reference run (f32, n = 10000) with its shares.
    fn h200(n: usize, tflop: f64) -> RunRecord {
        let mut r = crate::record::fixtures::records("h200-2026-11-28")
            .into_iter()
            .map(|(_, r)| r)
            .find(|r| r.config.dtype == crate::model::dtype::DType::F32)
            .expect("an f32 H200 reference record");
        r.config.n = n;
        r.matmul_tflop_per_s = tflop;
        r.peak = Some(PeakRecord::for_gpu(
            &r.device.name,
            (r.config.dtype, r.config.op, n),
            tflop,
            r.reduce.median_s,
        ));
        r
    }

    const RULE: CheckRule = CheckRule { min_share: 0.5 };

    #[test]
    fn a_healthy_h200_passes_and_a_slow_one_fails_naming_the_floor() {
        let good = verdict(&h200(10_000, 52.8), &RULE, None);
        assert!(good.passed && good.reasons.is_empty(), "{good:?}");
        assert_eq!(good.min_share, Some(0.5));
        let slow = verdict(&h200(10_000, 23.7), &RULE, None);
        assert!(!slow.passed);
        assert_eq!(
            slow.reasons,
            vec![
                "GPU 0 (NVIDIA H200) ran at 23.70 TFLOP/s, 35.4% of its 67 TFLOP/s FP32 peak, below the 50% floor (--min-share)"
                    .to_string()
            ]
        );
    }

    #[test]
    fn the_floor_applies_only_where_a_healthy_gpu_reaches_it() {
        let small = verdict(&h200(1024, 23.7), &RULE, None);
        assert!(small.passed && small.min_share.is_none(), "{small:?}");
        let mut unknown = h200(10_000, 5.0);
        unknown.peak = Some(PeakRecord::for_gpu(
            "NVIDIA A40",
            (unknown.config.dtype, MatOp::Gemm, 10_000),
            5.0,
            1e-3,
        ));
        assert!(verdict(&unknown, &RULE, None).passed);
        let mut syrk = h200(10_000, 20.0);
        syrk.config.op = MatOp::Syrk;
        assert!(verdict(&syrk, &RULE, None).passed);
    }

    #[test]
    fn a_shared_gpu_is_given_as_the_reason_instead_of_a_slow_one_and_bad_counters_fail_it() {
        use crate::record::health::{GpuProcess, HealthRecord, PcieLink};
        let mut r = h200(16_384, 23.7);
        r.health = Some(HealthRecord {
            others_before: vec![GpuProcess {
                pid: 777,
                name: Some("burn".into()),
                used_memory_byte: Some(4 << 30),
                sm_percent: None,
            }],
            shared: true,
            ..Default::default()
        });
        let v = verdict(&r, &RULE, Some("GPU 0 … slower than the fastest".into()));
        assert!(!v.passed);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(
            v.reasons[0].starts_with("GPU 0 (NVIDIA H200): another process used this GPU during the run (pid 777, burn, 4.0 GiB)"),
            "{:?}",
            v.reasons
        );
        assert_eq!(v.min_share, None, "no floor applied to a shared card");
        let mut bad = h200(10_000, 52.8);
        bad.health = Some(HealthRecord {
            pcie: Some(PcieLink {
                generation: 5,
                generation_max: 5,
                width: 8,
                width_max: 16,
            }),
            ..Default::default()
        });
        let v = verdict(&bad, &RULE, None);
        assert_eq!(
            v.reasons,
            vec![
                "GPU 0 (NVIDIA H200): the PCIe link ran at x8 under load, of x16 (gen 5 of 5)"
                    .to_string()
            ]
        );
    }

    #[test]
    fn a_wrong_answer_and_a_slow_sibling_are_reasons_too_and_the_first_fails_the_process() {
        let mut wrong = h200(10_000, 52.8);
        wrong.verification.passed = false;
        let v = verdict(
            &wrong,
            &RULE,
            Some("GPU 0 … slower than the fastest".into()),
        );
        assert_eq!(v.reasons.len(), 2);
        assert!(v.reasons[0].contains("wrong answer"), "{:?}", v.reasons);
        wrong.check = Some(v);
        let mut fine = h200(10_000, 52.8);
        fine.check = Some(verdict(&fine, &RULE, None));
        assert!(outcome([&fine]).is_ok());
        let e = outcome([&fine, &wrong]).unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::CheckFailed);
        assert!(e.to_string().ends_with("(--check)"), "{e}");
    }
}
