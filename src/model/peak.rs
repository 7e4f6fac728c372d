//! The datasheet's dense peak of each GPU model, per precision, and its memory bandwidth: what
//! a measured TFLOP/s is a share of.
//!
//! A figure alone says little (52.7 TFLOP/s is good on an H200, whose FP32 peak is 67, and
//! would be impossible on an A100), so every GPU record names the peak it was compared with
//! and where that peak comes from. The figures are NVIDIA's own, dense (without 2:4 sparsity,
//! which the datasheets print beside them at twice the figure), at the boost clock; GeForce
//! tensor figures are those with FP32 accumulation, the arithmetic matbench asks for. Each
//! entry names its source beside it. A model not in the table gets no share, and says so: a
//! guessed peak would make a healthy card look broken or a broken one healthy.
//!
//! Variants are told apart by the name the driver reports: the SXM boards ("H100 80GB HBM3",
//! "H200"), the PCIe cards ("H100 PCIe", "A100 80GB PCIe") and the NVL cards ("H100 NVL",
//! "H200 NVL") differ in clocks and power, and so in peak.

use crate::model::dtype::DType;

/// The floor share of peak `--check` applies unless told otherwise, percent. Healthy H200
/// runs reach 76–87% of their peaks from n = 4096 up (docs/performance.md: f32 50.7 TFLOP/s
/// of 67 at n = 4096, 52.8 at 10000; tf32 390.6 of 494.5, bf16 858.8 of 989.5, f64 57.4 of
/// 67 at 10000); a card sharing its SMs with another process ran f32 at 23.7 (35%), and the
/// A100 of DCGM issue #122 at 6.7 of 19.5 (34%). Half the peak separates the two with room.
pub const DEFAULT_MIN_SHARE_PERCENT: f64 = 50.0;

/// Smallest n the floor applies to: below it a healthy GPU cannot fill its SMs (an H200 ran
/// f32 at 46% of peak at n = 1024 and 70% at 2048).
pub const MIN_SHARE_N: usize = 4096;

/// One precision's arithmetic, as the datasheets list it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// FP64 on the CUDA cores.
    Fp64,
    /// FP64 on the tensor cores (A100, H100, H200, B200: what cuBLAS's DGEMM uses there).
    Fp64Tensor,
    /// FP32 on the CUDA cores (true FP32, no TF32).
    Fp32,
    /// TF32 tensor cores.
    Tf32,
    /// BF16 tensor cores, FP32 accumulation.
    Bf16,
    /// FP16 tensor cores, FP32 accumulation.
    Fp16,
    /// FP8 (E4M3) tensor cores, FP32 accumulation.
    Fp8,
}

impl Precision {
    /// How the record and the text output name it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp64 => "FP64",
            Precision::Fp64Tensor => "FP64 tensor core",
            Precision::Fp32 => "FP32",
            Precision::Tf32 => "TF32 tensor core",
            Precision::Bf16 => "BF16 tensor core, FP32 accumulate",
            Precision::Fp16 => "FP16 tensor core, FP32 accumulate",
            Precision::Fp8 => "FP8 tensor core, FP32 accumulate",
        }
    }
}

/// One GPU model's datasheet figures, TFLOP/s dense and TB/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuPeaks {
    /// The model, as the record names it ("NVIDIA H200 SXM").
    pub model: &'static str,
    /// FP64 on the CUDA cores.
    pub fp64: f64,
    /// FP64 on the tensor cores, where the GPU has them.
    pub fp64_tensor: Option<f64>,
    /// FP32.
    pub fp32: f64,
    /// TF32 tensor cores, dense.
    pub tf32: f64,
    /// BF16 tensor cores with FP32 accumulation, dense.
    pub bf16: f64,
    /// FP16 tensor cores with FP32 accumulation, dense.
    pub fp16: f64,
    /// FP8 tensor cores with FP32 accumulation, dense, where the GPU has them (compute
    /// capability 8.9 and newer).
    pub fp8: Option<f64>,
    /// Memory bandwidth, 10¹² bytes/s.
    pub memory_tbyte_per_s: f64,
    /// Where the figures come from.
    pub source: &'static str,
}

