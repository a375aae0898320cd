//! DFA (Differentiable Feature Aggregation, Guan et al. 2020): a student distils from learned weighted
//! aggregations of one teacher's block features per stage (spec/dfa.md). Stage 1 searches the
//! weights softmax(beta) with the bridge loss through the one search loop; stage 2 trains a fresh
//! student towards the fixed aggregations through the one training loop.

pub mod config;
pub mod connector;
pub mod distill_config;
pub mod distill_task;
pub mod losses;
pub mod net;
pub mod objectives;
pub mod search_task;
pub mod space_check;
pub mod teacher;

pub use connector::Connector;
pub use losses::{DfaLosses, Distance, StudentToTeacher};
pub use net::DfaStudent;
pub use search_task::{DfaSearchTask, TeacherBatch, aggregates, stage_outputs, teacher_batch};
pub use teacher::{FrozenTeacher, TeacherSection};

/// The dfa task's line in [`crate::tasks::kind::TASKS`].
pub const TASK: crate::tasks::kind::TaskEntry = crate::tasks::kind::TaskEntry {
    kind: crate::tasks::TaskKind::Dfa,
    name: "dfa",
    runs_with: "kdnas dfa search --config FILE (or kdnas distill --config FILE)",
};
