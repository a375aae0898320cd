//! Checks a DFA space and a teacher/student pair against each other before any work starts.

use crate::error::Result;
use crate::models::StageShape;
use crate::space::{ArchGraph, ChoiceKind, ChoiceSlot};
use crate::validate::field_error;

/// The choice slot of every teacher stage, in stage order, after checking that the space declares
/// exactly one plain input choice per stage with one candidate per block. Errors name the space
/// field (`choice[i].candidates`), to be located in the space file by the caller.
pub fn stage_slots(space: &ArchGraph, teacher: &[StageShape], teacher_name: &str) -> Result<Vec<ChoiceSlot>> {
    if !space.cells.is_empty() {
        return Err(field_error("cell[0].name", "a DFA space declares only `[[choice]]` groups, no cells"));
    }
    if space.groups.len() != teacher.len() {
        return Err(field_error(
            &format!("choice[{}].name", space.groups.len().min(teacher.len())),
            format!(
                "the space declares {} choices but the teacher {teacher_name} has {} stages: declare one `[[choice]]` per stage",
                space.groups.len(),
                teacher.len()
            ),
        ));
    }
    let mut slots = Vec::with_capacity(teacher.len());
    for (i, (group, stage)) in space.groups.iter().zip(teacher).enumerate() {
        if group.kind != ChoiceKind::Input || group.rows() != 1 {
            return Err(field_error(&format!("choice[{i}].name"), "expected a plain `[[choice]]`"));
        }
        if group.candidates.len() != stage.blocks {
            return Err(field_error(
                &format!("choice[{i}].candidates"),
                format!(
                    "{} candidates, but stage {} of the teacher {teacher_name} has {} blocks",
                    group.candidates.len(),
                    i + 1,
                    stage.blocks
                ),
            ));
        }
        slots.push(ChoiceSlot { group: i, row: 0 });
    }
    Ok(slots)
}

/// Checks that the student's stages line up with the teacher's (same count and resolutions;
/// channels may differ, connectors map them).
pub fn check_pair(teacher: &[StageShape], student: &[StageShape], names: (&str, &str)) -> Result<()> {
    let (teacher_name, student_name) = names;
    if teacher.len() != student.len() {
        return Err(field_error(
            "student.model",
            format!("{student_name} has {} stages, the teacher {teacher_name} {}", student.len(), teacher.len()),
        ));
    }
    for (i, (t, s)) in teacher.iter().zip(student).enumerate() {
        if t.stride != s.stride {
            return Err(field_error(
                "student.model",
                format!(
                    "stage {} of {student_name} has stride {}, of the teacher {teacher_name} {}",
                    i + 1,
                    s.stride,
                    t.stride
                ),
            ));
        }
    }
    Ok(())
}
