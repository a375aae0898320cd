//! `kdnas eval CHECKPOINT`: scores the weights of a teacher run (its final, best or snapshot weights)
//! or of a derived-network training run (`kdnas train`) on the run's test set or on other data: top-1, top-5, per-class accuracy and the confusion matrix,
//! printed, written to `eval.json` and drawn as a row-normalised heatmap.

use super::teacher_cmd::{ModelInfo, best_weights, data_relative_to};
use super::train_cmd::{TRAIN_GENOTYPE, derived_network_config};
use crate::config_file::locate_usage;
use crate::data::{DataConfig, DataSource, FASHION_MNIST_CLASSES};
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::files::write_file_atomically;
use crate::models::Model;
use crate::models::{CellNetwork, NetworkConfig};
use crate::ops::conv2d::OpMode;
use crate::plot::{WeightTable, heatmap};
use crate::run::checkpoint::load_module;
use crate::run::folder::FINAL_WEIGHTS;
use crate::run::folder::RUN_CONFIG;
use crate::space::{ArchGraph, Source};
use crate::tasks::image::RunConfig;
use crate::train::ImageClassifier;
use crate::train::classify::{ClassifierScores, score_classifier};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Inputs of `kdnas eval`.
pub struct EvalArgs {
    /// A teacher run directory, or a weights file inside one (`model.mpk`, `best/model.mpk`,
    /// `snapshots/epoch_NNNN.mpk`); or a `kdnas train` directory (`model.mpk`; `derived_net.mpk` from earlier versions).
    pub checkpoint: PathBuf,
    /// A TOML file with a `[data]` section to evaluate on instead of the run's test set.
    pub data: Option<PathBuf>,
    /// Output directory (default: `eval` inside the run directory).
    pub out: Option<PathBuf>,
    /// Images per forward pass.
    pub batch_size: usize,
}

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// Label.
    pub class: usize,
    /// Name (the label's number when the data has no names).
    pub name: String,
    /// Test images of the class.
    pub images: usize,
    /// Fraction of them classified correctly; `None` without images.
    pub accuracy: Option<f64>,
}

