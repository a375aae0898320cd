//! AdaRec (spec/adarec.md): sequential recommendation with a NextItNet teacher and a searched causal
//! 1-D student. Configs (search, fine-tuning, teacher), data and ranking evaluation, the training task shared by the teacher and derived
//! students, the frozen teacher, and the search task with its losses.

pub mod budget;
pub mod config;
pub mod cost_table;
pub mod data;
pub mod losses;
pub mod ranking;
pub mod recommender;
pub mod run_model;
pub mod run_summary;
pub mod search_outputs;
pub mod search_task;
pub mod student;
pub mod teacher;
pub mod teacher_config;
pub mod train_task;

/// The adarec task's line in [`crate::tasks::kind::TASKS`].
pub const TASK: crate::tasks::kind::TaskEntry = crate::tasks::kind::TaskEntry {
    kind: crate::tasks::TaskKind::Adarec,
    name: "adarec",
    runs_with: "kdnas teacher train --config FILE",
};
