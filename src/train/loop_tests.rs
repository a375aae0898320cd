//! The training loop driven by a toy task (a line fitted to points by least squares, with an optional
//! `poison` term that turns NaN from a given step on): exact resume, the NaN check naming the term,
//! the best weights kept only on improvement, and early stopping.

use super::TrainConfig;
use super::epochs::{BestEpoch, TrainOutcome, TrainRun, train_loop};
use super::records::TrainEpoch;
use super::task::{EpochAt, TrainTask};
use crate::error::KdnasError;
use crate::manifest::Fingerprint;
use crate::run::TaskLoss;
use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};
use rand::rngs::StdRng;
use std::cell::Cell;
use std::path::{Path, PathBuf};

type Cpu = Autodiff<Flex>;

/// `y = w[0] * x + w[1]`.
#[derive(Module, Debug)]
struct Line<B: Backend> {
    w: Param<Tensor<B, 1>>,
}

impl<B: Backend> Line<B> {
    fn new(device: &B::Device) -> Self {
        Self { w: Param::from_tensor(Tensor::from_floats([0.0, 0.0], device)) }
    }

    /// Mean squared error on the points `indices` of `POINTS`, `[1]`.
    fn mse(&self, indices: &[usize], device: &B::Device) -> Tensor<B, 1> {
        let xs: Vec<f32> = indices.iter().map(|&i| POINTS[i].0).collect();
        let ys: Vec<f32> = indices.iter().map(|&i| POINTS[i].1).collect();
        let x = Tensor::<B, 1>::from_floats(xs.as_slice(), device); // [n]
        let y = Tensor::<B, 1>::from_floats(ys.as_slice(), device); // [n]
        let w = self.w.val();
        let prediction = x * w.clone().narrow(0, 0, 1) + w.narrow(0, 1, 1); // [n]
        (prediction - y).powi_scalar(2).mean()
    }

    fn values(&self) -> Vec<f32> {
        self.w.val().into_data().convert::<f32>().into_vec().unwrap()
    }
}

/// Points near `y = 2x + 1`.
const POINTS: [(f32, f32); 10] = [
    (0.0, 1.1),
    (0.1, 1.2),
    (0.2, 1.4),
    (0.3, 1.5),
    (0.4, 1.9),
    (0.5, 2.0),
    (0.6, 2.2),
    (0.7, 2.4),
    (0.8, 2.6),
    (0.9, 2.8),
];

/// Fits [`Line`] to [`POINTS`]; evaluation reports `fit` = 1 - mse on every point and, when
/// `evaluations` is set, `peaked`, which is highest at the second evaluation (`-|evaluation - 1|`,
/// counted from 0).
struct LineTask {
    /// From this loss call on (1-based) a `poison` term is NaN; `None`: no such term.
    poison_from: Option<usize>,
    calls: Cell<usize>,
    /// Evaluations so far (a resumed run's task starts from the epochs already done); `None`: no
    /// `peaked` metric.
    evaluations: Option<Cell<usize>>,
}

impl TrainTask<Cpu> for LineTask {
    type Net = Line<Cpu>;
    type Batch = Vec<usize>;

    fn train_len(&self) -> usize {
        POINTS.len()
    }

    fn batch(&self, indices: &[usize], _rng: &mut StdRng) -> Vec<usize> {
        indices.to_vec()
    }

    fn loss(&self, net: &Line<Cpu>, batch: &Vec<usize>, _at: EpochAt) -> TaskLoss<Cpu> {
        let mse = net.mse(batch, &Default::default());
        let mut terms = vec![("mse", mse.clone())];
        let mut total = mse;
        self.calls.set(self.calls.get() + 1);
        if let Some(from) = self.poison_from {
            let value = if self.calls.get() >= from { f32::NAN } else { 0.0 };
            let poison = Tensor::<Cpu, 1>::from_floats([value], &Default::default());
            total = total + poison.clone();
            terms.push(("poison", poison));
        }
        TaskLoss { total, terms, correct: None, count: batch.len() }
    }

    fn evaluate(&self, net: &Line<Flex>) -> Vec<(String, f64)> {
        let all: Vec<usize> = (0..POINTS.len()).collect();
        let mse: f32 = net.mse(&all, &Default::default()).into_scalar().elem();
        let mut metrics = vec![("fit".to_string(), 1.0 - mse as f64)];
        if let Some(count) = &self.evaluations {
            let evaluation = count.replace(count.get() + 1);
            metrics.push(("peaked".to_string(), -(evaluation as f64 - 1.0).abs()));
        }
        metrics
    }
}

fn task(poison_from: Option<usize>) -> LineTask {
    LineTask { poison_from, calls: Cell::new(0), evaluations: None }
}

/// A [`LineTask`] reporting `peaked`, `done` epochs into the run.
fn peaking_task(done: usize) -> LineTask {
    LineTask { evaluations: Some(Cell::new(done)), ..task(None) }
}

fn config() -> TrainConfig {
    TrainConfig { epochs: 3, batch_size: 4, lr: 0.3, weight_decay: 0.0, ..TrainConfig::default() }
}

fn run_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdnas-loop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Trains [`Line`] in `dir` (resuming when asked) and returns the weights and the records.
fn train(
    task: &LineTask,
    dir: &Path,
    resume: bool,
    stop_after: Option<usize>,
) -> crate::Result<(Vec<f32>, Vec<TrainEpoch>, usize)> {
    let outcome = train_with(task, dir, resume, stop_after, &config(), Some("fit"))?;
    Ok((outcome.net.valid().values(), outcome.history, outcome.epochs_run))
}

