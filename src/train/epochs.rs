//! The one training loop, a step strategy of the epoch driver (`run::epochs`): epochs of shuffled batches through any [`TrainTask`], with the weight
//! optimiser `train.optimizer` names (SGD, Adam or AdamW), the learning-rate schedule, optional global
//! gradient clipping, progress, a NaN check per step, an evaluation per epoch, the best and periodic
//! weights, and an atomic checkpoint per epoch from which `--resume` continues exactly (epoch `e`
//! reseeds everything from `(seed, e)`).

use super::TrainConfig;
use super::checkpoint::{load_training, save_training};
use super::records::{RESERVED_KEYS, TrainEpoch, write_train_metrics};
use super::task::{EpochAt, TrainTask};
use crate::error::{KdnasError, Result};
use crate::files::{write_dir_atomically, write_file_atomically};
use crate::manifest::Fingerprint;
use crate::optim::{WeightOptimizer, clip_global_norm};
use crate::record_files::save_module;
use crate::run::{EpochPlan, EpochRecord, EpochSteps, LossReading, Meter, Patience, drive_epochs, read_loss};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Folder of a run directory holding the best epoch's weights ([`BEST_WEIGHTS`]) and [`BestEpoch`].
pub const BEST_DIR: &str = "best";
/// File name of the weights in [`BEST_DIR`] (and of a finished run's final weights).
pub const BEST_WEIGHTS: &str = "model.mpk";

/// The weights of the best epoch of the run in `run_dir`.
pub fn best_weights(run_dir: &Path) -> PathBuf {
    run_dir.join(BEST_DIR).join(BEST_WEIGHTS)
}

/// Folder of a run directory holding `epoch_NNNN.mpk` every `train.snapshot_every` epochs.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Where and how a training run goes.
pub struct TrainRun<'a, AB: AutodiffBackend> {
    /// Hyper-parameters of the loop (epochs, batch size, optimiser, schedule, clipping, snapshots).
    pub config: &'a TrainConfig,
    /// Seed of the data order, augmentation and backend RNG (epoch `e` reseeds from `(seed, e)`).
    pub seed: u64,
    /// Run directory (checkpoint, `train_metrics.jsonl`, best and periodic weights).
    pub run_dir: &'a Path,
    /// Continue from the run directory's checkpoint.
    pub resume: bool,
    /// Show a progress bar and one line per epoch on stderr.
    pub progress: bool,
    /// Stop (after checkpointing) once this many epochs are finished; resume later.
    pub stop_after: Option<usize>,
    /// Device of the module.
    pub device: &'a AB::Device,
    /// What the run is; every checkpoint records it and a resume refuses a checkpoint of another run.
    pub fingerprint: &'a Fingerprint,
    /// Keep the weights of the epoch with the highest value of this evaluation metric (e.g.
    /// `test_acc`) in `run_dir/best/`; `None`: keep none.
    pub keep_best: Option<&'a str>,
    /// Word that starts the progress lines (`train`, `teacher`, ...).
    pub label: &'a str,
}

/// The result of a training run.
pub struct TrainOutcome<N> {
    /// The trained module.
    pub net: N,
    /// One record per finished epoch (a resumed run's earlier epochs come from its checkpoint).
    pub history: Vec<TrainEpoch>,
    /// Epochs run by this call.
    pub epochs_run: usize,
    /// Whether `train.patience` ended the run before its last planned epoch.
    pub stopped_early: bool,
}

/// `best/best.json`: which epoch the weights in `best/model.mpk` are from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    /// 0-based epoch, as in `train_metrics.jsonl`.
    pub epoch: usize,
    /// Epochs trained when the weights were taken (`epoch + 1`).
    pub epochs_trained: usize,
    /// The metric that chose the epoch.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Every evaluation metric of that epoch.
    pub metrics: BTreeMap<String, f64>,
}

