//! The run configuration file (`kdnas search --config FILE`): which space, data, network and
//! hyper-parameters. Every field has DARTS's default except the space and the network size.

use crate::config_file::{config_toml, load_config, parse_config};
use crate::data::DataConfig;
use crate::error::Result;
use crate::export::DeriveRule;
use crate::files::absolute_from;
use crate::models::NetworkConfig;
use crate::run::FolderConfig;
use crate::search::SearchConfig;
use crate::search::prepared::{SpaceRunConfig, space_run_accessors};
use crate::tasks::{TaskKind, TaskSection};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A complete run description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which task (`image`, the default, for DARTS cell search).
    #[serde(default)]
    pub task: TaskSection,
    /// Search-space file, relative to the config file.
    pub space: PathBuf,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Image data.
    #[serde(default)]
    pub data: DataConfig,
    /// Search network skeleton.
    pub network: NetworkConfig,
    /// Search hyper-parameters.
    #[serde(default)]
    pub search: SearchConfig,
    /// Derivation rule.
    #[serde(default)]
    pub derive: DeriveRule,
    /// Training of the derived network.
    #[serde(default)]
    pub train: TrainConfig,
}

/// The genotype a `kdnas train` run folder keeps for resuming (and `kdnas eval` rebuilds from).
pub const TRAIN_GENOTYPE: &str = "genotype.json";

impl RunConfig {
    /// The skeleton of the derived network `kdnas train` trains: the search network's, with
    /// `train.channels` and `train.layers` where set.
    pub fn derived_network(&self) -> NetworkConfig {
        NetworkConfig {
            channels: self.train.channels.unwrap_or(self.network.channels),
            layers: self.train.layers.unwrap_or(self.network.layers),
            ..self.network.clone()
        }
    }

    /// Parses and validates config text; errors name `path`, the line and the field.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        parse_config(text, path, Self::validate)
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.task.expect(TaskKind::Image)?;
        self.data.validate()?;
        self.network.validate("network")?;
        self.search.validate()?;
        self.train.validate()?;
        self.train.refuse_patience("kdnas train")
    }

    /// Makes a relative `data.dir` absolute against `base` (the config file's folder), so the config
    /// can be copied into a run directory and still find its data.
    pub fn with_absolute_data_dir(mut self, base: &Path) -> Self {
        self.data.resolve(base);
        self
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        config_toml(self)
    }
}

impl FolderConfig for RunConfig {
    const COMMAND: &'static str = "search";
    const WHAT: &'static str = "search";
    fn load(path: &Path) -> Result<Self> {
        RunConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
        self.space = absolute_from(base, &self.space);
    }
}

impl SpaceRunConfig for RunConfig {
    space_run_accessors!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_config_errors_in_the_data_section_name_file_line_and_field() {
        let text = "space = \"s.toml\"\n[network]\nchannels = 8\nlayers = 5\n[data]\nlimit_train_per_class = 0\n";
        let err = RunConfig::parse(text, Path::new("runs/bad.toml")).unwrap_err().to_string();
        assert_eq!(err, "runs/bad.toml:6: `data.limit_train_per_class`: must be at least 1");
        let text = "space = \"s.toml\"\n[network]\nchannels = 8\nlayers = 5\n[data]\nsource = \"idx\"\n";
        let err = RunConfig::parse(text, Path::new("runs/bad.toml")).unwrap_err().to_string();
        assert!(err.starts_with("runs/bad.toml:") && err.contains("`data.dir`: required with data.source"), "{err}");
    }
}