/// What `kdnas eval` measured (`eval.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The weights scored.
    pub weights: PathBuf,
    /// Short name of the network.
    pub model: String,
    /// Where the data came from: the run's config or the `--data` file.
    pub data: PathBuf,
    /// Images scored.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Top-1 accuracy.
    pub top1: f64,
    /// Top-5 accuracy.
    pub top5: f64,
    /// Accuracy of every class.
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[true][predicted]`: image counts.
    pub confusion: Vec<Vec<usize>>,
    /// Where the report and the figure were written.
    #[serde(skip)]
    pub out: PathBuf,
}

impl EvalReport {
    /// The report as a printable table: totals, then one line per class.
    pub fn table(&self) -> String {
        let mut text = format!(
            "{} on {} images of {}: top-1 {:.2}%  top-5 {:.2}%  loss {:.4}\n",
            self.model,
            self.images,
            self.data.display(),
            100.0 * self.top1,
            100.0 * self.top5,
            self.loss
        );
        let width = self.per_class.iter().map(|c| c.name.len()).max().unwrap_or(5).max(5);
        text += &format!("{:>5}  {:<width$}  {:>6}  {:>8}\n", "class", "name", "images", "accuracy");
        for c in &self.per_class {
            let acc = c.accuracy.map_or_else(|| "-".to_string(), |a| format!("{:.2}%", 100.0 * a));
            text += &format!("{:>5}  {:<width$}  {:>6}  {:>8}\n", c.class, c.name, c.images, acc);
        }
        text
    }
}

/// The run directory and the weights file `checkpoint` names.
pub fn locate(checkpoint: &Path) -> Result<(PathBuf, PathBuf)> {
    if checkpoint.is_dir() {
        let best = Some(best_weights(checkpoint)).filter(|p| p.is_file());
        let weights = crate::run::folder::final_weights(checkpoint).or(best).ok_or_else(|| {
            KdnasError::Usage(format!(
                "{}: holds no {FINAL_WEIGHTS} or {}: the run has not finished an epoch, or \
                     this is not a teacher or training run directory",
                checkpoint.display(),
                best_weights(Path::new("")).display()
            ))
        })?;
        return Ok((checkpoint.to_path_buf(), weights));
    }
    if !checkpoint.is_file() {
        return Err(KdnasError::Usage(format!("{}: no such file or directory", checkpoint.display())));
    }
    let run_dir =
        checkpoint.ancestors().skip(1).take(2).find(|dir| dir.join(RUN_CONFIG).is_file()).ok_or_else(|| {
            KdnasError::Usage(format!(
                "{}: no {RUN_CONFIG} beside it or in the folder above: give a file inside a teacher run directory",
                checkpoint.display()
            ))
        })?;
    Ok((run_dir.to_path_buf(), checkpoint.to_path_buf()))
}

/// The `[data]` section of the TOML file `path` (other sections are ignored, so a run config works),
/// with its directory resolved against the file's folder.
fn data_section(path: &Path) -> Result<DataConfig> {
    Ok(data_relative_to(read_data_section(path, DataConfig::validate)?, path))
}

/// The `[data]` section of the TOML file `path` (other sections are ignored, so a run config works),
/// checked by `validate`; errors name the file and the line. Relative paths in it are left as written.
pub fn read_data_section<D: serde::de::DeserializeOwned>(path: &Path, validate: fn(&D) -> Result<()>) -> Result<D> {
    #[derive(Deserialize)]
    struct DataFile<D> {
        data: Option<D>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    let src = Source { path, text: &text };
    let file: DataFile<D> = toml::from_str(&text).map_err(|e| src.toml_error(e))?;
    let data = file.data.ok_or_else(|| src.error(0..0, "data", "no [data] section"))?;
    validate(&data).map_err(|e| locate_usage(&src, e))?;
    Ok(data)
}

/// Names of the classes of `data` (the label's number when the source has none).
fn class_names(data: &DataConfig, classes: usize) -> Vec<String> {
    match data.source {
        DataSource::BundledFashionMnist if classes == FASHION_MNIST_CLASSES.len() => {
            FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect()
        }
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

/// The network a run directory trained, as `kdnas eval` rebuilds it.
enum RunNetwork {
    /// A teacher of `kdnas teacher train`.
    Teacher(ModelInfo),
    /// A derived cell network of `kdnas train`: its genotype's graph and skeleton, with the image
    /// channels and classes of the run's data.
    Derived { graph: ArchGraph, network: NetworkConfig, in_channels: usize, classes: usize },
}

/// A network rebuilt by [`RunNetwork::build`].
enum Built<B: Backend> {
    Teacher(Box<Model<B>>),
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
    fn open(run_dir: &Path) -> Result<(Self, DataConfig)> {
        let config_path = run_dir.join(RUN_CONFIG);
        if !run_dir.join(TRAIN_GENOTYPE).is_file() {
            // A teacher or distillation run: model.json describes the network; only [data] is read.
            return Ok((RunNetwork::Teacher(ModelInfo::load(run_dir)?), data_section(&config_path)?));
        }
        let config = RunConfig::load(&config_path)?.with_absolute_data_dir(run_dir);
        let graph = Genotype::load(&run_dir.join(TRAIN_GENOTYPE))?.to_arch_graph()?;
        let (train, _) = config.data.load(Path::new("."))?;
        let network = derived_network_config(&config);
        let (in_channels, classes) = (train.channels, train.classes);
        Ok((RunNetwork::Derived { graph, network, in_channels, classes }, config.data))
    }

    /// Short name of the network.
    fn name(&self) -> String {
        match self {
            RunNetwork::Teacher(info) => info.name.clone(),
            RunNetwork::Derived { network, .. } => {
                format!("derived network (C={}, {} cells)", network.channels, network.layers)
            }
        }
    }

    /// Channels of the input images and classes of the output.
    fn shape(&self) -> (usize, usize) {
        match self {
            RunNetwork::Teacher(info) => (info.in_channels, info.classes),
            RunNetwork::Derived { in_channels, classes, .. } => (*in_channels, *classes),
        }
    }

    /// Builds the network with the weights of the `.mpk` file `weights`; weights of another
    /// architecture are a checkpoint error naming the file.
    fn build<B: Backend>(&self, weights: &Path, device: &B::Device) -> Result<Built<B>> {
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

/// Scores the weights `args.checkpoint` names and writes `eval.json` and `confusion.{png,svg}`.
pub fn eval_command<B: Backend>(args: &EvalArgs, device: &B::Device) -> Result<EvalReport> {
    let (run_dir, weights) = locate(&args.checkpoint)?;
    let (network, run_data) = RunNetwork::open(&run_dir)?;
    let (data, data_origin) = match &args.data {
        Some(file) => (data_section(file)?, file.clone()),
        None => (run_data, run_dir.join(RUN_CONFIG)),
    };
    let (_, test) = data.load(Path::new("."))?;
    let (in_channels, classes) = network.shape();
    if (test.channels, test.classes) != (in_channels, classes) {
        return Err(KdnasError::Usage(format!(
            "{}: the data has {} classes of {}-channel images, the {} of {} {} classes of {}-channel images",
            data_origin.display(),
            test.classes,
            test.channels,
            network.name(),
            run_dir.display(),
            classes,
            in_channels
        )));
    }
    let net = network.build::<B>(&weights, device)?;
    let scores = score_classifier(&net, &test, args.batch_size, device);
    let names = class_names(&data, test.classes);
    let out = args.out.clone().unwrap_or_else(|| run_dir.join("eval"));
    let report = report(&scores, &names, weights, network.name(), data_origin, out);
    write_report(&report, &scores, &names)?;
    Ok(report)
}

/// The report of `scores`.
fn report(
    scores: &ClassifierScores,
    names: &[String],
    weights: PathBuf,
    model: String,
    data: PathBuf,
    out: PathBuf,
) -> EvalReport {
    let per_class = scores
        .per_class_accuracy()
        .into_iter()
        .enumerate()
        .map(|(class, accuracy)| ClassAccuracy {
            class,
            name: names[class].clone(),
            images: scores.confusion[class].iter().sum(),
            accuracy,
        })
        .collect();
    EvalReport {
        weights,
        model,
        data,
        images: scores.count,
        loss: scores.loss,
        top1: scores.top1,
        top5: scores.top5,
        per_class,
        confusion: scores.confusion.clone(),
        out,
    }
}

/// Writes `eval.json` and the row-normalised confusion heatmap into `report.out`.
fn write_report(report: &EvalReport, scores: &ClassifierScores, names: &[String]) -> Result<()> {
    std::fs::create_dir_all(&report.out).map_err(|e| KdnasError::io(&report.out, e))?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| KdnasError::Usage(e.to_string()))?;
    write_file_atomically(&report.out.join("eval.json"), &json)?;
    let rows = scores.normalised_confusion();
    let classes = rows.len();
    let table = WeightTable {
        title: format!(
            "{}: confusion on {} images (row: true class, column: predicted; rows sum to 1)",
            report.model, report.images
        ),
        row_labels: names.iter().map(|n| format!("true {n}")).collect(),
        col_labels: names.to_vec(),
        values: Array2::from_shape_fn((classes, classes), |(r, c)| rows[r][c] as f32),
    };
    heatmap(&table, &report.out.join("confusion"))?;
    Ok(())
}
