//! The record's telemetry section: what the GPU's clocks, temperature and power were while it
//! was measured. Types only; the sampler that fills them is `telemetry` (middle floor).

use serde::{Deserialize, Serialize};

/// Minimum, median and maximum of one quantity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Range {
    /// Lowest sample.
    pub min: f64,
    /// Median sample.
    pub median: f64,
    /// Highest sample.
    pub max: f64,
}

impl Range {
    /// The range of `values` (all zero when there are none).
    pub fn of(mut values: Vec<f64>) -> Range {
        match crate::model::stats::median(&mut values) {
            // `median` sorted the values.
            Some(median) => Range {
                min: values[0],
                median,
                max: values[values.len() - 1],
            },
            None => Range::default(),
        }
    }
}

/// The record's telemetry section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Telemetry {
    /// Why there is no telemetry, when there is none (no NVML, no such GPU, …).
    pub unavailable: Option<String>,
    /// Samples taken during the measured repetitions.
    pub samples: usize,
    /// SM clock, MHz.
    pub sm_clock_mhz: Range,
    /// The GPU's highest SM clock, MHz, as NVML reports it.
    pub sm_clock_max_mhz: Option<u32>,
    /// Memory clock, MHz.
    pub mem_clock_mhz: Range,
    /// GPU temperature, °C.
    pub temperature_c: Range,
    /// Board power, W.
    pub power_w: Range,
    /// Energy the board used during the measured repetitions (NVML's counter), J.
    pub energy_j: Option<f64>,
    /// TFLOP/s of the median matmul divided by the median power: 10¹² FLOP per joule.
    pub tflop_per_s_per_w: Option<f64>,
    /// Throttle reasons seen in any sample (idle and none left out).
    pub throttle_reasons: Vec<String>,
    /// Clocks dropped (below 90% of the run's highest) or a slowdown reason was seen.
    pub throttled: bool,
}

impl Telemetry {
    /// The record's entry when there is nothing to sample or NVML is missing.
    pub fn unavailable(reason: impl Into<String>) -> Telemetry {
        Telemetry {
            unavailable: Some(reason.into()),
            ..Default::default()
        }
    }
}
