//! Optimisers and learning-rate schedules shared by the search loop and the training loop.

pub mod schedule;

pub use crate::search::sgd::Sgd;
pub use schedule::{LrSchedule, cosine_lr};
