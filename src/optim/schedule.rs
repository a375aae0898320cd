//! Learning-rate schedules over epochs: cosine annealing (DARTS, the default) and step decay at
//! milestones (the usual ResNet/WRN teacher recipe).

use crate::error::Result;
use crate::validate::{field_error, positive};
use serde::{Deserialize, Serialize};

/// How the learning rate moves over the epochs of a run, from its initial value `lr`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// Cosine annealing from `lr` to `lr_min` over the run (PyTorch `CosineAnnealingLR`).
    #[default]
    Cosine,
    /// `lr` times `gamma` once for every milestone reached (PyTorch `MultiStepLR`): the rate drops at
    /// the start of each 0-based epoch listed in `milestones`.
    Step {
        /// 0-based epochs at which the rate is multiplied by `gamma`, strictly increasing.
        milestones: Vec<usize>,
        /// Factor applied at each milestone (0.1 for ResNet/WRN).
        gamma: f64,
    },
}

impl LrSchedule {
    /// Whether this is cosine annealing, the default (left out of written configs).
    pub fn is_cosine(&self) -> bool {
        *self == LrSchedule::Cosine
    }

    /// The learning rate of 0-based `epoch` out of `epochs`, starting at `lr` (cosine ends at `lr_min`).
    pub fn lr_at(&self, lr: f64, lr_min: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            LrSchedule::Cosine => cosine_lr(lr, lr_min, epoch, epochs),
            LrSchedule::Step { milestones, gamma } => {
                let reached = milestones.iter().filter(|&&m| m <= epoch).count();
                lr * gamma.powi(reached as i32)
            }
        }
    }

    /// Rejects schedules that cannot work; `field` is the dotted name of the schedule (`train.schedule`).
    pub fn validate(&self, field: &str) -> Result<()> {
        let LrSchedule::Step { milestones, gamma } = self else { return Ok(()) };
        positive(&format!("{field}.gamma"), *gamma)?;
        if milestones.first() == Some(&0) {
            return Err(field_error(&format!("{field}.milestones"), "0 is not a milestone: the run starts at lr"));
        }
        if let Some(w) = milestones.windows(2).find(|w| w[0] >= w[1]) {
            let why = format!("must be strictly increasing ({} then {})", w[0], w[1]);
            return Err(field_error(&format!("{field}.milestones"), why));
        }
        Ok(())
    }
}

/// Cosine annealing from `max` at epoch 0 to `min` at epoch `epochs` (PyTorch CosineAnnealingLR).
pub fn cosine_lr(max: f64, min: f64, epoch: usize, epochs: usize) -> f64 {
    let t = epoch as f64 / epochs.max(1) as f64;
    min + 0.5 * (max - min) * (1.0 + (std::f64::consts::PI * t).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        schedule: LrSchedule,
    }

    fn parse(text: &str) -> std::result::Result<LrSchedule, toml::de::Error> {
        toml::from_str::<Holder>(text).map(|h| h.schedule)
    }

    #[test]
    fn cosine_runs_from_lr_to_lr_min() {
        let s = LrSchedule::default();
        assert_eq!(s.lr_at(0.1, 0.0, 0, 10), 0.1);
        assert!((s.lr_at(0.1, 0.0, 5, 10) - 0.05).abs() < 1e-12);
        assert!(s.lr_at(0.1, 0.001, 10, 10) - 0.001 < 1e-12);
    }

    #[test]
    fn step_drops_at_each_milestone() {
        let s = parse("schedule = { kind = \"step\", milestones = [2, 4], gamma = 0.1 }").unwrap();
        let lrs: Vec<f64> = (0..6).map(|e| s.lr_at(1.0, 0.0, e, 6)).collect();
        assert_eq!(lrs[..2], [1.0, 1.0]);
        assert!((lrs[2] - 0.1).abs() < 1e-12 && (lrs[3] - 0.1).abs() < 1e-12);
        assert!((lrs[4] - 0.01).abs() < 1e-12 && (lrs[5] - 0.01).abs() < 1e-12);
    }

    #[test]
    fn parses_tags_and_rejects_unknown_keys_and_bad_values() {
        assert_eq!(parse("schedule = { kind = \"cosine\" }").unwrap(), LrSchedule::Cosine);
        assert!(parse("schedule = { kind = \"linear\" }").is_err());
        assert!(parse("schedule = { kind = \"step\", milestones = [1], gamma = 0.1, warmup = 2 }").is_err());
        let err = |text: &str| parse(text).unwrap().validate("train.schedule").unwrap_err().to_string();
        assert!(
            err("schedule = { kind = \"step\", milestones = [3, 3], gamma = 0.1 }")
                .starts_with("train.schedule.milestones: must be strictly increasing")
        );
        assert!(
            err("schedule = { kind = \"step\", milestones = [0], gamma = 0.1 }")
                .starts_with("train.schedule.milestones: 0 is not")
        );
        assert!(err("schedule = { kind = \"step\", milestones = [], gamma = 0 }").starts_with("train.schedule.gamma:"));
    }
}