impl GpuPeaks {
    /// The figures in one line: `FP64 34 (tensor 67) · FP32 67 · TF32 494.5 · BF16 989.5 ·
    /// FP16 989.5 · FP8 1979 TFLOP/s · memory 4.8 TB/s`.
    pub fn summary(&self) -> String {
        let fp64 = match self.fp64_tensor {
            Some(t) => format!("FP64 {} (tensor {t})", self.fp64),
            None => format!("FP64 {}", self.fp64),
        };
        let fp8 = match self.fp8 {
            Some(t) => format!(" · FP8 {t}"),
            None => String::new(),
        };
        format!(
            "{fp64} · FP32 {} · TF32 {} · BF16 {} · FP16 {}{fp8} TFLOP/s dense · memory {} TB/s",
            self.fp32, self.tf32, self.bf16, self.fp16, self.memory_tbyte_per_s
        )
    }

    /// The same figures with the FP8 peak, for the models that have FP8 tensor cores.
    const fn with_fp8(self, tflop_per_s: f64) -> GpuPeaks {
        GpuPeaks {
            fp8: Some(tflop_per_s),
            ..self
        }
    }

    /// The peak a run in `dtype` is compared with: FP64 runs against the FP64 tensor peak where
    /// the GPU has FP64 tensor cores (cuBLAS's DGEMM uses them), FP32 against the CUDA cores;
    /// `None` for fp8 on a model without an FP8 figure.
    pub fn for_dtype(&self, dtype: DType) -> Option<(Precision, f64)> {
        Some(match dtype {
            DType::F64 => match self.fp64_tensor {
                Some(t) => (Precision::Fp64Tensor, t),
                None => (Precision::Fp64, self.fp64),
            },
            DType::F32 => (Precision::Fp32, self.fp32),
            DType::Tf32 => (Precision::Tf32, self.tf32),
            DType::Bf16 => (Precision::Bf16, self.bf16),
            DType::F16 => (Precision::Fp16, self.fp16),
            DType::Fp8 => (Precision::Fp8, self.fp8?),
        })
    }
}

const H100_SXM: &str = "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column)";
const H100_PCIE: &str = "NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe column)";
const H100_NVL: &str = "NVIDIA H100 Tensor Core GPU datasheet (H100 NVL column)";
const H200_SXM: &str = "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column)";
const H200_NVL: &str = "NVIDIA H200 Tensor Core GPU datasheet (H200 NVL column)";
const GH200: &str = "NVIDIA GH200 Grace Hopper Superchip datasheet (GPU figures)";
const A100: &str = "NVIDIA A100 Tensor Core GPU datasheet (SXM and PCIe columns)";
const L40S: &str = "NVIDIA L40S datasheet (FP64 not listed: 1/64 of FP32, Ada whitepaper)";
const L4: &str = "NVIDIA L4 Tensor Core GPU datasheet (FP64 not listed: 1/64 of FP32)";
const A10: &str = "NVIDIA A10 Tensor Core GPU datasheet (FP64 not listed: 1/64 of FP32, GA102)";
const B200: &str = "NVIDIA HGX B200 datasheet (per-GPU figures, sparse halved)";
const ADA: &str = "NVIDIA Ada Lovelace GPU architecture whitepaper, appendix A (FP32 accumulate)";
const AMPERE: &str =
    "NVIDIA Ampere GA102 GPU architecture whitepaper, appendix A (FP32 accumulate)";
const BLACKWELL: &str =
    "NVIDIA RTX Blackwell GPU architecture whitepaper, appendix (FP32 accumulate)";

