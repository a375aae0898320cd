//! The `[task]` section of a run config: which task's wiring reads the rest of the file.

use crate::error::{KdnasError, Result};
use crate::space::Source;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The tasks kdnas runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// DARTS cell search on images (the default when a config has no `[task]`).
    #[default]
    Image,
    /// DFA feature-aggregation search and distillation.
    Dfa,
    /// AdaRec: NextItNet teacher, causal 1-D student search, fine-tuning (sequential recommendation).
    Adarec,
}

/// One task kdnas runs, as its folder declares it (`tasks/<kind>/mod.rs`, `pub const TASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEntry {
    /// The task.
    pub kind: TaskKind,
    /// Its name in config files (`[task] kind = "..."`).
    pub name: &'static str,
    /// The commands that run its configs, named when a config reaches the wrong command.
    pub runs_with: &'static str,
}

/// Every task kdnas runs: a new task is its folder, its [`TaskKind`] variant and one line here.
pub const TASKS: [TaskEntry; 3] = [super::image::TASK, super::dfa::TASK, super::adarec::TASK];

impl TaskKind {
    /// The task's entry in [`TASKS`].
    pub fn entry(self) -> &'static TaskEntry {
        TASKS.iter().find(|task| task.kind == self).expect("every TaskKind has its line in TASKS")
    }

    /// The name used in config files.
    pub fn name(self) -> &'static str {
        self.entry().name
    }
}

/// The `[task]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TaskSection {
    /// Which task the config describes.
    pub kind: TaskKind,
}

impl TaskSection {
    /// Fails unless the section names `expected`, saying which command runs the config instead.
    pub fn expect(&self, expected: TaskKind) -> Result<()> {
        if self.kind == expected {
            return Ok(());
        }
        let command = self.kind.entry().runs_with;
        Err(crate::validate::field_error(
            "task.kind",
            format!("this is a `{}` config, not `{}`: run it with `{command}`", self.kind.name(), expected.name()),
        ))
    }
}

/// The task kind a config file declares (`image` when it has no `[task]` section); only the
/// `[task]` section is read, so any task's config can be routed before it is parsed.
pub fn task_kind_of(path: &Path) -> Result<TaskKind> {
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    let src = Source { path, text: &text };
    let table: toml::Table = toml::from_str(&text).map_err(|e| src.toml_error(e))?;
    let Some(task) = table.get("task") else { return Ok(TaskKind::Image) };
    let section: TaskSection = task.clone().try_into().map_err(|e: toml::de::Error| {
        let err = crate::validate::field_error("task.kind", e.message());
        crate::config_file::locate_usage(&src, err)
    })?;
    Ok(section.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_one_entry_whose_name_is_its_config_name() {
        for kind in [TaskKind::Image, TaskKind::Dfa, TaskKind::Adarec] {
            assert_eq!(TASKS.iter().filter(|task| task.kind == kind).count(), 1, "{kind:?}");
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
        let err = TaskSection { kind: TaskKind::Dfa }.expect(TaskKind::Image).unwrap_err().to_string();
        assert!(err.contains("this is a `dfa` config, not `image`: run it with `kdnas dfa search"), "{err}");
    }
}
