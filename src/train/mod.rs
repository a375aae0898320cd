//! Training a derived (discrete) network from scratch with cross-entropy: SGD with momentum, cosine
//! learning rate, global gradient clipping, CIFAR augmentation, test accuracy after every epoch, and
//! per-epoch checkpoints ([`checkpoint`]) from which a stopped run resumes exactly.

pub mod checkpoint;

use crate::data::{Augment, ImageSet, image_batch};
use crate::error::{KdnasError, Result};
use crate::metrics::{correct_count, cross_entropy};
use crate::search::config::cosine_lr;
use crate::search::params::clip_global_norm;
use crate::search::run::epoch_seed;
use crate::search::sgd::Sgd;
use crate::supernet::CellNetwork;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Hyper-parameters for training a derived network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs (DARTS 600).
    pub epochs: usize,
    /// Batch size (DARTS 96).
    pub batch_size: usize,
    /// Initial learning rate, cosine-annealed to `lr_min` (DARTS 0.025 -> 0).
    pub lr: f64,
    /// Final learning rate.
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Node channels of the derived network (DARTS 36); default: the search network's.
    pub channels: Option<usize>,
    /// Cells of the derived network (DARTS 20); default: the search network's.
    pub layers: Option<usize>,
    /// Random crop + flip on training images.
    pub augment: bool,
    /// Cutout square side on training images (DARTS's evaluation: 16), none by default.
    pub cutout: Option<usize>,
    /// Final drop-path probability, reached linearly from 0 over the epochs (DARTS's evaluation:
    /// 0.2); 0 (the default) disables it.
    pub drop_path: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 600,
            batch_size: 96,
            lr: 0.025,
            lr_min: 0.0,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            channels: None,
            layers: None,
            augment: true,
            cutout: None,
            drop_path: 0.0,
        }
    }
}

impl TrainConfig {
    /// Rejects values that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::{at_least_one, cosine_range, field_error, non_negative, positive, unit_interval};
        at_least_one("train.epochs", self.epochs)?;
        at_least_one("train.batch_size", self.batch_size)?;
        cosine_range("train.lr", self.lr, "train.lr_min", self.lr_min)?;
        unit_interval("train.momentum", self.momentum)?;
        non_negative("train.weight_decay", self.weight_decay)?;
        positive("train.grad_clip", self.grad_clip)?;
        unit_interval("train.drop_path", self.drop_path)?;
        if self.cutout == Some(0) {
            return Err(field_error("train.cutout", "the square side must be at least 1 (leave it out for none)"));
        }
        for (field, value) in [("train.channels", self.channels), ("train.layers", self.layers)] {
            if let Some(v) = value {
                at_least_one(field, v)?;
            }
        }
        Ok(())
    }
}

/// One epoch of derived-network training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (train mode, augmented).
    pub train_acc: f64,
    /// Test accuracy (evaluation mode, running BN statistics).
    pub test_acc: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// Accuracy of `net` (evaluation mode) on `set`.
pub fn evaluate<B: Backend>(net: &CellNetwork<B>, set: &ImageSet, batch: usize, device: &B::Device) -> f64 {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let (x, y) = image_batch::<B>(set, chunk, None, device);
        let c: i64 = correct_count(net.forward(x, None), y).into_scalar().elem();
        correct += c as usize;
    }
    correct as f64 / set.len().max(1) as f64
}

/// Where a training run stands: the network, the optimiser and the finished epochs.
pub struct TrainState<AB: AutodiffBackend> {
    /// The network being trained.
    pub net: CellNetwork<AB>,
    /// Its optimiser (momentum velocity).
    pub sgd: Sgd<AB>,
    /// One record per finished epoch; training continues at `history.len()`.
    pub history: Vec<TrainEpoch>,
}

impl<AB: AutodiffBackend> TrainState<AB> {
    /// A fresh run of `net` with the optimiser `cfg` describes.
    pub fn new(net: CellNetwork<AB>, cfg: &TrainConfig) -> Self {
        Self { net, sgd: Sgd::new(cfg.momentum, cfg.weight_decay), history: Vec::new() }
    }
}

