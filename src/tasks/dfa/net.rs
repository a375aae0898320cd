//! What a DFA run trains: the student and the connectors between its stages and the teacher's.

use super::connector::{Connector, stage_connectors};
use crate::models::{Model, StageShape, StagedClassifier};
use burn::module::Module;
use burn::tensor::backend::Backend;

/// The student with its per-stage connectors.
#[derive(Module, Debug)]
pub struct DfaStudent<B: Backend> {
    /// The student network.
    pub student: Model<B>,
    /// Student stage i -> teacher channels (the feature term, and the student-to-teacher bridge).
    pub to_teacher: Vec<Connector<B>>,
    /// Teacher stage i -> student channels (the teacher-to-student bridge).
    pub to_student: Vec<Connector<B>>,
}

impl<B: Backend> DfaStudent<B> {
    /// Wraps `student` with connectors to and from a teacher of stage shapes `teacher`.
    pub fn new(student: Model<B>, teacher: &[StageShape], device: &B::Device) -> Self {
        let student_channels: Vec<usize> = student.stage_shapes().iter().map(|s| s.channels).collect();
        let teacher_channels: Vec<usize> = teacher.iter().map(|s| s.channels).collect();
        Self {
            to_teacher: stage_connectors(&student_channels, &teacher_channels, device),
            to_student: stage_connectors(&teacher_channels, &student_channels, device),
            student,
        }
    }
}
