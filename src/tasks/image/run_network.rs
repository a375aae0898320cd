//! The image classifier a finished run trained, rebuilt from its run folder alone (`kdnas eval`): a
//! teacher or distilled student from `model.json`, or a derived cell network from the genotype and
//! config of a `kdnas train` run, with the weights of any of its `.mpk` files.

use super::RunConfig;
use super::config::TRAIN_GENOTYPE;
use super::teacher_run::ModelInfo;
use crate::config_file::load_data_section;
use crate::data::DataConfig;
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::models::{CellNetwork, Model, NetworkConfig};
use crate::ops::OpMode;
use crate::run::checkpoint::load_module;
use crate::run::folder::RUN_CONFIG;
use crate::space::ArchGraph;
use crate::train::ImageClassifier;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use std::path::Path;

/// The image `[data]` section of the TOML file `path` (other sections are ignored, so any run config
/// works), with its directory resolved against the file's folder.
pub fn image_data_section(path: &Path) -> Result<DataConfig> {
    let mut data: DataConfig = load_data_section(path, DataConfig::validate)?;
    data.resolve(path.parent().unwrap_or(Path::new(".")));
    Ok(data)
}

/// The network a run directory trained, as `kdnas eval` rebuilds it.
pub enum RunNetwork {
    /// A teacher of `kdnas teacher train` or a student of `kdnas distill`.
    Teacher(ModelInfo),
    /// A derived cell network of `kdnas train`: its genotype's graph and skeleton, with the image
    /// channels and classes of the run's data.
    Derived { graph: ArchGraph, network: NetworkConfig, in_channels: usize, classes: usize },
}

/// A network rebuilt by [`RunNetwork::build`].
pub enum Built<B: Backend> {
    /// A teacher or distilled student.
    Teacher(Box<Model<B>>),
    /// A derived cell network.
    Derived(Box<CellNetwork<B>>),
}

impl<B: Backend> ImageClassifier<B> for Built<B> {
    fn train_logits(&self, images: Tensor<B, 4>, drop_path: f64) -> Tensor<B, 2> {
        match self {
            Built::Teacher(net) => net.train_logits(images, drop_path),
            Built::Derived(net) => net.train_logits(images, drop_path),
        }
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Built::Teacher(net) => net.logits(images),
            Built::Derived(net) => net.logits(images),
        }
    }
}

impl RunNetwork {
    /// The network of `run_dir` and the data section of its config.
    pub fn open(run_dir: &Path) -> Result<(Self, DataConfig)> {
        let config_path = run_dir.join(RUN_CONFIG);
        if !run_dir.join(TRAIN_GENOTYPE).is_file() {
            // A teacher or distillation run: model.json describes the network; only [data] is read.
            return Ok((RunNetwork::Teacher(ModelInfo::load(run_dir)?), image_data_section(&config_path)?));
        }
        let config = RunConfig::load(&config_path)?.with_absolute_data_dir(run_dir);
        let graph = Genotype::load(&run_dir.join(TRAIN_GENOTYPE))?.to_arch_graph()?;
        let (train, _) = config.data.load(Path::new("."))?;
        let network = config.derived_network();
        let (in_channels, classes) = (train.channels, train.classes);
        Ok((RunNetwork::Derived { graph, network, in_channels, classes }, config.data))
    }

    /// Short name of the network.
    pub fn name(&self) -> String {
        match self {
            RunNetwork::Teacher(info) => info.name.clone(),
            RunNetwork::Derived { network, .. } => {
                format!("derived network (C={}, {} cells)", network.channels, network.layers)
            }
        }
    }

    /// Channels of the input images and classes of the output.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            RunNetwork::Teacher(info) => (info.in_channels, info.classes),
            RunNetwork::Derived { in_channels, classes, .. } => (*in_channels, *classes),
        }
    }

    /// Builds the network with the weights of the `.mpk` file `weights`; weights of another
    /// architecture are a checkpoint error naming the file.
    pub fn build<B: Backend>(&self, weights: &Path, device: &B::Device) -> Result<Built<B>> {
        if weights.extension().is_none_or(|e| e != "mpk") {
            return Err(KdnasError::Usage(format!("{}: weights must be an .mpk record", weights.display())));
        }
        let stem = weights.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let folder = weights.parent().unwrap_or(Path::new("."));
        let (in_channels, classes) = self.shape();
        let explain = |e: KdnasError| match e {
            KdnasError::Checkpoint { path, message } => {
                let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
                let message = format!(
                    "these weights do not fit {}, the network the run's {RUN_CONFIG} describes ({message})",
                    self.name()
                );
                KdnasError::Checkpoint { path, message }
            }
            other => other,
        };
        Ok(match self {
            RunNetwork::Teacher(info) => {
                let net = info.model.build::<B>(in_channels, classes, device)?;
                Built::Teacher(Box::new(load_module(folder, &stem, net, device).map_err(explain)?))
            }
            RunNetwork::Derived { graph, network, .. } => {
                let net = CellNetwork::<B>::new(graph, network, in_channels, classes, OpMode::Derived, device)?;
                Built::Derived(Box::new(load_module(folder, &stem, net, device).map_err(explain)?))
            }
        })
    }
}
