//! The ground floor both loops stand on (search and training; neither imports the other): the one
//! epoch driver ([`epochs`]) and its one record ([`record`]), a task's loss and its host reading
//! ([`loss`]), per-epoch meters and seeds ([`meter`]), the checkpoint layout of a run directory
//! ([`checkpoint`]), where a run starts, new or resumed ([`start`]), the run folder's other files
//! ([`folder`]) and what a run reports when a call ends ([`summary`]).

pub mod checkpoint;
pub mod epochs;
pub mod figures;
pub mod folder;
pub mod loss;
pub mod meter;
pub mod record;
pub mod start;
pub mod summary;

pub use epochs::{DriveOutcome, EpochPlan, EpochSteps, Patience, drive_epochs};
pub use loss::{LossReading, TaskLoss, read_loss};
pub use meter::{Meter, epoch_seed};
pub use record::{EpochRecord, RecordLayout, best_epoch};
pub use start::{FolderConfig, RunStart, open_run};
pub use summary::{RunProgress, RunSummary, run_end_text};
