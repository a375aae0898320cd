//! Candidate-op implementations, one sub-module per catalogue.

pub mod causal1d;
pub mod conv2d;
pub mod family;
pub mod init;

pub use family::{AdoptTrained, CandidateOp, OpMode};
