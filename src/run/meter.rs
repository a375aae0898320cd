//! What both loops do with every step and every epoch: sum step readings into per-epoch means
//! ([`Meter`]) and reseed from `(seed, epoch)` ([`epoch_seed`]), which makes resuming at an epoch
//! boundary exact.

use super::loss::LossReading;
use std::collections::BTreeMap;

/// A per-epoch seed derived from the run seed.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(epoch as u64 + 1)
}

/// Running sums of step readings, weighted by batch size (DARTS's AvgrageMeter).
#[derive(Default)]
pub struct Meter {
    loss: f64,
    correct: Option<usize>,
    count: usize,
    terms: BTreeMap<String, f64>,
}

impl Meter {
    /// Adds one step's reading.
    pub fn add(&mut self, r: LossReading) {
        self.loss += r.loss as f64 * r.count as f64;
        self.count += r.count;
        if let Some(c) = r.correct {
            *self.correct.get_or_insert(0) += c;
        }
        for (name, value) in r.terms {
            *self.terms.entry(name.to_string()).or_insert(0.0) += value as f64 * r.count as f64;
        }
    }
    /// Per-example mean of every named term.
    pub fn mean_terms(&self) -> BTreeMap<String, f64> {
        self.terms.iter().map(|(k, v)| (k.clone(), v / self.count.max(1) as f64)).collect()
    }
    /// Per-example mean loss.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.count.max(1) as f64
    }
    /// Fraction of correct predictions, when the task counts them.
    pub fn accuracy(&self) -> Option<f64> {
        self.correct.map(|c| c as f64 / self.count.max(1) as f64)
    }
}
