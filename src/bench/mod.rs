//! The run loop, its stopping rule and its statistics, written once against
//! [`crate::backend::Backend`].

pub mod runner;
pub mod stats;
pub mod stopping;

pub use runner::{Outcome, run};
pub use stats::Summary;
pub use stopping::RepsStop;
