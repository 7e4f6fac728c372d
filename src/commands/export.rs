//! `matbench export RESULTS... --to github-action-benchmark|bencher`: stored results in the
//! JSON formats of two CI dashboards.
//!
//! Runs are grouped by benchmark key *and* setup ([`crate::record::key`]): one series per
//! (backend, device model, dtype, op, n) and (CPU engine and threads, warm-up, cuBLAS and
//! driver), named `cuda NVIDIA H200 f32 n=10000 matmul (cuBLAS 13.1.0, driver 580.159.04)`,
//! with the samples of all its runs pooled. A dashboard thus never pools faer on 16 threads with
//! matrixmultiply on 4, or cold `--warmup 0` runs with warm ones. Both formats want one entry
//! per name (a Bencher report is a JSON object keyed by name), so pooling is what keeps a
//! directory with several runs of one configuration from producing duplicates.
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

use crate::cli::{ExportArgs, ExportTarget};
use crate::commands::compare::pool::{self, Pool, SeriesKey};
use crate::commands::compare::render::{significant, throughput};
use crate::error::{Error, Exit};
use crate::model::stats::Summary;
use crate::output::Stdout;
use crate::record::json;
use crate::record::read;
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// FLOP per second: the op's FLOP over the median, slowest and fastest sample.
    pub throughput: BmfMetric,
}

/// The series name both formats use:
/// `cuda NVIDIA H200 f32 n=10000 matmul (cuBLAS 13.1.0, driver 580.159.04)`.
pub fn benchmark_name(key: &SeriesKey) -> String {
    format!("{} matmul ({})", key.0, key.1)
}

/// A pool's statistics over all its samples (`None` only for a pool without samples, which
/// [`pool::group`] prevents).
fn summary(pool: &Pool) -> Option<Summary> {
    Summary::from_samples(&pool.samples_s())
}

/// Names made unique: a second benchmark of the same name (possible only with device names
/// made up to collide) gets ` #2`.
fn unique_names(pools: &BTreeMap<SeriesKey, Pool>) -> Vec<(String, &Pool)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    pools
        .iter()
        .map(|(key, p)| {
            let name = benchmark_name(key);
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

/// The entries for github-action-benchmark, in benchmark order.
pub fn github_entries(pools: &BTreeMap<SeriesKey, Pool>) -> Vec<GithubBenchmark> {
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
pub fn github_action_benchmark(pools: &BTreeMap<SeriesKey, Pool>) -> Result<Vec<u8>, Error> {
    json::to_bytes(
        &github_entries(pools),
        "the github-action-benchmark entries",
    )
}

/// The BMF document, keyed by benchmark name.
pub fn bmf_entries(pools: &BTreeMap<SeriesKey, Pool>) -> BTreeMap<String, BmfBenchmark> {
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
pub fn bencher(pools: &BTreeMap<SeriesKey, Pool>) -> Result<Vec<u8>, Error> {
    json::to_bytes(&bmf_entries(pools), "the Bencher report")
}

/// Runs the subcommand: reads the results, prints the chosen format on stdout.
/// A run that failed verification is left out (its timing is not a figure to publish), named
/// on stderr, and the export exits 8; the runs that passed are still exported.
pub fn run(args: &ExportArgs, out: &mut Stdout) -> Result<Exit, Error> {
    let records = read::read_all(&args.results).map_err(Error::one_line)?;
    let split = read::Verified::split(records);
    let pools = pool::group_by_setup(&split.passed);
    let bytes = match args.to {
        ExportTarget::GithubActionBenchmark => github_action_benchmark(&pools)?,
        ExportTarget::Bencher => bencher(&pools)?,
    };
    out.write(&bytes)?;
    Ok(match split.failure("the export") {
        Some(e) => {
            crate::output::error(&e);
            e.exit()
        }
        None => Exit::Success,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::compare::pool::{BenchKey, PooledRun, Setup};
    use crate::model::dtype::DType;
    use crate::model::vocab::{BackendKind, MatOp};
    use std::path::PathBuf;

    fn pools() -> BTreeMap<SeriesKey, Pool> {
        let run = |samples: &[f64], host: &str| PooledRun {
            path: PathBuf::from("r.json"),
            samples_s: samples.to_vec(),
            hostname: host.into(),
            setup: "cuBLAS 13.1.0, driver 580.159.04".into(),
        };
        let key = |n| BenchKey {
            backend: BackendKind::Cuda,
            device: "NVIDIA H200".into(),
            dtype: DType::F32,
            op: MatOp::Gemm,
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
        .map(|p| ((p.key.clone(), setup()), p))
        .collect()
    }

    fn setup() -> Setup {
        Setup {
            cpu_engine: None,
            blas_library: None,
            threads: None,
            cublas: Some("13.1.0".into()),
            driver: Some("580.159.04".into()),
            warm: true,
        }
    }

    #[test]
    fn github_action_benchmark_is_an_array_of_custom_entries() {
        let v: serde_json::Value =
            serde_json::from_slice(&github_action_benchmark(&pools()).unwrap()).unwrap();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 2);
        let e = &list[1];
        assert_eq!(
            e["name"],
            "cuda NVIDIA H200 f32 n=10000 matmul (cuBLAS 13.1.0, driver 580.159.04)"
        );
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
        let b = &v["cuda NVIDIA H200 f32 n=10000 matmul (cuBLAS 13.1.0, driver 580.159.04)"];
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
        odd.key.device =
            "NVIDIA H200 f32 n=1000 matmul (cuBLAS 13.1.0, driver 580.159.04) x".into();
        let mut other = setup();
        other.warm = false;
        let _ = p.insert((odd.key.clone(), other), odd);
        let names: Vec<String> = unique_names(&p).into_iter().map(|(n, _)| n).collect();
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len(), "{names:?}");
    }
}
