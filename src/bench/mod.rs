//! The run loop and its stopping rule, written once against [`crate::backend::Backend`].

pub mod runner;
pub mod soak;
pub mod stopping;

pub use runner::{RunContext, run, salvage};
