//! The one per-epoch record of every loop ([`EpochRecord`]): learning rate, the training split's mean
//! loss, accuracy and named terms, the end-of-epoch evaluation metrics by name, wall time, and the
//! loop's own extras (`X`: nothing for training, the architecture steps and weights for a search).
//!
//! Each loop keeps the file layout its runs were written in ([`RecordLayout`]), so every committed
//! checkpoint and JSON-lines file still loads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// One finished epoch of a loop; `X` holds what only that loop records.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord<X> {
    /// 0-based epoch.
    pub epoch: usize,
    /// (Weight) learning rate used.
    pub lr: f64,
    /// Mean training loss (the total the weight steps minimised), weighted by batch size.
    pub train_loss: f64,
    /// Training accuracy (training mode, augmented batches), for tasks that count correct predictions.
    pub train_acc: Option<f64>,
    /// Mean of every named term of the training loss (e.g. `cross_entropy`, `kd`), weighted by batch size.
    pub train_terms: BTreeMap<String, f64>,
    /// Every metric of the end-of-epoch evaluation by name (e.g. `test_acc`, `valid_ndcg@10`).
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
    /// What only this loop records.
    pub extras: X,
}

impl<X> EpochRecord<X> {
    /// The evaluation metric `name`, if the task reported it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

/// The epoch of `history` with the highest `figure` (the earliest on ties; epochs whose figure is
/// `None` are skipped).
pub fn best_epoch<X>(
    history: &[EpochRecord<X>],
    figure: impl Fn(&EpochRecord<X>) -> Option<f64>,
) -> Option<&EpochRecord<X>> {
    let scored = history.iter().filter_map(|r| Some((r, figure(r)?)));
    scored
        .fold(None::<(&EpochRecord<X>, f64)>, |best, (r, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((r, v)),
        })
        .map(|(r, _)| r)
}

/// How a loop's records are written (checkpoints, JSON-lines files): the serialisable line of an
/// [`EpochRecord`] with these extras, and the way back.
pub trait RecordLayout: Sized {
    /// The record as it is written.
    type Line: Serialize + DeserializeOwned;
    /// The written form of `record`.
    fn to_line(record: &EpochRecord<Self>) -> Self::Line;
    /// The record a written line holds.
    fn from_line(line: Self::Line) -> EpochRecord<Self>;
}

impl<X: RecordLayout> Serialize for EpochRecord<X> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        X::to_line(self).serialize(serializer)
    }
}

impl<'de, X: RecordLayout> Deserialize<'de> for EpochRecord<X> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        X::Line::deserialize(deserializer).map(X::from_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, acc: Option<f64>) -> EpochRecord<()> {
        EpochRecord {
            epoch,
            lr: 0.1,
            train_loss: 1.0,
            train_acc: None,
            train_terms: BTreeMap::new(),
            metrics: acc.map(|a| ("acc".to_string(), a)).into_iter().collect(),
            seconds: 1.0,
            extras: (),
        }
    }

    #[test]
    fn the_best_epoch_is_the_earliest_highest_among_those_with_a_figure() {
        let history = [record(0, Some(0.5)), record(1, None), record(2, Some(0.7)), record(3, Some(0.7))];
        assert_eq!(best_epoch(&history, |r| r.metric("acc")).map(|r| r.epoch), Some(2));
        let without_2 = |r: &EpochRecord<()>| r.metric("acc").filter(|_| r.epoch != 2);
        assert_eq!(best_epoch(&history, without_2).map(|r| r.epoch), Some(3));
        assert_eq!(best_epoch(&history, |r| r.metric("loss")).map(|r| r.epoch), None);
    }
}
