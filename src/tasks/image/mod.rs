//! The image tasks: DARTS cell search on images ([`search_task`]) with its run config ([`config`]),
//! the teacher-training config of image classifiers ([`teacher_config`]), what a classifier's run
//! folder keeps ([`teacher_run`]) and the network rebuilt from it ([`run_network`]).

pub mod config;
pub mod run_network;
pub mod search_task;
pub mod teacher_config;
pub mod teacher_run;

pub use config::{RunConfig, TRAIN_GENOTYPE};
pub use run_network::{RunNetwork, image_data_section};
pub use search_task::{ImageSearchTask, evaluation_of, split_set};
pub use teacher_config::TeacherConfig;
pub use teacher_run::{MODEL_INFO, ModelInfo, TeacherSummary};

/// The image task's line in [`crate::tasks::kind::TASKS`].
pub const TASK: crate::tasks::kind::TaskEntry = crate::tasks::kind::TaskEntry {
    kind: crate::tasks::TaskKind::Image,
    name: "image",
    runs_with: "kdnas search --config FILE",
};
