//! matbench: how fast does this machine compute C = A·Aᵀ and Σ C, on its GPU and on its CPU,
//! and is the answer right?
//!
//! The crate has three floors (docs/architecture.md); each imports only from the floors below:
//!
//! - **ground**: the shared vocabulary and the record — [`model`] (backend kind, op, dtype,
//!   repetitions, statistics, the job), [`record`] (the run record, the benchmark key and setup,
//!   the one reader/validator, the one JSON encoder, atomic saving), [`error`] (errors and the
//!   exit-code table), [`philox`], [`host`], [`interrupt`] (SIGINT and SIGTERM), [`watchdog`]
//!   (`--timeout`);
//! - **middle**: measuring — [`backend`] (one trait; CPU and CUDA), [`bench`] (the run loop and
//!   its stopping rule), [`verify`], [`telemetry`], [`pipeline`] (open → measure → verify →
//!   record → save → exit status);
//! - **top**: the command line — [`cli`], [`plan`] (arguments → a checked plan), [`output`]
//!   (the one stdout writer and error line, renderers), [`commands`] (one room per subcommand).
//!
//! Every backend draws the same input matrix from the counter-based [`philox`] generator, so a
//! CPU run and a GPU run with the same seed multiply bit-identical matrices.

#![deny(unsafe_code)]
// `unsafe` lives only at the FFI edge: the CUDA files that call the driver and cuBLAS, and the
// environment writes that size libraries' own pools (`backend::cpu::set_library_threads`), and
// the `_exit` that ends the process (`quick_exit`).

#[cfg(all(feature = "cuda-12", feature = "cuda-13"))]
compile_error!(
    "choose one CUDA major: the default (cuda-13), or --no-default-features --features cuda-12"
);
#[cfg(not(any(feature = "cuda-12", feature = "cuda-13")))]
compile_error!("choose a CUDA major: the default feature cuda-13, or --features cuda-12");

pub mod backend;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod error;
pub mod host;
pub mod interrupt;
pub mod model;
pub mod output;
pub mod philox;
pub mod pipeline;
pub mod plan;
pub mod quick_exit;
pub mod record;
pub mod telemetry;
pub mod verify;
pub mod watchdog;

pub use error::Error;
