//! Op families: the catalogue (a table of families, `catalogue.rs`) and one folder per family with its
//! op table, costs, build and forward.

pub mod catalogue;
pub mod causal1d;
pub mod conv2d;
pub mod family;
pub mod init;

pub use catalogue::{Catalogue, ZERO_OP};
pub use family::{AdoptTrained, CandidateOp, CellRule, OpFamily, OpMode};
