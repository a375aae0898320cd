//! The one search loop, a step strategy of the epoch driver (`run::epochs`): epochs of paired
//! train/val batches moving the weights and the architecture, schedules, probes, checkpoints.

use super::arch_grads::{ArchGradMeter, part_grads, probe_steps};
use super::bilevel::{Optimisers, StepSettings, search_step};
use super::checkpoint;
use super::config::{SearchConfig, SearchMode, validation_figure};
use super::history::{EVAL_ACC, EVAL_LOSS, EpochRecord, SearchExtras, SearchState, write_history_files};
use super::task::{SearchTask, Split};
use crate::error::{KdnasError, Result};
use crate::manifest::Fingerprint;
use crate::metrics::ranking::BEST_RANKING_METRIC;
use crate::run::checkpoint::checkpoint_to_resume;
use crate::run::{EpochPlan, EpochSteps, Meter, Patience, drive_epochs};
use crate::supernet::{ArchParams, GumbelNoise, Relaxation};
use burn::module::AutodiffModule;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::path::Path;

/// How a search runs, the same for every kind of search: resuming, progress, where to stop, device.
pub struct SearchControl<'a, AB: AutodiffBackend> {
    /// Continue from the run directory's checkpoint.
    pub resume: bool,
    /// Show a progress bar and the run's summary line.
    pub progress: bool,
    /// Stop (after checkpointing) once this many epochs are finished; the run can be resumed.
    pub stop_after: Option<usize>,
    /// Device of the modules.
    pub device: &'a AB::Device,
}

/// Called with the supernet and an epoch's record when that epoch becomes the one the genotype is
/// derived from (`search.derive_from`), before the epoch's checkpoint is written (so a crash in
/// between repeats the epoch and the call): e.g. to keep the derived student's trained weights.
pub type OnDeriveEpoch<'a, N> = &'a dyn Fn(&N, &EpochRecord) -> Result<()>;

/// Where and how a search runs; `N` is the supernet's type.
pub struct SearchRun<'a, AB: AutodiffBackend, N> {
    /// Hyper-parameters.
    pub config: &'a SearchConfig,
    /// Seed for data order, augmentation and sampling (epoch e reseeds from (seed, e), which makes
    /// resuming at an epoch boundary exact).
    pub seed: u64,
    /// Run directory (checkpoints, metrics).
    pub run_dir: &'a Path,
    /// Resuming, progress, where to stop, device.
    pub control: &'a SearchControl<'a, AB>,
    /// What the run is; every checkpoint records it and a resume refuses a checkpoint of another run.
    pub fingerprint: &'a Fingerprint,
    /// What to do when an epoch becomes the derivation epoch (nothing when `None`).
    pub on_derive_epoch: Option<OnDeriveEpoch<'a, N>>,
}

/// The result of a search.
pub struct SearchOutcome<AB: AutodiffBackend, N> {
    /// Trained supernet.
    pub net: N,
    /// Trained architecture weights.
    pub arch: ArchParams<AB>,
    /// Per-epoch records.
    pub state: SearchState,
    /// Epochs run by this call (a resumed run counts only the epochs after its checkpoint).
    pub epochs_run: usize,
}

/// The optimisers configured as in spec/darts.md (Adam epsilon 1e-8 as PyTorch): the weights' is the
/// one `search.w_optimizer` names, the architecture's Adam (L2 weight decay, DARTS) or AdamW
/// (decoupled, AdaRec) as `search.arch_optimizer` says.
pub fn optimisers<AB: AutodiffBackend>(config: &SearchConfig) -> Optimisers<AB> {
    Optimisers { weights: config.weight_optimizer().init(), arch: config.arch_optimizer() }
}

