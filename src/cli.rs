//! The raw command line, as clap parses it. Nothing here is validated beyond its type:
//! [`crate::plan`] turns it into a checked [`crate::plan::Plan`].

use crate::model::dtype::DType;
use crate::model::vocab::{CpuEngine, MatOp};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `--version`: the crate's version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MATBENCH_GIT_COMMIT"),
    ")"
);

/// Measure how fast this machine computes C = A·Aᵀ and Σ C on its GPU and CPU, verify the
/// answer, and record the run.
#[derive(Debug, Parser)]
#[command(name = "matbench", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmark an NVIDIA GPU (cuBLAS): `matbench gpu 10000`.
    Gpu(GpuArgs),
    /// Benchmark the CPU (faer or matrixmultiply): `matbench cpu 10000`.
    Cpu(CpuArgs),
    /// List this machine's CPU and GPUs.
    Info(InfoArgs),
    /// Compare runs: exit 0 no regression, 1 regression, 2 bad input, 8 a failed verification.
    #[command(long_about = COMPARE_METHOD)]
    Compare(CompareArgs),
    /// Run a grid of sizes × devices × dtypes, saving each result as it finishes.
    Sweep(SweepArgs),
    /// Draw SVG charts (TFLOP/s against n, GPU-over-CPU speed-up) from stored results.
    Plot(PlotArgs),
    /// Convert stored results for CI dashboards (github-action-benchmark, Bencher).
    Export(ExportArgs),
    /// Many hosts' results side by side, naming the machines slower than the fleet.
    Report(ReportArgs),
    /// Print a shell completion script: `matbench completions bash > /etc/bash_completion.d/matbench`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `matbench manpage > matbench.1`.
    Manpage,
}

/// `matbench completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `matbench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Results files or directories (for example, every node's records of a Kubernetes job).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    /// A machine more than this many percent below its fleet's median is an outlier.
    #[arg(long, default_value_t = 10.0, value_name = "PERCENT")]
    pub margin: f64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Exit 1 when there is an outlier, 7 when a machine's own `--check` failed (the record
    /// says why: below its floor share of peak, slower than its siblings).
    #[arg(long)]
    pub check: bool,
}

/// How `compare` decides, for `matbench compare --help`.
pub const COMPARE_METHOD: &str = "Compare a baseline with a candidate: verdicts a CI job can trust.

Runs are matched by the benchmark key (backend, device model, dtype, op, n); several runs of one \
key on one side are pooled. For each key on both sides, a bootstrap (2000 resamples, fixed seed: \
the same files always give the same answer) gives the 95% interval of the ratio of median matmul \
times, candidate / baseline. With t = --threshold: slower if the interval lies entirely above \
1 + t, faster if entirely below 1 - t, same if entirely inside [1 - t, 1 + t], unclear \
otherwise. What is not in the key (CPU engine and threads, warm-up, cuBLAS and driver) is noted \
when it differs. A run that failed verification is never pooled or given a verdict: it is \
listed, and compare exits 8.

Exit codes: 0 no regression, 1 a regression (or unclear with --fail-on-unclear), 2 bad input, \
8 a run failed verification.";

/// `matbench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline: a results file or a directory of them.
    pub baseline: PathBuf,
    /// Candidate: a results file or a directory of them.
    pub candidate: PathBuf,
    /// Changes of the median smaller than this many percent count as "same".
    #[arg(long, default_value_t = crate::model::bootstrap::DEFAULT_THRESHOLD_PERCENT, value_name = "PERCENT")]
    pub threshold: f64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Also exit 1 when a verdict is "unclear".
    #[arg(long)]
    pub fail_on_unclear: bool,
}

/// Format of `compare`'s report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A terminal table.
    Text,
    /// GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY or a pull-request comment).
    Markdown,
    /// JSON.
    Json,
}

/// `matbench export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Results files or directories.
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    /// Target format.
    #[arg(long, value_enum)]
    pub to: ExportTarget,
}

/// Formats `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportTarget {
    /// github-action-benchmark's `customSmallerIsBetter` JSON.
    GithubActionBenchmark,
    /// Bencher Metric Format (BMF) JSON.
    Bencher,
}