/// Runs (or resumes) training of `net` on `task` to `run.config.epochs` (or `run.stop_after`).
/// After every epoch: evaluation, the best and periodic weights, `on_epoch` (extra outputs of the
/// caller, before the checkpoint so that a crash repeats them with the epoch), the checkpoint, and
/// `train_metrics.jsonl`.
pub fn train_loop<AB: AutodiffBackend, T: TrainTask<AB>>(
    task: &T,
    net: T::Net,
    run: &TrainRun<AB>,
    on_epoch: impl FnMut(&T::Net, &[TrainEpoch]) -> Result<()>,
) -> Result<TrainOutcome<T::Net>> {
    let cfg = run.config;
    cfg.validate()?;
    if run.keep_best.is_none() {
        cfg.refuse_patience(run.label)?;
    }
    let mut optimizer = cfg.weight_optimizer().init();
    let (mut net, mut history) = (net, Vec::new());
    if run.resume {
        (net, optimizer, history) = load_training(run.run_dir, run.fingerprint, net, optimizer, run.device)?;
        // A crash between the checkpoint swap and the metrics rewrite would leave them an epoch short.
        write_train_metrics(run.run_dir, &history)?;
    }
    let figure = |r: &TrainEpoch| run.keep_best.and_then(|name| r.metric(name));
    let patience = match (cfg.patience, run.keep_best) {
        (Some(epochs), Some(name)) => Some(Patience { epochs, name: name.to_string(), figure: &figure }),
        _ => None,
    };
    let plan = EpochPlan {
        epochs: cfg.epochs,
        seed: run.seed,
        progress: run.progress,
        stop_after: run.stop_after,
        label: run.label,
        patience,
    };
    // Every training example once per epoch, the last batch partial (as DARTS's loader).
    let steps = task.train_len().div_ceil(cfg.batch_size).max(1);
    let mut strategy = TrainSteps {
        task,
        run,
        net: Some(net),
        optimizer,
        order: Vec::new(),
        meter: Meter::default(),
        steps,
        on_epoch,
    };
    let outcome = drive_epochs::<AB, _>(&mut strategy, &plan, &mut history, run.device)?;
    let net = strategy.net.take().ok_or_else(net_lost)?;
    Ok(TrainOutcome { net, history, epochs_run: outcome.epochs_run, stopped_early: outcome.stopped_early })
}

/// How far one weight step moves: the learning rate and the global gradient-norm clip (0: none).
#[derive(Debug, Clone, Copy)]
pub struct StepSize {
    /// Learning rate.
    pub lr: f64,
    /// Global gradient-norm clip; 0 turns it off.
    pub grad_clip: f64,
}

/// One weight step of the training loop, public for the benchmarks: the task's loss on `batch`
/// (read back, failing with the first non-finite term; `at.epoch` and `step` locate it), backward,
/// the global gradient clip and the optimiser's step.
pub fn train_step<AB: AutodiffBackend, T: TrainTask<AB>>(
    task: &T,
    net: T::Net,
    optimizer: &mut WeightOptimizer<AB>,
    batch: &T::Batch,
    at: EpochAt,
    size: StepSize,
    step: usize,
) -> Result<(T::Net, LossReading)> {
    let loss = task.loss(&net, batch, at);
    let reading = read_loss(&loss, at.epoch, step)?;
    let mut grads = loss.total.backward();
    let mut g = GradientsParams::from_module(&mut grads, &net);
    if size.grad_clip > 0.0 {
        clip_global_norm::<AB, T::Net>(&net, &mut g, size.grad_clip);
    }
    Ok((optimizer.step(net, &g, size.lr), reading))
}

/// The training loop as a step strategy of the epoch driver.
struct TrainSteps<'a, AB: AutodiffBackend, T: TrainTask<AB>, F> {
    task: &'a T,
    run: &'a TrainRun<'a, AB>,
    /// The module between steps (taken by each step, which returns the updated one).
    net: Option<T::Net>,
    optimizer: WeightOptimizer<AB>,
    /// This epoch's order of the training examples.
    order: Vec<usize>,
    meter: Meter,
    steps: usize,
    on_epoch: F,
}

/// The error of a step strategy whose module was not put back (a step failed before).
fn net_lost() -> KdnasError {
    KdnasError::Usage("the training loop lost its module after a failed step".to_string())
}

impl<AB, T, F> EpochSteps for TrainSteps<'_, AB, T, F>
where
    AB: AutodiffBackend,
    T: TrainTask<AB>,
    F: FnMut(&T::Net, &[TrainEpoch]) -> Result<()>,
{
    type Extras = ();

    fn steps(&self) -> usize {
        self.steps
    }

    fn begin_epoch(&mut self, epoch: usize, rng: &mut StdRng) -> f64 {
        self.order = (0..self.task.train_len()).collect();
        self.order.shuffle(rng);
        self.meter = Meter::default();
        let cfg = self.run.config;
        cfg.schedule.lr_at(cfg.lr, cfg.lr_min, epoch, cfg.epochs)
    }

    fn step(&mut self, epoch: usize, step: usize, lr: f64, rng: &mut StdRng) -> Result<String> {
        let cfg = self.run.config;
        let indices = &self.order[step * cfg.batch_size..((step + 1) * cfg.batch_size).min(self.order.len())];
        let batch = self.task.batch(indices, rng);
        let size = StepSize { lr, grad_clip: cfg.grad_clip };
        let at = EpochAt { epoch, epochs: cfg.epochs };
        let net = self.net.take().ok_or_else(net_lost)?;
        let (net, reading) = train_step(self.task, net, &mut self.optimizer, &batch, at, size, step)?;
        self.net = Some(net);
        self.meter.add(reading);
        let acc = self.meter.accuracy().map_or_else(String::new, |a| format!(" acc {:.1}%", 100.0 * a));
        Ok(format!("loss {:.3}{acc}", self.meter.mean_loss()))
    }

    fn end_epoch(&mut self, epoch: usize, lr: f64) -> Result<TrainEpoch> {
        let net = self.net.as_ref().ok_or_else(net_lost)?;
        let metrics = checked_metrics(self.task.evaluate(&net.valid()), epoch, self.steps)?;
        Ok(EpochRecord {
            epoch,
            lr,
            train_loss: self.meter.mean_loss(),
            train_acc: self.meter.accuracy(),
            train_terms: self.meter.mean_terms(),
            metrics,
            seconds: 0.0,
            extras: (),
        })
    }

    fn epoch_line(&self, record: &TrainEpoch, epochs: usize) -> String {
        epoch_line(self.run.label, record, epochs)
    }

    fn keep(&mut self, history: &[TrainEpoch]) -> Result<()> {
        let net = self.net.as_ref().ok_or_else(net_lost)?;
        keep_weights(net, history, self.run)?;
        (self.on_epoch)(net, history)?;
        save_training(self.run.run_dir, self.run.fingerprint, net, &self.optimizer, history)?;
        write_train_metrics(self.run.run_dir, history)
    }
}