/// Runs (or resumes) a search and returns the trained modules.
pub fn run_search<AB: AutodiffBackend, T: SearchTask<AB>>(
    task: &T,
    net: T::Net,
    arch: ArchParams<AB>,
    run: &SearchRun<AB, T::Net>,
) -> Result<SearchOutcome<AB, T::Net>> {
    let cfg = run.config;
    cfg.validate()?;
    let mut opt = optimisers::<AB>(cfg);
    let (mut net, mut arch, mut state) = (net, arch, SearchState::default());
    if run.control.resume {
        let restored = checkpoint::load(run.run_dir, run.fingerprint, net, arch, opt, run.control.device)?;
        (net, arch, opt, state) = restored;
        if let Some(task_state) = state.history.last().and_then(|r| r.extras.task_state.as_ref()) {
            let file = checkpoint_to_resume(run.run_dir)?.join("state.json");
            task.restore_task_state(task_state, &file)?;
        }
        // A crash between the checkpoint swap and these files' rewrite would leave them an epoch short.
        write_history_files(run.run_dir, &state.history)?;
    }
    // Every training example once per epoch, the last batch partial (DARTS's loader keeps it).
    let full_steps = task.train_len().div_ceil(cfg.batch_size).max(1);
    let steps = cfg.steps_per_epoch.map_or(full_steps, |s| s.clamp(1, full_steps));
    let patience = cfg.patience.map(|epochs| Patience {
        epochs,
        name: "validation figure".to_string(),
        figure: &validation_figure,
    });
    let plan = EpochPlan {
        epochs: cfg.epochs,
        seed: run.seed,
        progress: run.control.progress,
        stop_after: run.control.stop_after,
        label: "epoch",
        patience,
    };
    let mut strategy = SearchSteps {
        task,
        run,
        modules: Some((net, arch)),
        opt,
        steps,
        train_order: Vec::new(),
        val_order: Vec::new(),
        train_meter: Meter::default(),
        val_meter: Meter::default(),
        grad_meter: ArchGradMeter::default(),
        probes: Vec::new(),
    };
    let mut history = state.history;
    let outcome = drive_epochs::<AB, _>(&mut strategy, &plan, &mut history, run.control.device)?;
    let (net, arch) = strategy.modules.take().ok_or_else(modules_lost)?;
    let state = SearchState { next_epoch: history.len(), history };
    Ok(SearchOutcome { net, arch, state, epochs_run: outcome.epochs_run })
}

/// The search loop as a step strategy of the epoch driver.
struct SearchSteps<'a, AB: AutodiffBackend, T: SearchTask<AB>> {
    task: &'a T,
    run: &'a SearchRun<'a, AB, T::Net>,
    /// The supernet and architecture between steps (taken by each step, which returns the updated ones).
    modules: Option<(T::Net, ArchParams<AB>)>,
    opt: Optimisers<AB>,
    steps: usize,
    /// This epoch's order of the training and validation examples.
    train_order: Vec<usize>,
    val_order: Vec<usize>,
    train_meter: Meter,
    val_meter: Meter,
    grad_meter: ArchGradMeter,
    /// Steps of this epoch at which the architecture-loss parts are probed.
    probes: Vec<usize>,
}

/// The error of a search whose modules were not put back (a step failed before).
fn modules_lost() -> KdnasError {
    KdnasError::Usage("the search lost its modules after a failed step".to_string())
}

