//! Checkpoint manifests: what a checkpoint belongs to (a fingerprint of the resolved config, the input
//! files and the network's parameter shapes) and what it contains (size and hash of every file). A
//! resume recomputes the fingerprint of the run as it is now and refuses a checkpoint that does not
//! match, naming what differs, instead of loading weights into a network of another shape.

use crate::error::{KdnasError, Result};
use crate::files::content_hash;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of the manifest inside a checkpoint directory.
pub const MANIFEST: &str = "manifest.json";

/// Config keys left out of the fingerprint: a run directory moved to another machine or clone may
/// point at its data somewhere else (the data's shape is still checked through the network's shapes),
/// and early stopping only decides where a run ends, not what any epoch computes. The path of every
/// input file is left out too: its contents are fingerprinted under the same key (see
/// [`Fingerprint::new`]). So is `space`, another file's location: a search fingerprints the contents of
/// its copy (`space.toml`), and a training run builds from its genotype, not the space.
const UNFINGERPRINTED_KEYS: [&str; 4] = ["data.dir", "data.path", "space", "train.patience"];

/// What a run is: the settings and inputs its checkpoints can only be resumed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The resolved config as dotted `section.key` -> TOML value text.
    pub config: BTreeMap<String, String>,
    /// Content hash of each input file the run copied (e.g. `space.toml`, `genotype.json`).
    pub inputs: BTreeMap<String, String>,
    /// Shape of every parameter and buffer of the network, in module order.
    pub params: Vec<Vec<usize>>,
}

impl Fingerprint {
    /// The fingerprint of a run with `config` (any serialisable config), the input files `inputs`
    /// (name, contents) and the freshly built `network`.
    pub fn new<B: Backend, M: Module<B>, C: Serialize>(
        config: &C,
        inputs: &[(&str, &[u8])],
        network: &M,
    ) -> Result<Self> {
        let value = toml::Value::try_from(config)
            .map_err(|e| KdnasError::Usage(format!("cannot serialise the config for its fingerprint: {e}")))?;
        let mut flat = BTreeMap::new();
        flatten("", &value, &mut flat);
        let inputs: BTreeMap<String, String> =
            inputs.iter().map(|(name, bytes)| (name.to_string(), content_hash(bytes))).collect();
        flat.retain(|key, _| Self::identity_key(key, &inputs));
        Ok(Self { config: flat, inputs, params: param_shapes(network) })
    }

    /// Whether the config key `key` says what the run is rather than where its files lie: not one of
    /// the unfingerprinted keys, nor the path of one of `inputs` (whose contents count instead).
    fn identity_key(key: &str, inputs: &BTreeMap<String, String>) -> bool {
        !UNFINGERPRINTED_KEYS.contains(&key) && !inputs.contains_key(key)
    }

    /// Every difference between the run as checkpointed (`self`) and as it is now (`now`), one line each.
    /// Keys that only locate files are skipped on both sides, so checkpoints written before a key was
    /// left out still resume.
    /// Arrays of tables that checkpoints before per-element keys recorded as one value (e.g. a
    /// distillation's whole `objective` list) are compared element by element, so their file paths are
    /// skipped too.
    pub fn differences(&self, now: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let (then_config, now_config) = (expand_table_arrays(&self.config), expand_table_arrays(&now.config));
        let keys: std::collections::BTreeSet<&String> = then_config.keys().chain(now_config.keys()).collect();
        let keys = keys
            .into_iter()
            .filter(|key| Self::identity_key(key, &self.inputs) && Self::identity_key(key, &now.inputs));
        for key in keys {
            let (then, current) = (then_config.get(key), now_config.get(key));
            if then != current {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(not set)".into());
                out.push(format!("config `{key}`: {} in the checkpoint, {} now", show(then), show(current)));
            }
        }
        for (name, hash) in &self.inputs {
            if now.inputs.get(name) != Some(hash) {
                out.push(format!("`{name}` differs from the one the checkpoint was made with"));
            }
        }
        if self.params.len() != now.params.len() {
            out.push(format!(
                "the network has {} parameter tensors now, the checkpoint {}",
                now.params.len(),
                self.params.len()
            ));
        } else if let Some(i) = (0..self.params.len()).find(|&i| self.params[i] != now.params[i]) {
            out.push(format!(
                "network parameter {i} has shape {:?} now, {:?} in the checkpoint",
                now.params[i], self.params[i]
            ));
        }
        out
    }
}

