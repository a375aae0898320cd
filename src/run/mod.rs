//! The ground floor both loops stand on (search and training; neither imports the other): a task's
//! loss and its host reading ([`loss`]), per-epoch meters and seeds ([`meter`]) and the checkpoint
//! layout of a run directory ([`checkpoint`]).

pub mod checkpoint;
pub mod loss;
pub mod meter;

pub use loss::{LossReading, TaskLoss, read_loss};
pub use meter::{Meter, epoch_seed};
