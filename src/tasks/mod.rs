//! Tasks: what is searched or trained, with which data and losses. Each plugs into the one search
//! loop through [`crate::search::SearchTask`] and into the one training loop through its training task.

pub mod adarec;
pub mod dfa;
pub mod image;
pub mod kind;

pub use kind::{TaskKind, TaskSection, task_kind_of};
