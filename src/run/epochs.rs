//! The one epoch driver of every loop: per epoch, reseed from `(seed, epoch)` (which makes resuming
//! at an epoch boundary exact), let the loop draw its data order, run its steps under a progress bar,
//! record the epoch, print its line, keep what it produced (weights, checkpoint, record files) and
//! stop at the planned epoch, at `--stop-after` or when the patience on a figure runs out. The loops
//! (search, training) are step strategies over it ([`EpochSteps`]).

use super::meter::epoch_seed;
use super::record::{EpochRecord, best_epoch};
use crate::error::Result;
use crate::progress::progress_bar;
use burn::tensor::backend::Backend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

/// What a loop does inside the shared epoch skeleton.
pub trait EpochSteps {
    /// What the loop's records hold beyond [`EpochRecord`]'s common fields.
    type Extras;
    /// Optimisation steps in an epoch.
    fn steps(&self) -> usize;
    /// Starts epoch `epoch`: draws the data order from `rng`; returns the learning rate the epoch uses.
    fn begin_epoch(&mut self, epoch: usize, rng: &mut StdRng) -> f64;
    /// Runs step `step` of epoch `epoch` at the learning rate `begin_epoch` returned and returns the
    /// progress bar's message (running figures).
    fn step(&mut self, epoch: usize, step: usize, lr: f64, rng: &mut StdRng) -> Result<String>;
    /// Evaluates the epoch just trained and returns its record (`seconds` is set by the driver).
    fn end_epoch(&mut self, epoch: usize, lr: f64) -> Result<EpochRecord<Self::Extras>>;
    /// The line printed after epoch `record.epoch` of `epochs`.
    fn epoch_line(&self, record: &EpochRecord<Self::Extras>, epochs: usize) -> String;
    /// Keeps what the epoch that ends `history` produced (weights, the caller's hooks), then writes the
    /// checkpoint and the record files; a crash in between repeats the epoch.
    fn keep(&mut self, history: &[EpochRecord<Self::Extras>]) -> Result<()>;
}

/// Early stopping: the run ends once `epochs` epochs have passed since the best value of `figure`.
pub struct Patience<'a, X> {
    /// Epochs without a new best figure that end the run.
    pub epochs: usize,
    /// What the figure is, for the stopping line (e.g. `test_acc`).
    pub name: String,
    /// The figure of a record, `None` for records that do not compete (e.g. warm-up epochs).
    pub figure: &'a dyn Fn(&EpochRecord<X>) -> Option<f64>,
}

impl<X> Patience<'_, X> {
    /// Whether `self.epochs` epochs have passed since the best epoch of `history`.
    pub fn exhausted(&self, history: &[EpochRecord<X>]) -> bool {
        match (best_epoch(history, self.figure), history.last()) {
            (Some(best), Some(last)) => last.epoch - best.epoch >= self.epochs,
            _ => false,
        }
    }

    /// `"no new best <name> in the N epochs after epoch E (value V)"`.
    fn no_improvement(&self, history: &[EpochRecord<X>]) -> String {
        let Some(best) = best_epoch(history, self.figure) else { return String::new() };
        let since = history.last().map_or(0, |last| last.epoch - best.epoch);
        let value = (self.figure)(best).unwrap_or_default();
        format!("no new best {} in the {since} epochs after epoch {} ({value:.4})", self.name, best.epoch + 1)
    }
}

/// The epochs a run goes through and how it reports them.
pub struct EpochPlan<'a, X> {
    /// Epochs of the whole run.
    pub epochs: usize,
    /// Run seed (epoch `e` reseeds from `(seed, e)`).
    pub seed: u64,
    /// Show a progress bar and one line per epoch on stderr.
    pub progress: bool,
    /// Stop (after the epoch's checkpoint) once this many epochs are finished.
    pub stop_after: Option<usize>,
    /// Word that starts the progress bar (`epoch`, `teacher`, ...).
    pub label: &'a str,
    /// Early stopping, when the run has it.
    pub patience: Option<Patience<'a, X>>,
}

/// How a call of [`drive_epochs`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveOutcome {
    /// Epochs run by this call (a resumed run counts only those after its checkpoint).
    pub epochs_run: usize,
    /// Whether the patience ended the run before its last planned epoch.
    pub stopped_early: bool,
}