/// `value` flattened into `prefix.key` -> value text; the tables of an array of tables flatten under
/// `prefix[i]`, so each of their keys (a file path among them) is a key of its own.
fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&name, v, out);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(toml::Value::is_table) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// `config` with every value that is the text of an array of tables (as checkpoints before per-element
/// keys recorded it) flattened element by element, as [`flatten`] does now.
fn expand_table_arrays(config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, text) in config {
        match toml::from_str::<toml::Table>(&format!("value = {text}")).ok().and_then(|mut t| t.remove("value")) {
            Some(value @ toml::Value::Array(_)) => flatten(key, &value, &mut out),
            _ => {
                out.insert(key.clone(), text.clone());
            }
        }
    }
    out
}

/// Shapes of every float tensor of `module` (parameters and running statistics), in visit order.
pub fn param_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.shape().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}

/// Checks a module loaded from `path` against the shapes it was built with (`expected`, from
/// [`param_shapes`] of the fresh module): burn takes shapes from the record without comparing them,
/// so a forged or corrupted record would otherwise surface as a panic deep inside a forward pass.
pub fn check_loaded<B: Backend, M: Module<B>>(path: &Path, expected: &[Vec<usize>], module: &M) -> Result<()> {
    struct Check<'a> {
        expected: &'a [Vec<usize>],
        index: usize,
        fault: Option<String>,
    }
    impl<B: Backend> ModuleVisitor<B> for Check<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let i = self.index;
            self.index += 1;
            if self.fault.is_some() {
                return;
            }
            let shape = param.shape().to_vec();
            let data = param.val().to_data();
            let stored = data.as_slice::<f32>().map(<[f32]>::len);
            self.fault = match (self.expected.get(i), stored) {
                (None, _) => Some(format!("tensor {i} is not part of the network")),
                (Some(want), _) if *want != shape => {
                    Some(format!("tensor {i} has shape {shape:?}, the network needs {want:?}"))
                }
                (_, Ok(n)) if n != shape.iter().product::<usize>() => {
                    Some(format!("tensor {i} of shape {shape:?} holds {n} values"))
                }
                (_, Err(e)) => Some(format!("tensor {i} cannot be read as f32: {e:?}")),
                _ => None,
            };
        }
    }
    let mut check = Check { expected, index: 0, fault: None };
    module.visit(&mut check);
    if check.fault.is_none() && check.index != expected.len() {
        check.fault = Some(format!("{} tensors, the network needs {}", check.index, expected.len()));
    }
    match check.fault {
        Some(fault) => {
            Err(checkpoint_error(path, format!("{fault}: the record is corrupted or belongs to another network")))
        }
        None => Ok(()),
    }
}

/// Size and content hash of one checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Length in bytes.
    pub bytes: u64,
    /// [`content_hash`] of the contents.
    pub hash: String,
}

/// A checkpoint's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What kind of run wrote it (`search`, `train`).
    pub kind: String,
    /// The run it belongs to.
    pub fingerprint: Fingerprint,
    /// Every other file of the checkpoint directory.
    pub files: BTreeMap<String, FileRecord>,
}

/// Records every file of the checkpoint directory `dir` (being written) with `fingerprint`.
pub fn write_manifest(dir: &Path, kind: &str, fingerprint: &Fingerprint) -> Result<()> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| KdnasError::io(dir, e))? {
        let path = entry.map_err(|e| KdnasError::io(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name == MANIFEST {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| KdnasError::io(&path, e))?;
        files.insert(name, FileRecord { bytes: bytes.len() as u64, hash: content_hash(&bytes) });
    }
    let manifest = Manifest { kind: kind.to_string(), fingerprint: fingerprint.clone(), files };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| checkpoint_error(dir, e))?;
    crate::files::write_file_atomically(&dir.join(MANIFEST), &json)
}

/// Checks the checkpoint directory `dir` before anything is loaded from it: its manifest must be of
/// `kind`, every recorded file present and unchanged, and its fingerprint equal to `now`.
pub fn verify_checkpoint(dir: &Path, kind: &str, now: &Fingerprint) -> Result<()> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| {
        checkpoint_error(
            &path,
            format!("cannot read the manifest ({e}); the checkpoint is incomplete or from a kdnas before manifests"),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| checkpoint_error(&path, e))?;
    if manifest.kind != kind {
        return Err(checkpoint_error(
            &path,
            format!("this is a checkpoint of a `{}` run, not of a `{kind}` run", manifest.kind),
        ));
    }
    for (name, record) in &manifest.files {
        let file = dir.join(name);
        let bytes = std::fs::read(&file).map_err(|e| KdnasError::io(&file, e))?;
        if bytes.len() as u64 != record.bytes || content_hash(&bytes) != record.hash {
            return Err(checkpoint_error(
                &file,
                format!(
                    "{} bytes now, {} when the checkpoint was written, or other contents: the file was truncated, corrupted or replaced",
                    bytes.len(),
                    record.bytes
                ),
            ));
        }
    }
    let differences = manifest.fingerprint.differences(now);
    if !differences.is_empty() {
        return Err(checkpoint_error(
            dir,
            format!(
                "the checkpoint belongs to another run configuration and cannot be resumed with this one:\n  {}\n(restore the run's files or start a new run with --out)",
                differences.join("\n  ")
            ),
        ));
    }
    Ok(())
}

