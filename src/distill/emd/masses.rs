//! Layer masses of the EMD layer mapping and their update after each step (BERT-EMD, AdaRec).

use crate::error::{KdnasError, Result};
use crate::validate;
use serde::{Deserialize, Serialize};

/// The temperature of the mass update in BERT-EMD and AdaRec (`emd_temperature = 10`).
pub const MASS_TEMPERATURE: f64 = 10.0;

/// The transport masses of the student and teacher layers: the supplies and demands of the EMD flow.
/// Kept across steps (and in checkpoints) because each step's flow updates them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMasses {
    /// One mass per student layer (sums to 1).
    pub student: Vec<f64>,
    /// One mass per teacher layer (sums to 1).
    pub teacher: Vec<f64>,
}

impl LayerMasses {
    /// Uniform masses `1/M` and `1/N`, the starting point.
    ///
    /// # Errors
    /// [`KdnasError::Usage`] when either side has no layers.
    pub fn uniform(student_layers: usize, teacher_layers: usize) -> Result<Self> {
        validate::at_least_one("EMD student layers", student_layers)?;
        validate::at_least_one("EMD teacher layers", teacher_layers)?;
        Ok(LayerMasses {
            student: vec![1.0 / student_layers as f64; student_layers],
            teacher: vec![1.0 / teacher_layers as f64; teacher_layers],
        })
    }

    /// The AdaRec update from each layer's transport cost (`student_costs[i] = sum_j F_ij D_ij`, the
    /// teacher's per column): the mean cost `cbar_i = cost_i / w_i`, then
    /// `w_i = softmax_i((sum_k cbar_k / cbar_i) / temperature)` on each side separately.
    ///
    /// A costlier layer gets less mass. As in AdaRec's code, a layer whose mean cost is 0 gets the score 0
    /// (instead of an infinite one), and so the smallest mass; a layer with mass 0 counts as mean cost 0
    /// (AdaRec would divide by zero). Costs below 0 (rounding) count as 0. The new masses sum to 1.
    ///
    /// # Errors
    /// [`KdnasError::Usage`] when a cost list does not match its side, a cost is not finite, or the
    /// temperature is not positive; the masses are unchanged then.
    pub fn update(&mut self, student_costs: &[f64], teacher_costs: &[f64], temperature: f64) -> Result<()> {
        validate::positive("EMD mass temperature", temperature)?;
        let student = updated("student", &self.student, student_costs, temperature)?;
        let teacher = updated("teacher", &self.teacher, teacher_costs, temperature)?;
        *self = LayerMasses { student, teacher };
        Ok(())
    }
}

/// One side's new masses.
fn updated(side: &str, masses: &[f64], costs: &[f64], temperature: f64) -> Result<Vec<f64>> {
    if costs.len() != masses.len() {
        return Err(KdnasError::Usage(format!(
            "EMD mass update: {} {side} costs for {} {side} layers",
            costs.len(),
            masses.len()
        )));
    }
    if let Some((k, c)) = costs.iter().enumerate().find(|(_, c)| !c.is_finite()) {
        return Err(KdnasError::Usage(format!("EMD mass update: {side} layer {k} has the cost {c}")));
    }
    let mean: Vec<f64> = costs.iter().zip(masses).map(|(&c, &w)| if w > 0.0 { c.max(0.0) / w } else { 0.0 }).collect();
    let total: f64 = mean.iter().sum();
    let scores: Vec<f64> = mean.iter().map(|&c| if c > 0.0 { total / c / temperature } else { 0.0 }).collect();
    Ok(softmax(&scores))
}

/// Softmax of a non-empty list (shifted by its maximum).
fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().fold(f64::NEG_INFINITY, |a, &s| a.max(s));
    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_cost_layer_keeps_adarecs_zero_score_and_bad_input_leaves_the_masses_alone() {
        let mut masses = LayerMasses::uniform(2, 1).unwrap();
        // Student: mean costs 0 and 1, total 1: scores 0 and 1/10.
        masses.update(&[0.0, 0.5], &[0.5], 10.0).unwrap();
        let e = 0.1f64.exp();
        assert!(
            (masses.student[0] - 1.0 / (1.0 + e)).abs() < 1e-15 && (masses.student[1] - e / (1.0 + e)).abs() < 1e-15
        );
        assert_eq!(masses.teacher, vec![1.0]);
        let before = masses.clone();
        assert!(masses.update(&[0.1], &[0.5], 10.0).is_err());
        assert!(masses.update(&[0.1, f64::NAN], &[0.5], 10.0).is_err());
        assert!(masses.update(&[0.1, 0.2], &[0.5], 0.0).is_err());
        assert_eq!(masses, before);
        assert!(LayerMasses::uniform(0, 3).is_err());
    }
}