impl<AB: AutodiffBackend, T: SearchTask<AB>> EpochSteps for SearchSteps<'_, AB, T> {
    type Extras = SearchExtras;

    fn steps(&self) -> usize {
        self.steps
    }

    fn begin_epoch(&mut self, epoch: usize, rng: &mut StdRng) -> f64 {
        self.train_order = (0..self.task.train_len()).collect();
        self.val_order = (0..self.task.val_len()).collect();
        self.train_order.shuffle(rng);
        self.val_order.shuffle(rng);
        (self.train_meter, self.val_meter, self.grad_meter) = Default::default();
        let cfg = self.run.config;
        self.probes = if self.task.arch_loss_parts().is_empty() {
            Vec::new()
        } else {
            probe_steps(self.steps, cfg.arch_grad_probes())
        };
        cfg.w_schedule.lr_at(cfg.w_lr, cfg.w_lr_min, epoch, cfg.epochs)
    }

    fn step(&mut self, epoch: usize, step: usize, lr: f64, rng: &mut StdRng) -> Result<String> {
        let (cfg, task, batch) = (self.run.config, self.task, self.run.config.batch_size);
        let train_idx = &self.train_order[step * batch..((step + 1) * batch).min(self.train_order.len())];
        let train_batch = task.batch(Split::Train, train_idx, rng);
        // Single-level search has no architecture split.
        let val_batch = (cfg.mode != SearchMode::SingleLevel).then(|| {
            let val_idx: Vec<usize> =
                (0..batch).map(|i| self.val_order[(step * batch + i) % self.val_order.len()]).collect();
            task.batch(Split::Val, &val_idx, rng)
        });
        let (net, arch) = self.modules.take().ok_or_else(modules_lost)?;
        let settings = StepSettings {
            mode: cfg.mode,
            relaxation: &cfg.relaxation,
            noise: cfg.relaxation.needs_noise().then(|| GumbelNoise::sample(&arch)),
            w_lr: lr,
            arch_lr: cfg.arch_lr,
            grad_clip: cfg.grad_clip,
            epoch,
            epochs: cfg.epochs,
            step,
            arch_moves: epoch >= cfg.warmup_epochs,
        };
        if self.probes.contains(&step) {
            let grads = part_grads(task, &net, &arch, &mut self.opt, &train_batch, val_batch.as_ref(), &settings)?;
            self.grad_meter.add(task.arch_loss_parts(), &grads);
        }
        let (net, arch, report) =
            search_step(task, net, arch, &mut self.opt, &train_batch, val_batch.as_ref(), &settings)?;
        self.modules = Some((net, arch));
        self.train_meter.add(report.train);
        self.val_meter.add(report.val);
        Ok(format!("loss {:.3} acc {}", self.train_meter.mean_loss(), fmt_acc(self.train_meter.accuracy())))
    }

    fn end_epoch(&mut self, epoch: usize, lr: f64) -> Result<EpochRecord> {
        let cfg = self.run.config;
        let (net, arch) = self.modules.as_ref().ok_or_else(modules_lost)?;
        let eval_weights = Relaxation::Softmax.weights(&arch.valid(), None, epoch, cfg.epochs);
        let evaluation = self.task.evaluate_val(&net.valid(), &eval_weights).unwrap_or_default();
        let mut metrics = evaluation.metrics;
        metrics.extend(evaluation.loss.map(|v| (EVAL_LOSS.to_string(), v)));
        metrics.extend(evaluation.accuracy.map(|v| (EVAL_ACC.to_string(), v)));
        Ok(EpochRecord {
            epoch,
            lr,
            train_loss: self.train_meter.mean_loss(),
            train_acc: self.train_meter.accuracy(),
            train_terms: self.train_meter.mean_terms(),
            metrics,
            seconds: 0.0,
            extras: SearchExtras {
                temperature: temperature(&cfg.relaxation, epoch, cfg.epochs),
                val_loss: self.val_meter.mean_loss(),
                val_acc: self.val_meter.accuracy(),
                val_terms: self.val_meter.mean_terms(),
                arch_weights: arch_probabilities(arch),
                task_state: self.task.task_state(),
                arch_moved: epoch >= cfg.warmup_epochs,
                arch_grads: self.grad_meter.record(),
            },
        })
    }

    fn epoch_line(&self, record: &EpochRecord, epochs: usize) -> String {
        format!(
            "epoch {}/{}  train loss {:.4} acc {}  val (arch steps) loss {:.4} acc {}  val (eval pass) {}  ({:.1}s)",
            record.epoch + 1,
            epochs,
            record.train_loss,
            fmt_acc(record.train_acc),
            record.extras.val_loss,
            fmt_acc(record.extras.val_acc),
            fmt_eval(record),
            record.seconds
        )
    }

    fn keep(&mut self, history: &[EpochRecord]) -> Result<()> {
        let run = self.run;
        let (net, arch) = self.modules.as_ref().ok_or_else(modules_lost)?;
        let Some(last) = history.last() else { return Ok(()) };
        if let Some(on_derive_epoch) = run.on_derive_epoch
            && let Some(picked) = run.config.derive_from.pick(history).filter(|r| r.epoch == last.epoch)
        {
            on_derive_epoch(net, picked)?;
        }
        checkpoint::save(run.run_dir, run.fingerprint, net, arch, &self.opt, history)?;
        write_history_files(run.run_dir, history)
    }
}

/// softmax(alpha) of every group, read to the host.
pub fn arch_probabilities<AB: AutodiffBackend>(arch: &ArchParams<AB>) -> Vec<Vec<Vec<f32>>> {
    arch.logits.iter().map(|p| crate::supernet::arch_params::tensor_rows(softmax(p.val().inner(), 1))).collect()
}

fn temperature(relaxation: &Relaxation, epoch: usize, epochs: usize) -> Option<f64> {
    match relaxation {
        Relaxation::Gumbel { temperature, .. } => Some(temperature.at(epoch, epochs)),
        Relaxation::Softmax => None,
    }
}

/// The end-of-epoch evaluation: its accuracy, else its headline ranking figure.
fn fmt_eval(record: &EpochRecord) -> String {
    match (record.metric(EVAL_ACC), record.metric(BEST_RANKING_METRIC)) {
        (None, Some(ndcg)) => format!("{BEST_RANKING_METRIC} {ndcg:.4}"),
        (acc, _) => format!("acc {}", fmt_acc(acc)),
    }
}

fn fmt_acc(acc: Option<f64>) -> String {
    acc.map_or_else(|| "-".to_string(), |a| format!("{:.1}%", 100.0 * a))
}
