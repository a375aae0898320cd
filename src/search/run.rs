//! The one search loop: epochs of paired train/val batches, schedules, progress, checkpoints.

use super::arch_grads::{ArchGradMeter, part_grads, probe_steps};
use super::bilevel::{Optimisers, StepSettings, search_step};
use super::checkpoint;
use super::config::{SearchConfig, SearchMode};
use super::history::{EpochRecord, SearchState, write_history_files};
use super::task::{SearchTask, Split};
use crate::error::Result;
use crate::manifest::Fingerprint;
use crate::metrics::ranking::BEST_RANKING_METRIC;
use crate::progress::progress_bar;
use crate::run::checkpoint::checkpoint_to_resume;
use crate::run::{Meter, epoch_seed};
use crate::supernet::{ArchParams, GumbelNoise, Relaxation};
use burn::module::AutodiffModule;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::path::Path;
use std::time::Instant;

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
        if let Some(task_state) = state.history.last().and_then(|r| r.task_state.as_ref()) {
            let file = checkpoint_to_resume(run.run_dir)?.join("state.json");
            task.restore_task_state(task_state, &file)?;
        }
        // A crash between the checkpoint swap and these files' rewrite would leave them an epoch short.
        write_history_files(run.run_dir, &state)?;
    }
    let batch = cfg.batch_size;
    // Every training example once per epoch, the last batch partial (DARTS's loader keeps it).
    let full_steps = task.train_len().div_ceil(batch).max(1);
    let steps = cfg.steps_per_epoch.map_or(full_steps, |s| s.clamp(1, full_steps));
    let mut epochs_run = 0;
    for epoch in state.next_epoch..cfg.epochs {
        epochs_run += 1;
        let started = Instant::now();
        AB::seed(run.control.device, epoch_seed(run.seed, epoch));
        let mut rng = StdRng::seed_from_u64(epoch_seed(run.seed, epoch));
        let mut train_order: Vec<usize> = (0..task.train_len()).collect();
        let mut val_order: Vec<usize> = (0..task.val_len()).collect();
        train_order.shuffle(&mut rng);
        val_order.shuffle(&mut rng);
        let w_lr = cfg.w_schedule.lr_at(cfg.w_lr, cfg.w_lr_min, epoch, cfg.epochs);
        let bar = progress_bar(run.control.progress, steps as u64, &format!("epoch {}/{}", epoch + 1, cfg.epochs));
        let (mut train_meter, mut val_meter) = (Meter::default(), Meter::default());
        let arch_moves = epoch >= cfg.warmup_epochs;
        let probes =
            if task.arch_loss_parts().is_empty() { Vec::new() } else { probe_steps(steps, cfg.arch_grad_probes()) };
        let mut grad_meter = ArchGradMeter::default();
        for step in 0..steps {
            let train_idx = &train_order[step * batch..((step + 1) * batch).min(train_order.len())];
            let train_batch = task.batch(Split::Train, train_idx, &mut rng);
            // Single-level search has no architecture split.
            let val_batch = (cfg.mode != SearchMode::SingleLevel).then(|| {
                let val_idx: Vec<usize> = (0..batch).map(|i| val_order[(step * batch + i) % val_order.len()]).collect();
                task.batch(Split::Val, &val_idx, &mut rng)
            });
            let settings = StepSettings {
                mode: cfg.mode,
                relaxation: &cfg.relaxation,
                noise: cfg.relaxation.needs_noise().then(|| GumbelNoise::sample(&arch)),
                w_lr,
                arch_lr: cfg.arch_lr,
                grad_clip: cfg.grad_clip,
                epoch,
                epochs: cfg.epochs,
                step,
                arch_moves,
            };
            if probes.contains(&step) {
                let grads = part_grads(task, &net, &arch, &mut opt, &train_batch, val_batch.as_ref(), &settings)?;
                grad_meter.add(task.arch_loss_parts(), &grads);
            }
            let (n, a, report) = search_step(task, net, arch, &mut opt, &train_batch, val_batch.as_ref(), &settings)?;
            (net, arch) = (n, a);
            train_meter.add(report.train);
            val_meter.add(report.val);
            bar.set_message(format!("loss {:.3} acc {}", train_meter.mean_loss(), fmt_acc(train_meter.accuracy())));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let eval_weights = Relaxation::Softmax.weights(&arch.valid(), None, epoch, cfg.epochs);
        let evaluation = task.evaluate_val(&net.valid(), &eval_weights).unwrap_or_default();
        let record = EpochRecord {
            epoch,
            w_lr,
            temperature: temperature(&cfg.relaxation, epoch, cfg.epochs),
            train_loss: train_meter.mean_loss(),
            train_acc: train_meter.accuracy(),
            val_loss: val_meter.mean_loss(),
            val_acc: val_meter.accuracy(),
            train_terms: train_meter.mean_terms(),
            val_terms: val_meter.mean_terms(),
            val_eval_loss: evaluation.loss,
            val_eval_acc: evaluation.accuracy,
            val_eval_metrics: evaluation.metrics,
            seconds: started.elapsed().as_secs_f64(),
            arch_weights: arch_probabilities(&arch),
            task_state: task.task_state(),
            arch_moved: arch_moves,
            arch_grads: grad_meter.record(),
        };
        if run.control.progress {
            eprintln!(
                "epoch {}/{}  train loss {:.4} acc {}  val (arch steps) loss {:.4} acc {}  val (eval pass) {}  ({:.1}s)",
                epoch + 1,
                cfg.epochs,
                record.train_loss,
                fmt_acc(record.train_acc),
                record.val_loss,
                fmt_acc(record.val_acc),
                fmt_eval(&record),
                record.seconds
            );
        }
        state.history.push(record);
        state.next_epoch = epoch + 1;
        if let Some(on_derive_epoch) = run.on_derive_epoch
            && let Some(picked) = cfg.derive_from.pick(&state.history).filter(|r| r.epoch == epoch)
        {
            on_derive_epoch(&net, picked)?;
        }
        checkpoint::save(run.run_dir, run.fingerprint, &net, &arch, &opt, &state)?;
        write_history_files(run.run_dir, &state)?;
        if run.control.stop_after.is_some_and(|stop| state.next_epoch >= stop) {
            break;
        }
    }
    Ok(SearchOutcome { net, arch, state, epochs_run })
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
    match (record.val_eval_acc, record.val_eval_metrics.get(BEST_RANKING_METRIC)) {
        (None, Some(ndcg)) => format!("{BEST_RANKING_METRIC} {ndcg:.4}"),
        (acc, _) => format!("acc {}", fmt_acc(acc)),
    }
}

fn fmt_acc(acc: Option<f64>) -> String {
    acc.map_or_else(|| "-".to_string(), |a| format!("{:.1}%", 100.0 * a))
}