/// `matbench sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sizes: a list (`1024,2048,4096`) or a doubling range (`1024..16384`).
    #[arg(long, value_name = "SIZES")]
    pub sizes: String,
    /// Devices, comma-separated: `cpu`, `gpu` or both.
    #[arg(long, default_value = "cpu,gpu", value_name = "LIST")]
    pub devices: String,
    /// Dtypes, comma-separated.
    #[arg(long, default_value = "f32", value_name = "LIST")]
    pub dtypes: String,
    /// Untimed repetitions per run (0: none, a cold run).
    #[arg(long, default_value_t = 2, value_name = "COUNT")]
    pub warmup: u32,
    /// Seconds of warm-up per run at least, after the --warmup count (0 to 60; default 0.5 on
    /// the CPU, 0 on the GPU).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub warmup_time: Option<f64>,
    /// Measured repetitions per run (`--reps COUNT`, or `--reps auto` with `--max-time`).
    #[command(flatten)]
    pub reps: RepsArgs,
    /// Philox seed (default: one fresh seed for the whole sweep).
    #[arg(long)]
    pub seed: Option<u64>,
    /// CPU threads (default: every logical CPU).
    #[arg(long, value_name = "COUNT")]
    pub threads: Option<usize>,
    /// CPU GEMM library: auto (the default: the machine's BLAS if one is found, unless faer
    /// times faster on the problem), blas (the machine's BLAS), faer, or matrixmultiply.
    #[arg(long, value_enum, default_value_t = CpuEngine::Auto)]
    pub cpu_engine: CpuEngine,
    /// The CBLAS library for --cpu-engine auto|blas (a path or a file name the loader finds),
    /// instead of searching MKL, OpenBLAS and BLIS by their usual names.
    #[arg(long, env = "MATBENCH_BLAS_LIB", value_name = "PATH")]
    pub blas_lib: Option<PathBuf>,
    /// CUDA ordinal of the GPU.
    #[arg(long, default_value_t = 0, value_name = "INDEX")]
    pub gpu: usize,
    /// Directory for the JSON records (one per run, written as each finishes).
    #[arg(
        long,
        env = "MATBENCH_RESULTS_DIR",
        default_value = "results",
        value_name = "DIR"
    )]
    pub results_dir: PathBuf,
    /// Where to write the SVG charts (default: no charts).
    #[arg(long, value_name = "DIR")]
    pub plot_dir: Option<PathBuf>,
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Summary on stdout: a table, or JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `matbench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Results files or directories.
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    /// Directory for the SVG files.
    #[arg(long, default_value = "plots", value_name = "DIR")]
    pub out: PathBuf,
}

/// Options every benchmark run takes.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Matrix size n: A is an n×n random-uniform matrix.
    #[arg(value_name = "N", allow_hyphen_values = true)]
    pub size: String,

    /// The product: the full GEMM (default), or the symmetric rank-k update (one triangle).
    #[arg(long, value_enum, default_value_t = MatOp::Gemm)]
    pub op: MatOp,

    /// Element type: f32 (true FP32) and f64 on both backends; tf32, bf16, f16 and fp8 (E4M3
    /// inputs, bf16 output, compute capability 8.9+) on the GPU.
    #[arg(long, value_enum, default_value_t = DType::F32)]
    pub dtype: DType,

    /// Untimed repetitions of matmul + reduce before measuring (0: none, a cold run).
    #[arg(long, default_value_t = 2, value_name = "COUNT")]
    pub warmup: u32,

    /// Seconds of warm-up at least, after the --warmup count: short products reach their
    /// steady speed only after threads, caches and clocks settle (0 to 60; default 0.5 on the
    /// CPU, 0 on the GPU).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub warmup_time: Option<f64>,

    /// Measured repetitions (`--reps COUNT`, or `--reps auto` with `--max-time`).
    #[command(flatten)]
    pub reps: RepsArgs,

    /// Seed of the Philox generator for A (default: drawn fresh, and recorded).
    #[arg(long)]
    pub seed: Option<u64>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Directory for the JSON record of the run.
    #[arg(
        long,
        env = "MATBENCH_RESULTS_DIR",
        default_value = "results",
        value_name = "DIR"
    )]
    pub results_dir: PathBuf,

    /// Do not write a record.
    #[arg(long)]
    pub no_save: bool,

    /// Stop a run that has not finished after this many seconds (a GPU that stopped
    /// answering hangs otherwise): one line saying where it was, exit 11.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub timeout: Option<f64>,
}

/// How many measured repetitions to run, shared by `gpu`, `cpu` and `sweep` so the three parse
/// it alike. `--reps` stays text here: a count and the word `auto` are told apart, and checked,
/// by `plan::check_counts`.
#[derive(Debug, Args)]
pub struct RepsArgs {
    /// Measured repetitions of matmul + reduce: a count (1 to 100000), or `auto` to repeat until
    /// the median matmul time is known to ±1% (relative standard error) or --max-time is spent.
    #[arg(
        long,
        default_value = "10",
        value_name = "COUNT|auto",
        allow_negative_numbers = true
    )]
    pub reps: String,

    /// With --reps auto only: seconds of measured repetitions at most (default 10, at most 3600).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub max_time: Option<f64>,

    /// Repeat back to back for this many seconds instead of a count (a soak): reports the
    /// burst figure (best 1 s of the first 10) and the sustained one (median of the last half),
    /// and the run second by second with clocks, power and temperature. Replaces --reps.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub duration: Option<f64>,
}

/// `matbench gpu`.
#[derive(Debug, Args)]
pub struct GpuArgs {
    /// Options shared with `cpu`.
    #[command(flatten)]
    pub run: RunArgs,

    /// GPU(s) by CUDA ordinal: an index, a list (`0,1`) or `all`; several run at the same time.
    #[arg(long, default_value = "0", value_name = "INDEX|LIST|all")]
    pub gpu: String,

    /// With several GPUs: flag one slower than the fastest by more than this many percent.
    #[arg(long, default_value_t = 10.0, value_name = "PERCENT")]
    pub slow_margin: f64,

    /// Judge the GPU and exit 7 when it fails: a GEMM below --min-share of its datasheet peak
    /// (n ≥ 4096, known models), a bad-card health counter, a GPU shared with another process,
    /// or (several GPUs) one slower than the fastest by more than --slow-margin. The verdict
    /// and every reason are in the record (a wrong answer is among them, and exits 1 as always).
    #[arg(long)]
    pub check: bool,

    /// Refuse to measure (exit 10) when another process is using the GPU: its figures would
    /// not be the card's. Without it a shared run is measured, warned about and recorded.
    #[arg(long)]
    pub require_exclusive: bool,

    /// Which repetitions the checksums of every element of C cover: `budget` checks every
    /// warm-up and then as many measured repetitions as keep their cost within 1% of the
    /// matmul (f32, f64) or 5% (tf32, bf16, f16, fp8), every k-th, k in the record; `all` checks
    /// every repetition whatever it costs.
    #[arg(long, value_enum, default_value_t = crate::model::vocab::LineSumsMode::Budget)]
    pub line_sums: crate::model::vocab::LineSumsMode,

    /// How the GEMM is chosen: `default`, the cuBLAS call matbench always makes; `search`,
    /// time up to 16 cuBLASLt algorithms for the exact problem beside it and run with the
    /// fastest when compare would call it faster (the record lists every candidate and the
    /// default's regret); the winner is cached per GPU model, cuBLAS, dtype and n.
    #[arg(long, value_enum, default_value_t = crate::model::vocab::AlgoMode::Default)]
    pub algo: crate::model::vocab::AlgoMode,

    /// With --algo search: where the winners are cached (default $XDG_CACHE_HOME/matbench or
    /// ~/.cache/matbench; never the results directory).
    #[arg(long, value_name = "DIR", requires = "algo")]
    pub cache_dir: Option<PathBuf>,

    /// With --check: the floor share of the GPU's datasheet peak, percent.
    #[arg(
        long,
        default_value_t = crate::model::peak::DEFAULT_MIN_SHARE_PERCENT,
        value_name = "PERCENT",
        requires = "check"
    )]
    pub min_share: f64,
}

/// `matbench cpu`.
#[derive(Debug, Args)]
pub struct CpuArgs {
    /// Options shared with `gpu`.
    #[command(flatten)]
    pub run: RunArgs,

    /// Worker threads (default: every logical CPU).
    #[arg(long, value_name = "COUNT")]
    pub threads: Option<usize>,

    /// GEMM library: auto (the default: the machine's BLAS if one is found, unless faer times
    /// faster on the problem, timed on it before the warm-up), blas (the machine's BLAS, or a
    /// clear error), faer, or matrixmultiply.
    #[arg(long, value_enum, default_value_t = CpuEngine::Auto)]
    pub cpu_engine: CpuEngine,

    /// The CBLAS library for --cpu-engine auto|blas (a path or a file name the loader finds),
    /// instead of searching MKL, OpenBLAS and BLIS by their usual names.
    #[arg(long, env = "MATBENCH_BLAS_LIB", value_name = "PATH")]
    pub blas_lib: Option<PathBuf>,
}

/// `matbench info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people.
    Text,
    /// JSON: for `gpu` and `cpu` the record (the same document as the results file); for
    /// `info`, `sweep` and several GPUs a summary document.
    Json,
}
