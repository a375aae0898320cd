//! The supernet: architecture weights, relaxations, mixed ops, cells and the cell network.

pub mod arch_params;
pub mod cell;
pub mod cost;
pub mod darts_cell;
pub mod mixed_op;
pub mod network;
pub mod op_latency;
pub mod relaxation;
pub mod sequence_network;
pub mod size;
pub mod weighted_sum;

pub use arch_params::ArchParams;
pub use network::{CellNetwork, NetworkConfig, trainable_params};
pub use relaxation::{ArchWeights, GumbelNoise, OpEvaluation, Relaxation, TemperatureSchedule};
pub use size::{NetworkSize, ensure_fits};
pub use weighted_sum::weighted_sum;
