//! The image tasks: DARTS cell search on images ([`search_task`]) with its run config ([`config`]),
//! and the teacher-training config of image classifiers ([`teacher_config`]).

pub mod config;
pub mod search_task;
pub mod teacher_config;

pub use config::RunConfig;
pub use search_task::{ImageSearchTask, evaluation_of, split_set};
pub use teacher_config::TeacherConfig;
