//! The ground floor both loops stand on (search and training; neither imports the other): a task's
//! loss and its host reading ([`loss`]), per-epoch meters and seeds ([`meter`]), the checkpoint
//! layout of a run directory ([`checkpoint`]), the run folder's other files ([`folder`]) and what a
//! run reports when a call ends ([`summary`]).

pub mod checkpoint;
pub mod folder;
pub mod loss;
pub mod meter;
pub mod summary;

pub use loss::{LossReading, TaskLoss, read_loss};
pub use meter::{Meter, epoch_seed};
pub use summary::{RunProgress, RunSummary, run_end_text};
