//! The files every run folder has besides its checkpoint: the copy of the resolved config it keeps
//! ([`RUN_CONFIG`], every path in it relative to the folder; [`write_run_copy`] and its read side
//! [`load_run_copy`]), the final result ([`RESULT_FILE`], stamped with the binary that made it) and
//! the final weights ([`FINAL_WEIGHTS`], one name for every command).

use super::summary::RunSummary;
use crate::error::{KdnasError, Result};
use burn::module::Module;
use burn::tensor::backend::Backend;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The resolved config a run folder keeps for resuming and evaluation, whatever the command.
pub const RUN_CONFIG: &str = "config.toml";

/// The summary a finished run writes ([`write_result`]).
pub const RESULT_FILE: &str = "result.json";

/// The weights a finished run ends with, whatever the command.
pub const FINAL_WEIGHTS: &str = "model.mpk";

/// Names earlier versions gave the final weights (`kdnas train` wrote `derived_net.mpk`); still read.
const EARLIER_FINAL_WEIGHTS: [&str; 1] = ["derived_net.mpk"];

/// The final weights of `run_dir` ([`FINAL_WEIGHTS`], or the name an earlier version wrote), if any.
pub fn final_weights(run_dir: &Path) -> Option<PathBuf> {
    std::iter::once(FINAL_WEIGHTS).chain(EARLIER_FINAL_WEIGHTS).map(|name| run_dir.join(name)).find(|p| p.is_file())
}

/// Writes [`FINAL_WEIGHTS`] (`net`) and [`RESULT_FILE`] (`summary`) of a finished run: when this call
/// ran epochs, or when a crash after the last checkpoint left them out (a finished run resumed again
/// changes nothing).
pub fn write_final_outputs<B: Backend, M: Module<B>>(
    out: &Path,
    net: &M,
    summary: &(impl RunSummary + Serialize),
    epochs_run: usize,
) -> Result<()> {
    if summary.finished() && (epochs_run > 0 || !out.join(FINAL_WEIGHTS).exists()) {
        crate::record_files::save_module(net, &out.join(FINAL_WEIGHTS))?;
        write_result(out, summary)?;
    }
    Ok(())
}

/// The kdnas version that built this binary.
pub const KDNAS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this binary was built from (`git rev-parse --short HEAD`, read by build.rs), or
/// `unknown` when it was built outside a git checkout.
pub const KDNAS_COMMIT: &str = env!("KDNAS_COMMIT");

/// Writes the copy of a resolved config that the run directory `run_dir` keeps, atomically, as its
/// [`RUN_CONFIG`] (see [`run_copy_toml`]).
pub fn write_run_copy<T: Serialize>(config: &T, run_dir: &Path) -> Result<()> {
    crate::files::write_file_atomically(&run_dir.join(RUN_CONFIG), run_copy_toml(config, run_dir)?.as_bytes())
}

/// Reads back what [`write_run_copy`] wrote: `load` parses and validates `run_dir`'s [`RUN_CONFIG`],
/// then `resolve` turns its paths (relative to the run folder) back into paths that hold from anywhere,
/// given `run_dir`. Both are required, so a resumed run cannot forget to resolve.
pub fn load_run_copy<T>(
    run_dir: &Path,
    load: impl FnOnce(&Path) -> Result<T>,
    resolve: impl FnOnce(T, &Path) -> T,
) -> Result<T> {
    Ok(resolve(load(&run_dir.join(RUN_CONFIG))?, run_dir))
}

/// Writes `summary` as the run folder's [`RESULT_FILE`], atomically, with `kdnas_version` and
/// `kdnas_commit` naming the binary that made it (files of earlier versions lack both; readers of the
/// summary ignore them).
pub fn write_result(run_dir: &Path, summary: &impl Serialize) -> Result<()> {
    let mut value = serde_json::to_value(summary).map_err(|e| KdnasError::Usage(e.to_string()))?;
    if let serde_json::Value::Object(fields) = &mut value {
        fields.insert("kdnas_version".into(), KDNAS_VERSION.into());
        fields.insert("kdnas_commit".into(), KDNAS_COMMIT.into());
    }
    let json = serde_json::to_string_pretty(&value).map_err(|e| KdnasError::Usage(e.to_string()))?;
    crate::files::write_file_atomically(&run_dir.join(RESULT_FILE), json.as_bytes())
}

/// The copy of a resolved config that a run directory keeps, as TOML text: every path (the resolved
/// config holds them absolute, and no other field is an absolute path) rewritten relative to `run_dir`,
/// which is what a resumed or evaluated run resolves them against. A project folder moved or cloned
/// elsewhere, run folders and data alike, so keeps working.
fn run_copy_toml<T: Serialize>(config: &T, run_dir: &Path) -> Result<String> {
    let serialise = |e: &dyn std::fmt::Display| KdnasError::Usage(format!("cannot serialise the config: {e}"));
    let mut value = toml::Value::try_from(config).map_err(|e| serialise(&e))?;
    relative_paths(&mut value, run_dir);
    toml::to_string_pretty(&value).map_err(|e| serialise(&e))
}

/// Rewrites every absolute path string inside `value` relative to `dir`.
fn relative_paths(value: &mut toml::Value, dir: &Path) {
    match value {
        toml::Value::String(text) if Path::new(text.as_str()).is_absolute() => {
            *text = crate::files::relative_to(dir, Path::new(text.as_str())).to_string_lossy().into_owned();
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|item| relative_paths(item, dir)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, item)| relative_paths(item, dir)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[derive(Serialize)]
    struct Paths {
        name: String,
        data: PathBuf,
        nested: Vec<Option<PathBuf>>,
    }

    #[test]
    fn final_weights_take_the_one_name_and_still_read_the_earlier_one() {
        let dir = std::env::temp_dir().join(format!("kdnas-final-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(final_weights(&dir), None, "an unfinished run");
        std::fs::write(dir.join("derived_net.mpk"), b"old").unwrap();
        assert_eq!(final_weights(&dir), Some(dir.join("derived_net.mpk")), "a run of an earlier kdnas train");
        std::fs::write(dir.join(FINAL_WEIGHTS), b"new").unwrap();
        assert_eq!(final_weights(&dir), Some(dir.join(FINAL_WEIGHTS)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_copies_name_files_relative_to_the_run_folder() {
        let config = Paths {
            name: "resnet".into(),
            data: PathBuf::from("/p/data/set.txt"),
            nested: vec![Some(PathBuf::from("/p/runs/teacher/model.mpk")), Some(PathBuf::from("kept/as/is"))],
        };
        let text = run_copy_toml(&config, Path::new("/p/runs/student")).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(value["name"].as_str(), Some("resnet"));
        assert_eq!(value["data"].as_str(), Some("../../data/set.txt"));
        assert_eq!(value["nested"][0].as_str(), Some("../teacher/model.mpk"));
        assert_eq!(value["nested"][1].as_str(), Some("kept/as/is"));
    }

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Summary {
        params: usize,
    }

    #[test]
    fn results_name_the_binary_and_results_without_it_still_read() {
        let dir = std::env::temp_dir().join(format!("kdnas-result-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_result(&dir, &Summary { params: 7 }).unwrap();
        let text = std::fs::read_to_string(dir.join(RESULT_FILE)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["kdnas_version"], KDNAS_VERSION);
        assert_eq!(value["kdnas_commit"], KDNAS_COMMIT);
        assert!(!KDNAS_COMMIT.is_empty());
        assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), Summary { params: 7 });
        assert_eq!(serde_json::from_str::<Summary>("{\"params\": 7}").unwrap(), Summary { params: 7 });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
