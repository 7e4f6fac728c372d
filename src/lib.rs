//! matbench: how fast does this machine compute C = A·Aᵀ and Σ C, on its GPU and on its CPU,
//! and is the answer right?
//!
//! The crate is shaped as one pipeline (see `main.rs`): command-line arguments ([`cli`]) are
//! validated once into a [`plan::Plan`]; a [`backend::Backend`] is opened for the plan's device;
//! the run loop in [`bench`] drives warm-up, repetitions, statistics and verification against
//! that one trait; the outcome is a [`record::RunRecord`], turned into bytes by an
//! [`export::Exporter`] and written once, atomically, by [`record::store`].
//!
//! Every backend draws the same input matrix from the counter-based [`philox`] generator, so a
//! CPU run and a GPU run with the same seed multiply bit-identical matrices.

pub mod backend;
pub mod bench;
pub mod ciexport;
pub mod cli;
pub mod compare;
pub mod dtype;
pub mod error;
pub mod export;
pub mod host;
pub mod info;
pub mod multi;
pub mod philox;
pub mod plan;
pub mod plot;
pub mod record;
pub mod report;
pub mod sweep;
pub mod telemetry;
pub mod verify;

pub use error::Error;

/// Durations are carried as seconds in `f64` throughout, as hyperfine does.
pub type Second = f64;