/// The data of a training run.
pub struct TrainData<'a> {
    /// Training images.
    pub train: &'a ImageSet,
    /// Test images (accuracy after every epoch).
    pub test: &'a ImageSet,
    /// Augmentation of training images.
    pub augment: Option<&'a Augment>,
}

/// How a training run is driven.
pub struct TrainControl {
    /// Seed of the per-epoch data order, augmentation and backend RNG.
    pub seed: u64,
    /// Show progress bars and epoch lines.
    pub progress: bool,
    /// Stop once this many epochs are finished (the run can be resumed).
    pub stop_after: Option<usize>,
}

/// Trains `state` from its next epoch to `cfg.epochs` (or `control.stop_after`), measuring test
/// accuracy after each epoch; `on_epoch` sees the state after every epoch (to checkpoint it).
pub fn train_classifier<AB: AutodiffBackend>(
    mut state: TrainState<AB>,
    data: &TrainData,
    cfg: &TrainConfig,
    control: &TrainControl,
    device: &AB::Device,
    mut on_epoch: impl FnMut(&TrainState<AB>) -> Result<()>,
) -> Result<TrainState<AB>> {
    cfg.validate()?;
    let (train, test, augment, seed, progress) = (data.train, data.test, data.augment, control.seed, control.progress);
    // Every training image once per epoch, the last batch partial (as DARTS's loader).
    let steps = train.len().div_ceil(cfg.batch_size).max(1);
    for epoch in state.history.len()..cfg.epochs {
        let started = std::time::Instant::now();
        let mut rng = StdRng::seed_from_u64(epoch_seed(seed, epoch));
        AB::seed(device, epoch_seed(seed, epoch));
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        let lr = cosine_lr(cfg.lr, cfg.lr_min, epoch, cfg.epochs);
        let drop_path = cfg.drop_path * epoch as f64 / cfg.epochs as f64; // DARTS's linear schedule
        let bar = if progress { ProgressBar::new(steps as u64) } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} eta {eta} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("train {}/{}", epoch + 1, cfg.epochs));
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for step in 0..steps {
            let idx = &order[step * cfg.batch_size..((step + 1) * cfg.batch_size).min(order.len())];
            let (x, y) = image_batch::<AB>(train, idx, augment.map(|a| (a, &mut rng)), device);
            let logits = state.net.forward_with_drop_path(x, None, drop_path);
            let loss = cross_entropy(logits.clone(), y.clone());
            let value: f32 = loss.clone().into_scalar().elem();
            if !value.is_finite() {
                return Err(KdnasError::NonFinite { epoch, step, term: "cross_entropy".into(), value });
            }
            let c: i64 = correct_count(logits, y).into_scalar().elem();
            let mut grads = loss.backward();
            let mut g = GradientsParams::from_module(&mut grads, &state.net);
            clip_global_norm::<AB, CellNetwork<AB>>(&state.net, &mut g, cfg.grad_clip);
            state.net = state.sgd.step(state.net, &g, lr);
            loss_sum += value as f64 * idx.len() as f64;
            correct += c as usize;
            seen += idx.len();
            bar.set_message(format!(
                "loss {:.3} acc {:.1}%",
                loss_sum / seen as f64,
                100.0 * correct as f64 / seen as f64
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let test_acc = evaluate(&state.net.valid(), test, 256, device);
        let record = TrainEpoch {
            epoch,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            test_acc,
            seconds: started.elapsed().as_secs_f64(),
        };
        if progress {
            eprintln!(
                "train epoch {}/{}  loss {:.4}  train acc {:.2}%  test acc {:.2}%  ({:.1}s)",
                epoch + 1,
                cfg.epochs,
                record.train_loss,
                100.0 * record.train_acc,
                100.0 * test_acc,
                record.seconds
            );
        }
        state.history.push(record);
        on_epoch(&state)?;
        if control.stop_after.is_some_and(|stop| state.history.len() >= stop) {
            break;
        }
    }
    Ok(state)
}
