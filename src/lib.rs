//! kdnas: differentiable architecture search and distillation on burn.
//!
//! A search problem is a petgraph of mixed choices ([`space::ArchGraph`]), trained by one bi-level loop
//! ([`search`]), then frozen into a plain network ([`export`]) for a final training stage.

pub mod app;
pub mod config_file;
pub mod data;
pub mod distill;
pub mod error;
pub mod export;
pub mod files;
pub mod manifest;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod record_files;
pub mod run;
pub mod search;
pub mod space;
pub mod supernet;
pub mod tasks;
pub mod train;
pub mod validate;

pub use error::{KdnasError, Result};
