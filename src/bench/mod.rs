//! The run loop and its statistics, written once against [`crate::backend::Backend`].

pub mod runner;
pub mod stats;

pub use runner::{Outcome, run};
pub use stats::Summary;