/// Name patterns, most specific first: the first entry whose every word (or run of words) is
/// in the driver's name, compared without case and as whole words, and whose `!word` is not,
/// is the model.
#[rustfmt::skip] // one line per model reads as the table it is
const TABLE: &[(&[&str], GpuPeaks)] = &[
    (&["h200", "nvl"], peaks("NVIDIA H200 NVL", [30.0, 60.0, 60.0, 417.5, 835.5, 835.5], 4.8, H200_NVL).with_fp8(1671.0)),
    (&["gh200", "hbm3e"], peaks("NVIDIA GH200 144GB HBM3e", [34.0, 67.0, 67.0, 494.5, 989.5, 989.5], 4.9, GH200).with_fp8(1979.0)),
    (&["gh200"], peaks("NVIDIA GH200 96GB HBM3", [34.0, 67.0, 67.0, 494.5, 989.5, 989.5], 4.0, GH200).with_fp8(1979.0)),
    (&["h200"], peaks("NVIDIA H200 SXM", [34.0, 67.0, 67.0, 494.5, 989.5, 989.5], 4.8, H200_SXM).with_fp8(1979.0)),
    (&["h100", "nvl"], peaks("NVIDIA H100 NVL", [30.0, 60.0, 60.0, 417.5, 835.5, 835.5], 3.9, H100_NVL).with_fp8(1671.0)),
    (&["h100", "pcie"], peaks("NVIDIA H100 PCIe", [26.0, 51.0, 51.0, 378.0, 756.5, 756.5], 2.0, H100_PCIE).with_fp8(1513.0)),
    (&["h100", "sxm5"], peaks("NVIDIA H100 SXM", [34.0, 67.0, 67.0, 494.5, 989.5, 989.5], 3.35, H100_SXM).with_fp8(1979.0)),
    (&["h100", "hbm3"], peaks("NVIDIA H100 SXM", [34.0, 67.0, 67.0, 494.5, 989.5, 989.5], 3.35, H100_SXM).with_fp8(1979.0)),
    (&["a100", "pcie", "80gb"], peaks("NVIDIA A100 80GB PCIe", [9.7, 19.5, 19.5, 156.0, 312.0, 312.0], 1.935, A100)),
    (&["a100", "pcie"], peaks("NVIDIA A100 40GB PCIe", [9.7, 19.5, 19.5, 156.0, 312.0, 312.0], 1.555, A100)),
    (&["a100", "sxm4", "80gb"], peaks("NVIDIA A100 80GB SXM", [9.7, 19.5, 19.5, 156.0, 312.0, 312.0], 2.039, A100)),
    (&["a100", "sxm", "80gb"], peaks("NVIDIA A100 80GB SXM", [9.7, 19.5, 19.5, 156.0, 312.0, 312.0], 2.039, A100)),
    (&["a100", "sxm4"], peaks("NVIDIA A100 40GB SXM", [9.7, 19.5, 19.5, 156.0, 312.0, 312.0], 1.555, A100)),
    (&["b200"], peaks("NVIDIA B200 (HGX)", [37.0, 37.0, 75.0, 1100.0, 2250.0, 2250.0], 7.7, B200).with_fp8(4500.0)),
    (&["l40s"], gpu("NVIDIA L40S", [1.431, 91.6, 183.0, 362.05, 362.05], 0.864, L40S).with_fp8(733.0)),
    (&["l4"], gpu("NVIDIA L4", [0.473, 30.3, 60.0, 121.0, 121.0], 0.3, L4).with_fp8(242.5)),
    (&["a10"], gpu("NVIDIA A10", [0.4875, 31.2, 62.5, 125.0, 125.0], 0.6, A10)),
    (&["rtx 5090", "!d", "!laptop"], gpu("NVIDIA GeForce RTX 5090", [1.637, 104.8, 104.8, 209.5, 209.5], 1.792, BLACKWELL).with_fp8(419.0)),
    (&["rtx 4090", "!d", "!laptop"], gpu("NVIDIA GeForce RTX 4090", [1.29, 82.6, 82.6, 165.2, 165.2], 1.008, ADA).with_fp8(330.3)),
    (&["rtx 4080", "!super", "!laptop"], gpu("NVIDIA GeForce RTX 4080", [0.761, 48.7, 48.7, 97.5, 97.5], 0.717, ADA).with_fp8(194.9)),
    (&["rtx 3090", "!ti", "!laptop"], gpu("NVIDIA GeForce RTX 3090", [0.556, 35.6, 35.6, 71.0, 71.0], 0.936, AMPERE)),
    (&["rtx 3080", "!ti", "!laptop"], gpu("NVIDIA GeForce RTX 3080", [0.465, 29.8, 29.8, 59.5, 59.5], 0.76, AMPERE)),
];

