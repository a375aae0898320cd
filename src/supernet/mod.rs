//! The supernet: architecture weights, relaxations, mixed ops and cells. The whole networks built
//! from cells (DARTS's cell network, AdaRec's sequence cell network) live in `models`.

pub mod arch_params;
pub mod cell;
pub mod cost;
pub mod darts_cell;
pub mod mixed_op;
pub mod op_latency;
pub mod relaxation;
pub mod weighted_sum;

pub use arch_params::ArchParams;
pub use relaxation::{ArchWeights, GumbelNoise, OpEvaluation, Relaxation, TemperatureSchedule};
pub use weighted_sum::weighted_sum;