/// The evaluation metrics of epoch `epoch` as a map, refusing names that clash with the record's own
/// fields and values that are not finite (they could not be written to the checkpoint).
fn checked_metrics(metrics: Vec<(String, f64)>, epoch: usize, steps: usize) -> Result<BTreeMap<String, f64>> {
    if let Some((name, _)) = metrics.iter().find(|(name, _)| RESERVED_KEYS.contains(&name.as_str())) {
        return Err(KdnasError::Usage(format!(
            "the task's evaluation metric `{name}` clashes with a field of train_metrics.jsonl"
        )));
    }
    if let Some((name, value)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
        let term = format!("evaluation {name}");
        return Err(KdnasError::NonFinite { epoch, step: steps.saturating_sub(1), term, value: *value as f32 });
    }
    Ok(metrics.into_iter().collect())
}

/// Writes the weights of the epoch just finished (`history`'s last) to `best/` when it beats every
/// earlier epoch on `run.keep_best`, and to `snapshots/epoch_NNNN.mpk` every `snapshot_every` epochs.
fn keep_weights<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    net: &N,
    history: &[TrainEpoch],
    run: &TrainRun<AB>,
) -> Result<()> {
    let Some((last, earlier)) = history.split_last() else { return Ok(()) };
    let trained = last.epoch + 1;
    if run.config.snapshot_every.is_some_and(|k| trained % k == 0) {
        let dir = run.run_dir.join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| KdnasError::io(&dir, e))?;
        save_module(&net.valid(), &dir.join(snapshot_name(trained)))?;
    }
    let Some(name) = run.keep_best else { return Ok(()) };
    let value = last.metric(name).ok_or_else(|| {
        KdnasError::Usage(format!(
            "the best weights are chosen by `{name}`, which the task's evaluation does not report"
        ))
    })?;
    if earlier.iter().filter_map(|r| r.metric(name)).any(|v| v >= value) {
        return Ok(());
    }
    let best = BestEpoch {
        epoch: last.epoch,
        epochs_trained: trained,
        metric: name.to_string(),
        value,
        metrics: last.metrics.clone(),
    };
    let json = serde_json::to_vec_pretty(&best).map_err(|e| KdnasError::Usage(e.to_string()))?;
    write_dir_atomically(&run.run_dir.join(BEST_DIR), |dir| {
        save_module(&net.valid(), &dir.join(BEST_WEIGHTS))?;
        write_file_atomically(&dir.join("best.json"), &json)
    })
}

/// File name of the snapshot taken after `trained` epochs.
pub fn snapshot_name(trained: usize) -> String {
    format!("epoch_{trained:04}.mpk")
}

/// The line printed after an epoch: loss (with its terms when there are several), training
/// accuracy, every evaluation metric and the wall time.
fn epoch_line(label: &str, r: &TrainEpoch, epochs: usize) -> String {
    let mut line = format!("{label} epoch {}/{}  lr {:.4}  loss {:.4}", r.epoch + 1, epochs, r.lr, r.train_loss);
    if r.train_terms.len() > 1 {
        let terms: Vec<String> = r.train_terms.iter().map(|(name, v)| format!("{name} {v:.4}")).collect();
        line += &format!(" ({})", terms.join(", "));
    }
    if let Some(acc) = r.train_acc {
        line += &format!("  train acc {:.2}%", 100.0 * acc);
    }
    for (name, value) in &r.metrics {
        line += &format!("  {name} {value:.4}");
    }
    line + &format!("  ({:.1}s)", r.seconds)
}