/// Trains [`Line`] with `config`, keeping the best weights by `keep_best`.
fn train_with(
    task: &LineTask,
    dir: &Path,
    resume: bool,
    stop_after: Option<usize>,
    config: &TrainConfig,
    keep_best: Option<&str>,
) -> crate::Result<TrainOutcome<Line<Cpu>>> {
    let device = Default::default();
    let net = Line::<Cpu>::new(&device);
    // As in every command's run config, the loop's settings are the `[train]` section.
    #[derive(serde::Serialize)]
    struct RunConfig<'a> {
        train: &'a TrainConfig,
    }
    let fingerprint = Fingerprint::new(&RunConfig { train: config }, &[], &net)?;
    let run = TrainRun {
        config,
        seed: 4,
        run_dir: dir,
        resume,
        progress: false,
        stop_after,
        device: &device,
        fingerprint: &fingerprint,
        keep_best,
        label: "line",
    };
    train_loop(task, net, &run, |_, _| Ok(()))
}

fn without_seconds(history: &[TrainEpoch]) -> Vec<TrainEpoch> {
    history.iter().map(|r| TrainEpoch { seconds: 0.0, ..r.clone() }).collect()
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_ends() {
    let (whole, split) = (run_dir("whole"), run_dir("split"));
    let (weights, history, _) = train(&task(None), &whole, false, None).unwrap();
    assert!(history[2].metric("fit") > history[0].metric("fit"), "the line is being fitted: {history:?}");
    assert_eq!(history[0].train_terms.keys().collect::<Vec<_>>(), ["mse"]);
    let (_, stopped, ran) = train(&task(None), &split, false, Some(1)).unwrap();
    assert_eq!((stopped.len(), ran), (1, 1));
    let (resumed_weights, resumed, ran) = train(&task(None), &split, true, None).unwrap();
    assert_eq!(ran, 2, "a resume runs only the epochs after the checkpoint");
    assert_eq!(resumed[0], stopped[0], "epoch 1's record (wall time included) comes from the checkpoint");
    assert_eq!(without_seconds(&resumed), without_seconds(&history));
    assert_eq!(resumed_weights, weights);
    let (_, again, ran) = train(&task(None), &split, true, None).unwrap();
    assert_eq!((ran, again.len()), (0, 3), "a finished run trains no further");
}

#[test]
fn a_non_finite_term_is_named_and_the_last_checkpoint_kept() {
    let dir = run_dir("nan");
    // Three steps per epoch: the fifth loss is the second step of epoch 2.
    let err = train(&task(Some(5)), &dir, false, None).unwrap_err();
    match err {
        KdnasError::NonFinite { epoch, step, term, .. } => assert_eq!((epoch, step, term.as_str()), (1, 1, "poison")),
        other => panic!("{other}"),
    }
    let metrics = std::fs::read_to_string(dir.join("train_metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1, "epoch 1 is kept");
    let (_, history, ran) = train(&task(None), &dir, true, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ran, history.len()), (2, 3), "the run resumes from epoch 2");
}

#[test]
fn the_best_weights_change_only_when_the_metric_improves() {
    let dir = run_dir("best");
    let (_, history, _) = train(&task(None), &dir, false, None).unwrap();
    let best: BestEpoch = serde_json::from_slice(&std::fs::read(dir.join("best/best.json")).unwrap()).unwrap();
    let fits: Vec<f64> = history.iter().map(|r| r.metric("fit").unwrap()).collect();
    let top = (0..fits.len()).fold(0, |b, i| if fits[i] > fits[b] { i } else { b });
    assert_eq!((best.epoch, best.value, best.metric.as_str()), (top, fits[top], "fit"));
    assert!(dir.join("best/model.mpk").is_file());
}

#[test]
fn patience_ends_the_run_after_that_many_epochs_without_a_new_best() {
    let dir = run_dir("patience");
    let config = TrainConfig { epochs: 8, patience: Some(2), ..config() };
    let outcome = train_with(&peaking_task(0), &dir, false, Some(3), &config, Some("peaked")).unwrap();
    assert_eq!((outcome.history.len(), outcome.stopped_early), (3, false), "stop-after is not early stopping");
    // The resumed task evaluates from epoch 3 on: best epoch 1, so epoch 3 (0-based) is the last.
    let outcome = train_with(&peaking_task(3), &dir, true, None, &config, Some("peaked")).unwrap();
    assert_eq!((outcome.history.len(), outcome.epochs_run, outcome.stopped_early), (4, 1, true));
    let best: BestEpoch = serde_json::from_slice(&std::fs::read(dir.join("best/best.json")).unwrap()).unwrap();
    assert_eq!(best.epoch, 1);
    let again = train_with(&peaking_task(4), &dir, true, None, &config, Some("peaked")).unwrap();
    assert_eq!(
        (again.history.len(), again.epochs_run, again.stopped_early),
        (4, 0, true),
        "a stopped run stays stopped"
    );
    let longer = TrainConfig { patience: Some(5), ..config.clone() };
    let more = train_with(&peaking_task(4), &dir, true, None, &longer, Some("peaked")).unwrap();
    assert_eq!(
        (more.history.len(), more.stopped_early),
        (7, true),
        "patience is not fingerprinted: raise it and resume"
    );
}

#[test]
fn patience_without_a_metric_to_watch_is_refused() {
    let config = TrainConfig { patience: Some(2), ..config() };
    let err = train_with(&task(None), &run_dir("patience-none"), false, None, &config, None).err().unwrap();
    assert!(err.to_string().contains("train.patience"), "{err}");
}
