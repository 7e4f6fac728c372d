//! The raw command line, as clap parses it. Nothing here is validated beyond its type:
//! [`crate::plan`] turns it into a checked [`crate::plan::Plan`].

use crate::backend::CpuEngine;
use crate::dtype::DType;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Measure how fast this machine computes C = A·Aᵀ and Σ C on its GPU and CPU, verify the
/// answer, and record the run.
#[derive(Debug, Parser)]
#[command(name = "matbench", version, about, long_about = None)]
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
}

/// Options every benchmark run takes.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Matrix size n: A is an n×n random-uniform matrix.
    #[arg(value_name = "N", allow_hyphen_values = true)]
    pub size: String,

    /// Element type (tf32, bf16 and f16 are not supported yet and are refused).
    #[arg(long, value_enum, default_value_t = DType::F32)]
    pub dtype: DType,

    /// Untimed repetitions of matmul + reduce before measuring (0 allowed).
    #[arg(long, default_value_t = 2, value_name = "COUNT")]
    pub warmup: u32,

    /// Measured repetitions of matmul + reduce.
    #[arg(long, default_value_t = 10, value_name = "COUNT")]
    pub reps: u32,

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
}

/// `matbench gpu`.
#[derive(Debug, Args)]
pub struct GpuArgs {
    /// Options shared with `cpu`.
    #[command(flatten)]
    pub run: RunArgs,

    /// CUDA ordinal of the GPU to use.
    #[arg(long, default_value_t = 0, value_name = "INDEX")]
    pub gpu: usize,
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

    /// GEMM library.
    #[arg(long, value_enum, default_value_t = CpuEngine::Faer)]
    pub cpu_engine: CpuEngine,
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
    /// The JSON record (the same document as the results file).
    Json,
}
