//! Every TOML file shipped under examples/ and results/ loads with the loader of the command it is
//! written for (chosen by its name and `[task] kind`), so a config field renamed or added in the code
//! cannot leave a documented command or a results script with a config it refuses.

use kdnas::space::load_space;
use kdnas::tasks::adarec::config::{AdarecFinetuneConfig, AdarecSearchConfig};
use kdnas::tasks::adarec::teacher_config::SequenceTeacherConfig;
use kdnas::tasks::dfa::config::DfaSearchConfig;
use kdnas::tasks::dfa::distill_config::DistillConfig;
use kdnas::tasks::image::RunConfig;
use kdnas::tasks::image::TeacherConfig;
use kdnas::tasks::{TaskKind, task_kind_of};
use std::path::{Path, PathBuf};

/// Every `.toml` below `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Loads `path` as the config of the command its name says (a run directory's `config.toml`: the
/// directory's name); `Err` holds the loader's message.
fn load_shipped(path: &Path) -> Result<(), String> {
    let mut stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    if stem == "config" {
        stem = path.parent().and_then(Path::file_name).unwrap().to_string_lossy().into_owned();
    }
    let kind = || task_kind_of(path).map_err(|e| e.to_string());
    let done = |r: kdnas::Result<()>| r.map_err(|e| e.to_string());
    if stem == "space" || stem.starts_with("dfa_") || stem.starts_with("adarec_") {
        return done(load_space(path).map(drop));
    }
    if stem.starts_with("distill_") {
        return done(DistillConfig::load(path).map(drop));
    }
    if stem.starts_with("finetune") {
        return done(AdarecFinetuneConfig::load(path).map(drop));
    }
    if stem.starts_with("teacher") {
        return match kind()? {
            TaskKind::Adarec => done(SequenceTeacherConfig::load(path).map(drop)),
            _ => done(TeacherConfig::load(path).map(drop)),
        };
    }
    if stem.starts_with("search") || stem == "quickstart" || stem == "train" {
        return match kind()? {
            TaskKind::Adarec => done(AdarecSearchConfig::load(path).map(drop)),
            TaskKind::Dfa => done(DfaSearchConfig::load(path).map(drop)),
            TaskKind::Image => done(RunConfig::load(path).map(drop)),
        };
    }
    Err("no command is known for this file name: give it a loader in tests/shipped_configs.rs".into())
}

#[test]
fn every_shipped_config_loads_with_its_commands_loader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<PathBuf> = ["examples", "results"].iter().flat_map(|d| toml_files(&root.join(d))).collect();
    assert!(files.len() >= 60, "the shipped configs are found ({} files)", files.len());
    let failures: Vec<String> =
        files.iter().filter_map(|path| load_shipped(path).err().map(|e| format!("{}: {e}", path.display()))).collect();
    assert!(failures.is_empty(), "shipped configs that do not load:\n{}", failures.join("\n"));
}