/// Runs the epochs of `plan` after those `history` holds (a resumed run's), appending their records.
pub fn drive_epochs<B: Backend, S: EpochSteps>(
    steps: &mut S,
    plan: &EpochPlan<S::Extras>,
    history: &mut Vec<EpochRecord<S::Extras>>,
    device: &B::Device,
) -> Result<DriveOutcome> {
    let exhausted = |history: &[EpochRecord<S::Extras>]| plan.patience.as_ref().is_some_and(|p| p.exhausted(history));
    let per_epoch = steps.steps();
    let mut epochs_run = 0;
    for epoch in history.len()..plan.epochs {
        if exhausted(history) {
            break;
        }
        epochs_run += 1;
        let started = Instant::now();
        B::seed(device, epoch_seed(plan.seed, epoch));
        let mut rng = StdRng::seed_from_u64(epoch_seed(plan.seed, epoch));
        let lr = steps.begin_epoch(epoch, &mut rng);
        let bar =
            progress_bar(plan.progress, per_epoch as u64, &format!("{} {}/{}", plan.label, epoch + 1, plan.epochs));
        for step in 0..per_epoch {
            let message = steps.step(epoch, step, lr, &mut rng)?;
            bar.set_message(message);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mut record = steps.end_epoch(epoch, lr)?;
        record.seconds = started.elapsed().as_secs_f64();
        if plan.progress {
            eprintln!("{}", steps.epoch_line(&record, plan.epochs));
        }
        history.push(record);
        steps.keep(history)?;
        if plan.stop_after.is_some_and(|stop| history.len() >= stop) {
            break;
        }
    }
    let stopped_early = history.len() < plan.epochs && exhausted(history);
    if let Some(patience) = plan.patience.as_ref().filter(|_| stopped_early && epochs_run > 0 && plan.progress) {
        eprintln!("{}: stopped early, {}", plan.label, patience.no_improvement(history));
    }
    Ok(DriveOutcome { epochs_run, stopped_early })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A loop whose epochs report the figures of `figures` in turn and count their steps and keeps.
    struct Scripted {
        figures: Vec<f64>,
        steps_run: usize,
        kept: Vec<usize>,
    }

    impl EpochSteps for Scripted {
        type Extras = ();
        fn steps(&self) -> usize {
            3
        }
        fn begin_epoch(&mut self, epoch: usize, _rng: &mut StdRng) -> f64 {
            0.1 / (epoch + 1) as f64
        }
        fn step(&mut self, _epoch: usize, _step: usize, _lr: f64, _rng: &mut StdRng) -> Result<String> {
            self.steps_run += 1;
            Ok(String::new())
        }
        fn end_epoch(&mut self, epoch: usize, lr: f64) -> Result<EpochRecord<()>> {
            Ok(EpochRecord {
                epoch,
                lr,
                train_loss: 1.0,
                train_acc: None,
                train_terms: BTreeMap::new(),
                metrics: BTreeMap::from([("acc".to_string(), self.figures[epoch])]),
                seconds: 0.0,
                extras: (),
            })
        }
        fn epoch_line(&self, _record: &EpochRecord<()>, _epochs: usize) -> String {
            String::new()
        }
        fn keep(&mut self, history: &[EpochRecord<()>]) -> Result<()> {
            self.kept.push(history.len());
            Ok(())
        }
    }

    fn drive(
        figures: &[f64],
        patience: Option<usize>,
        stop_after: Option<usize>,
        history: &mut Vec<EpochRecord<()>>,
    ) -> (DriveOutcome, Scripted) {
        let mut steps = Scripted { figures: figures.to_vec(), steps_run: 0, kept: Vec::new() };
        let figure = |r: &EpochRecord<()>| r.metric("acc");
        let patience = patience.map(|epochs| Patience { epochs, name: "acc".to_string(), figure: &figure });
        let plan = EpochPlan { epochs: figures.len(), seed: 0, progress: false, stop_after, label: "test", patience };
        let outcome = drive_epochs::<burn::backend::Flex, _>(&mut steps, &plan, history, &Default::default()).unwrap();
        (outcome, steps)
    }

    #[test]
    fn runs_every_epoch_and_keeps_after_each() {
        let mut history = Vec::new();
        let (outcome, steps) = drive(&[0.1, 0.2, 0.3], None, None, &mut history);
        assert_eq!(outcome, DriveOutcome { epochs_run: 3, stopped_early: false });
        assert_eq!((steps.steps_run, steps.kept), (9, vec![1, 2, 3]));
        assert_eq!(history.iter().map(|r| r.lr).collect::<Vec<_>>(), [0.1, 0.05, 0.1 / 3.0]);
    }

    #[test]
    fn patience_ends_the_run_after_epochs_without_a_new_best() {
        let mut history = Vec::new();
        let (outcome, _) = drive(&[0.1, 0.5, 0.4, 0.5, 0.9, 0.9], Some(2), None, &mut history);
        assert_eq!(outcome, DriveOutcome { epochs_run: 4, stopped_early: true }, "best epoch 2, then 2 epochs");
        let (outcome, _) = drive(&[0.1, 0.5, 0.4, 0.5, 0.9, 0.9], Some(2), None, &mut history);
        assert_eq!(
            outcome,
            DriveOutcome { epochs_run: 0, stopped_early: true },
            "a resumed exhausted run stays stopped"
        );
    }

    #[test]
    fn stop_after_pauses_and_a_second_call_continues_from_the_history() {
        let mut history = Vec::new();
        let (outcome, _) = drive(&[0.1, 0.2, 0.3], None, Some(2), &mut history);
        assert_eq!((outcome.epochs_run, history.len()), (2, 2));
        let (outcome, steps) = drive(&[0.1, 0.2, 0.3], None, None, &mut history);
        assert_eq!((outcome.epochs_run, steps.kept), (1, vec![3]));
        assert_eq!(history.iter().map(|r| r.epoch).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