/// A GPU with FP64 tensor cores: `[fp64, fp64 tensor, fp32, tf32, bf16, fp16]`.
const fn peaks(model: &'static str, t: [f64; 6], tb: f64, source: &'static str) -> GpuPeaks {
    GpuPeaks {
        model,
        fp64: t[0],
        fp64_tensor: Some(t[1]),
        fp32: t[2],
        tf32: t[3],
        bf16: t[4],
        fp16: t[5],
        fp8: None,
        memory_tbyte_per_s: tb,
        source,
    }
}

/// A GPU without FP64 tensor cores: `[fp64, fp32, tf32, bf16, fp16]`.
const fn gpu(model: &'static str, t: [f64; 5], tb: f64, source: &'static str) -> GpuPeaks {
    GpuPeaks {
        model,
        fp64: t[0],
        fp64_tensor: None,
        fp32: t[1],
        tf32: t[2],
        bf16: t[3],
        fp16: t[4],
        fp8: None,
        memory_tbyte_per_s: tb,
        source,
    }
}

/// The datasheet figures of the GPU the driver calls `name`, or `None` for a model not in the
/// table (an H100 whose name says neither SXM, HBM3, PCIe nor NVL is one: its variant is
/// unknown).
pub fn lookup(name: &str) -> Option<&'static GpuPeaks> {
    let name = name.to_lowercase();
    // Whole words only: "l4" must not match "l40s", nor "a10" match "a100".
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |pattern: &str| match pattern.strip_prefix('!') {
        Some(absent) => !words.contains(&absent),
        None => {
            let parts: Vec<&str> = pattern.split(' ').collect();
            words.windows(parts.len()).any(|w| w == parts.as_slice())
        }
    };
    TABLE
        .iter()
        .find(|(patterns, _)| patterns.iter().all(|p| has(p)))
        .map(|(_, peaks)| peaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_names_find_their_variant() {
        let model = |name: &str| lookup(name).map(|p| p.model);
        assert_eq!(model("NVIDIA H200"), Some("NVIDIA H200 SXM"));
        assert_eq!(model("NVIDIA H200 NVL"), Some("NVIDIA H200 NVL"));
        assert_eq!(model("NVIDIA H100 80GB HBM3"), Some("NVIDIA H100 SXM"));
        assert_eq!(model("NVIDIA H100 PCIe"), Some("NVIDIA H100 PCIe"));
        assert_eq!(model("NVIDIA H100 NVL"), Some("NVIDIA H100 NVL"));
        assert_eq!(model("NVIDIA A100-SXM4-80GB"), Some("NVIDIA A100 80GB SXM"));
        assert_eq!(model("NVIDIA A100-SXM4-40GB"), Some("NVIDIA A100 40GB SXM"));
        assert_eq!(
            model("NVIDIA A100 80GB PCIe"),
            Some("NVIDIA A100 80GB PCIe")
        );
        assert_eq!(
            model("NVIDIA A100-PCIE-40GB"),
            Some("NVIDIA A100 40GB PCIe")
        );
        assert_eq!(model("NVIDIA L40S"), Some("NVIDIA L40S"));
        assert_eq!(model("NVIDIA L4"), Some("NVIDIA L4"));
        assert_eq!(model("NVIDIA A10"), Some("NVIDIA A10"));
        assert_eq!(model("NVIDIA B200"), Some("NVIDIA B200 (HGX)"));
        assert_eq!(
            model("NVIDIA GeForce RTX 4090"),
            Some("NVIDIA GeForce RTX 4090")
        );
        assert_eq!(model("NVIDIA H100"), None, "an H100 of unknown variant");
        assert_eq!(model("NVIDIA A40"), None);
        assert_eq!(
            model("NVIDIA GeForce RTX 4090 D"),
            None,
            "fewer SMs than the 4090"
        );
        assert_eq!(model("NVIDIA GeForce RTX 3090 Ti"), None, "not the 3090");
        assert_eq!(model("NVIDIA GeForce RTX 4080 SUPER"), None, "not the 4080");
        assert_eq!(
            model("NVIDIA GeForce RTX 4090 Laptop GPU"),
            None,
            "a laptop's"
        );
        assert_eq!(
            model("NVIDIA GeForce RTX 3090"),
            Some("NVIDIA GeForce RTX 3090")
        );
        assert_eq!(model("NVIDIA A100-SXM-80GB"), Some("NVIDIA A100 80GB SXM"));
        assert_eq!(model("NVIDIA GH200 480GB"), Some("NVIDIA GH200 96GB HBM3"));
        assert_eq!(
            model("NVIDIA GH200 144G HBM3e"),
            Some("NVIDIA GH200 144GB HBM3e")
        );
    }

    #[test]
    fn the_summary_gives_every_figure() {
        assert_eq!(
            lookup("NVIDIA H200").unwrap().summary(),
            "FP64 34 (tensor 67) · FP32 67 · TF32 494.5 · BF16 989.5 · FP16 989.5 · FP8 1979 TFLOP/s dense · memory 4.8 TB/s"
        );
    }

    #[test]
    fn each_dtype_is_compared_with_its_own_arithmetic() {
        let h200 = lookup("NVIDIA H200").unwrap();
        assert_eq!(h200.for_dtype(DType::F32), Some((Precision::Fp32, 67.0)));
        assert_eq!(
            h200.for_dtype(DType::F64),
            Some((Precision::Fp64Tensor, 67.0))
        );
        assert_eq!(h200.for_dtype(DType::Tf32), Some((Precision::Tf32, 494.5)));
        assert_eq!(h200.for_dtype(DType::Bf16), Some((Precision::Bf16, 989.5)));
        assert_eq!(h200.for_dtype(DType::Fp8), Some((Precision::Fp8, 1979.0)));
        let l40s = lookup("NVIDIA L40S").unwrap();
        assert_eq!(l40s.for_dtype(DType::F64).unwrap().0, Precision::Fp64);
        let a100 = lookup("NVIDIA A100-SXM4-80GB").unwrap();
        assert_eq!(a100.for_dtype(DType::Fp8), None, "no FP8 tensor cores");
    }

    #[test]
    fn every_entry_is_ordered_and_sourced() {
        for (patterns, p) in TABLE {
            assert!(!patterns.is_empty() && !p.source.is_empty(), "{}", p.model);
            assert!(
                p.fp64 <= p.fp32 || p.fp64_tensor.is_some(),
                "{}: FP64 above FP32 without FP64 tensor cores",
                p.model
            );
            assert!(p.tf32 <= p.bf16 && p.bf16 == p.fp16, "{}", p.model);
            // FP8 runs at twice BF16's rate where it exists (the L40S's datasheet rounds)
            if let Some(fp8) = p.fp8 {
                assert!((fp8 / p.bf16 - 2.0).abs() < 0.03, "{}", p.model);
            }
            assert!(p.memory_tbyte_per_s > 0.1, "{}", p.model);
        }
    }
}
