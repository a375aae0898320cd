//! The bi-level search loop shared by every task.

pub mod arch_grads;
pub mod bilevel;
pub mod checkpoint;
pub mod config;
pub mod history;
pub mod params;
pub mod prepared;
pub mod run;
pub mod task;

pub use config::{SearchConfig, SearchMode};
pub use history::{EpochRecord, SearchState};
pub use prepared::{PreparedRun, RUN_SPACE, SpaceRunConfig, prepare_from_file, prepare_new_run, reopen_run};
pub use run::{OnDeriveEpoch, SearchControl, SearchOutcome, SearchRun, run_search};
pub use task::{SearchTask, Split};
