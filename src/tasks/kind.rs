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

impl TaskKind {
    /// The name used in config files.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Image => "image",
            TaskKind::Dfa => "dfa",
            TaskKind::Adarec => "adarec",
        }
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
        let command = match self.kind {
            TaskKind::Image => "kdnas search --config FILE",
            TaskKind::Dfa => "kdnas dfa search --config FILE (or kdnas distill --config FILE)",
            TaskKind::Adarec => "kdnas teacher train --config FILE",
        };
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
