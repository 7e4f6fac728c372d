//! `matbench export RESULTS... --to github-action-benchmark|bencher`: stored results in the
//! JSON formats of two CI dashboards.
//!
//! Runs are grouped exactly as `compare` groups them ([`crate::compare::pool`]): one
//! benchmark per (backend, device model, dtype, n), named `cuda NVIDIA H200 f32 n=10000 matmul`,
//! with the samples of all its runs pooled. Both formats want one entry per benchmark name (a
//! Bencher report is a JSON object keyed by name), so pooling is what keeps a directory with
//! several runs of one configuration from producing duplicates.
//!
//! - [`github_action_benchmark`]: github-action-benchmark's `customSmallerIsBetter` input, a
//!   JSON array of `{"name", "unit", "value", "range", "extra"}`; value = median matmul time
//!   in ms, range = `± <stddev> ms`, extra = throughput, runs and samples, hosts, setups.
//! - [`bencher`]: Bencher Metric Format (BMF), an object keyed by benchmark name whose values
//!   hold the built-in measures by slug: `latency` in nanoseconds (median, with the fastest
//!   and slowest sample as `lower_value`/`upper_value`) and `throughput` in operations (FLOP)
//!   per second (from the median, with the slowest and fastest sample as bounds).
//!
//! The renderers return bytes and do no I/O; only [`run`] reads files and prints.

use crate::bench::Summary;
use crate::cli::{ExportArgs, ExportTarget};
use crate::compare::pool::{self, Key, Pool, one_line};
use crate::compare::render::{significant, throughput};
use crate::error::Error;
use crate::record::store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

/// One entry of github-action-benchmark's `customSmallerIsBetter` array.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GithubBenchmark {
    /// Benchmark name, unique in the array.
    pub name: String,
    /// Unit of `value`: always "ms".
    pub unit: &'static str,
    /// Median matmul time, milliseconds.
    pub value: f64,
    /// Spread shown next to the value: `± <sample stddev> ms`.
    pub range: String,
    /// Tooltip text: throughput, runs and samples, hosts, setups (one per line).
    pub extra: String,
}

/// One BMF metric: a value with optional bounds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BmfMetric {
    /// The value.
    pub value: f64,
    /// Lower bound.
    pub lower_value: f64,
    /// Upper bound.
    pub upper_value: f64,
}

/// One BMF benchmark: Bencher's built-in measures, by slug.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BmfBenchmark {
    /// Matmul time, nanoseconds: median, fastest and slowest sample.
    pub latency: BmfMetric,
    /// FLOP per second: 2·n³ over the median, slowest and fastest sample.
    pub throughput: BmfMetric,
}

/// The benchmark name both formats use: `cuda NVIDIA H200 f32 n=10000 matmul`.
pub fn benchmark_name(key: &Key) -> String {
    format!("{key} matmul")
}

/// A pool's statistics over all its samples (`None` only for a pool without samples, which
/// [`pool::group`] prevents).
fn summary(pool: &Pool) -> Option<Summary> {
    Summary::from_samples(&pool.samples_s())
}

