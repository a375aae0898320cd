//! Candidate-op implementations, one sub-module per catalogue.

pub mod conv2d;
pub mod family;
pub mod init;

pub use family::{CandidateOp, OpMode};
