//! `kdnas eval CHECKPOINT`: scores the weights of a teacher run (its final, best or snapshot weights)
//! or of a derived-network training run (`kdnas train`) on the run's test set or on other data: top-1, top-5, per-class accuracy and the confusion matrix,
//! printed, written to `eval.json` and drawn as a row-normalised heatmap.

use crate::data::{DataConfig, DataSource, FASHION_MNIST_CLASSES};
use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::plot::{WeightTable, heatmap};
use crate::run::folder::{FINAL_WEIGHTS, RUN_CONFIG};
use crate::tasks::image::{RunNetwork, image_data_section};
use crate::train::classify::{ClassifierScores, score_classifier};
use crate::train::epochs::best_weights;
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

/// Names of the classes of `data` (the label's number when the source has none).
fn class_names(data: &DataConfig, classes: usize) -> Vec<String> {
    match data.source {
        DataSource::BundledFashionMnist if classes == FASHION_MNIST_CLASSES.len() => {
            FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect()
        }
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

/// Scores the weights `args.checkpoint` names and writes `eval.json` and `confusion.{png,svg}`.
pub fn eval_command<B: Backend>(args: &EvalArgs, device: &B::Device) -> Result<EvalReport> {
    let (run_dir, weights) = locate(&args.checkpoint)?;
    let (network, run_data) = RunNetwork::open(&run_dir)?;
    let (data, data_origin) = match &args.data {
        Some(file) => (image_data_section(file)?, file.clone()),
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