/// Names made unique: a second benchmark of the same name (possible only with device names
/// made up to collide) gets ` #2`.
fn unique_names(pools: &BTreeMap<Key, Pool>) -> Vec<(String, &Pool)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    pools
        .values()
        .map(|p| {
            let name = benchmark_name(&p.key);
            let count = seen.entry(name.clone()).or_insert(0);
            *count += 1;
            let name = if *count == 1 {
                name
            } else {
                format!("{name} #{count}")
            };
            (name, p)
        })
        .collect()
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Device(format!("could not encode JSON: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The entries for github-action-benchmark, in benchmark order.
pub fn github_entries(pools: &BTreeMap<Key, Pool>) -> Vec<GithubBenchmark> {
    unique_names(pools)
        .into_iter()
        .filter_map(|(name, p)| {
            let s = summary(p)?;
            let runs = if p.runs.len() == 1 { "run" } else { "runs" };
            let extra = [
                throughput(p.key.flop_per_matmul() / s.median_s / 1e12),
                format!(
                    "{} {runs}, {} samples, min {} ms, max {} ms",
                    p.runs.len(),
                    p.sample_count(),
                    significant(s.min_s * 1e3),
                    significant(s.max_s * 1e3)
                ),
                format!("host: {}", p.hosts().join(", ")),
                format!("setup: {}", p.setups().join("; ")),
            ]
            .join("\n");
            Some(GithubBenchmark {
                name,
                unit: "ms",
                value: s.median_s * 1e3,
                range: format!("± {} ms", significant(s.stddev_s * 1e3)),
                extra,
            })
        })
        .collect()
}

/// github-action-benchmark's `customSmallerIsBetter` JSON.
pub fn github_action_benchmark(pools: &BTreeMap<Key, Pool>) -> Result<Vec<u8>, Error> {
    encode(&github_entries(pools))
}

/// The BMF document, keyed by benchmark name.
pub fn bmf_entries(pools: &BTreeMap<Key, Pool>) -> BTreeMap<String, BmfBenchmark> {
    unique_names(pools)
        .into_iter()
        .filter_map(|(name, p)| {
            let s = summary(p)?;
            let flop = p.key.flop_per_matmul();
            let bench = BmfBenchmark {
                latency: BmfMetric {
                    value: s.median_s * 1e9,
                    lower_value: s.min_s * 1e9,
                    upper_value: s.max_s * 1e9,
                },
                throughput: BmfMetric {
                    value: flop / s.median_s,
                    lower_value: flop / s.max_s,
                    upper_value: flop / s.min_s,
                },
            };
            Some((name, bench))
        })
        .collect()
}

/// Bencher Metric Format JSON.
pub fn bencher(pools: &BTreeMap<Key, Pool>) -> Result<Vec<u8>, Error> {
    encode(&bmf_entries(pools))
}

/// Runs the subcommand: reads the results, prints the chosen format on stdout.
pub fn run(args: &ExportArgs) -> Result<ExitCode, Error> {
    let records = store::read_all(&args.results).map_err(one_line)?;
    let pools = pool::group(&records).map_err(one_line)?;
    let bytes = match args.to {
        ExportTarget::GithubActionBenchmark => github_action_benchmark(&pools)?,
        ExportTarget::Bencher => bencher(&pools)?,
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe is not worth an error.
    let _ = out.write_all(&bytes).and_then(|_| out.flush());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::pool::PooledRun;
    use std::path::PathBuf;

    fn pools() -> BTreeMap<Key, Pool> {
        let run = |samples: &[f64], host: &str| PooledRun {
            path: PathBuf::from("r.json"),
            samples_s: samples.to_vec(),
            hostname: host.into(),
            setup: "cuBLAS 13.1.0, driver 580.159.04".into(),
            verified: true,
        };
        let key = |n| Key {
            backend: "cuda".into(),
            device: "NVIDIA H200".into(),
            dtype: "f32".into(),
            n,
        };
        [
            Pool {
                key: key(10000),
                runs: vec![run(&[0.038, 0.040], "vm"), run(&[0.039], "gpu-2")],
            },
            Pool {
                key: key(1000),
                runs: vec![run(&[2e-4], "vm")],
            },
        ]
        .into_iter()
        .map(|p| (p.key.clone(), p))
        .collect()
    }

    #[test]
    fn github_action_benchmark_is_an_array_of_custom_entries() {
        let v: serde_json::Value =
            serde_json::from_slice(&github_action_benchmark(&pools()).unwrap()).unwrap();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 2);
        let e = &list[1];
        assert_eq!(e["name"], "cuda NVIDIA H200 f32 n=10000 matmul");
        assert_eq!(e["unit"], "ms");
        assert!((e["value"].as_f64().unwrap() - 39.0).abs() < 1e-9);
        assert_eq!(e["range"], "± 1.000 ms");
        let extra = e["extra"].as_str().unwrap();
        assert!(
            extra.starts_with("51.28 TFLOP/s\n2 runs, 3 samples"),
            "{extra}"
        );
        assert!(extra.contains("host: vm, gpu-2"), "{extra}");
        assert_eq!(list[0]["range"], "± 0 ms");
    }

    #[test]
    fn bencher_uses_the_builtin_measures_in_their_units() {
        let v: serde_json::Value = serde_json::from_slice(&bencher(&pools()).unwrap()).unwrap();
        let b = &v["cuda NVIDIA H200 f32 n=10000 matmul"];
        assert!((b["latency"]["value"].as_f64().unwrap() - 39e6).abs() < 1e-3);
        assert!((b["latency"]["lower_value"].as_f64().unwrap() - 38e6).abs() < 1e-3);
        assert!((b["latency"]["upper_value"].as_f64().unwrap() - 40e6).abs() < 1e-3);
        let flop = 2e12;
        assert!((b["throughput"]["value"].as_f64().unwrap() - flop / 0.039).abs() < 1.0);
        assert!((b["throughput"]["lower_value"].as_f64().unwrap() - flop / 0.040).abs() < 1.0);
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn colliding_names_stay_unique() {
        let mut p = pools();
        let mut odd = p.values().next().unwrap().clone();
        // A device name made up so that its key prints like another benchmark's.
        odd.key.device = "NVIDIA H200 f32 n=1000 matmul".into();
        odd.key.backend = "cuda".into();
        odd.key.dtype = "x".into();
        let _ = p.insert(odd.key.clone(), odd);
        let names: Vec<String> = unique_names(&p).into_iter().map(|(n, _)| n).collect();
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len(), "{names:?}");
    }
}
