//! Optimisers and learning-rate schedules shared by the search loop and the training loop.

pub mod adamw;
pub mod grad_norm;
pub mod param_update;
pub mod schedule;
pub mod sgd;
pub mod state_file;
pub mod weight;

pub use adamw::{AdamDecay, AdamW};
pub use grad_norm::clip_global_norm;
pub use schedule::{LrSchedule, cosine_lr};
pub use sgd::Sgd;
pub use weight::{OptimizerKind, WeightOptimizer, WeightOptimizerConfig};