fn checkpoint_error(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::nn::{Linear, LinearConfig};

    /// A run's config: its data and teacher checkpoint live at `root`, `lr` is a hyper-parameter.
    #[derive(Serialize)]
    struct Config {
        data: Data,
        teacher: Teacher,
        lr: f64,
    }
    #[derive(Serialize)]
    struct Data {
        path: String,
    }
    #[derive(Serialize)]
    struct Teacher {
        checkpoint: String,
    }

    fn fingerprint(root: &str, lr: f64, teacher_bytes: &[u8]) -> Fingerprint {
        let config = Config {
            data: Data { path: format!("{root}/data/seq.txt") },
            teacher: Teacher { checkpoint: format!("{root}/teacher/model.mpk") },
            lr,
        };
        let net: Linear<Flex> = LinearConfig::new(2, 3).init(&Default::default());
        Fingerprint::new(&config, &[("teacher.checkpoint", teacher_bytes)], &net).unwrap()
    }

    #[test]
    fn a_run_moved_with_its_inputs_keeps_its_fingerprint() {
        let here = fingerprint("/old/clone", 0.1, b"weights");
        let moved = fingerprint("../../moved", 0.1, b"weights");
        assert_eq!(here, moved);
        assert!(here.differences(&moved).is_empty());
    }

    #[test]
    fn other_hyper_parameters_or_input_contents_are_differences() {
        let run = fingerprint("/p", 0.1, b"weights");
        let other_lr = run.differences(&fingerprint("/p", 0.2, b"weights"));
        assert_eq!(other_lr, vec!["config `lr`: 0.1 in the checkpoint, 0.2 now".to_string()]);
        let other_teacher = run.differences(&fingerprint("/p", 0.1, b"other weights"));
        assert_eq!(
            other_teacher,
            vec!["`teacher.checkpoint` differs from the one the checkpoint was made with".to_string()]
        );
    }

    #[test]
    fn location_keys_of_older_checkpoints_are_not_differences() {
        let mut older = fingerprint("/p", 0.1, b"weights");
        older.config.insert("data.path".into(), "\"/old/data/seq.txt\"".into());
        older.config.insert("teacher.checkpoint".into(), "\"/old/teacher/model.mpk\"".into());
        assert!(older.differences(&fingerprint("/q", 0.1, b"weights")).is_empty());
    }

    /// A distillation-like config: a list of objectives, one reading a search run at `root`.
    #[derive(Serialize)]
    struct Objectives {
        objective: Vec<ObjectiveEntry>,
    }
    #[derive(Serialize)]
    struct ObjectiveEntry {
        kind: String,
        weight: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        search: Option<String>,
    }

    fn objectives_fingerprint(root: &str, weight: f64) -> Fingerprint {
        let config = Objectives {
            objective: vec![
                ObjectiveEntry { kind: "ce".into(), weight: 1.0, search: None },
                ObjectiveEntry { kind: "aggregation".into(), weight, search: Some(format!("{root}/search")) },
            ],
        };
        let net: Linear<Flex> = LinearConfig::new(2, 3).init(&Default::default());
        Fingerprint::new(&config, &[("objective[1].search", b"genotype")], &net).unwrap()
    }

    #[test]
    fn paths_inside_arrays_of_tables_are_locations_and_other_entries_are_compared() {
        let here = objectives_fingerprint("/old/clone", 0.5);
        assert!(here.config.contains_key("objective[1].weight"));
        assert!(here.differences(&objectives_fingerprint("../moved", 0.5)).is_empty());
        assert_eq!(
            here.differences(&objectives_fingerprint("/old/clone", 0.25)),
            vec!["config `objective[1].weight`: 0.5 in the checkpoint, 0.25 now".to_string()]
        );
    }

    #[test]
    fn arrays_of_tables_recorded_whole_by_older_checkpoints_are_compared_per_entry() {
        let mut older = objectives_fingerprint("/old/clone", 0.5);
        older.config.retain(|key, _| !key.starts_with("objective["));
        older.config.insert(
            "objective".into(),
            r#"[{ kind = "ce", weight = 1.0 }, { kind = "aggregation", weight = 0.5, search = "/old/clone/search" }]"#
                .into(),
        );
        assert!(older.differences(&objectives_fingerprint("../moved", 0.5)).is_empty());
        assert_eq!(older.differences(&objectives_fingerprint("../moved", 0.25)).len(), 1);
    }
}
