//! Feature-map distillation: the plain L2 hint (FitNets, Romero et al. 2015) and the margin-L2 of
//! "A Comprehensive Overhaul of Feature Distillation" (Heo et al. 2019) with its per-channel margin,
//! and the [`Distance`] a feature objective chooses among them.

use super::overhaul::overhaul_loss;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Mean squared error over all elements of two `[batch, channels, h, w]` features, as `[1]`
/// (PyTorch's `MSELoss()` with its default mean reduction).
///
/// FitNets' hint loss is this loss on the output of a regressor (the caller's connector) that maps the
/// student's channels onto the teacher's; the teacher feature is normally detached by the caller.
///
/// # Panics
/// If the shapes differ (a programming error of the caller).
pub fn feature_l2<B: Backend>(student: Tensor<B, 4>, teacher: Tensor<B, 4>) -> Tensor<B, 1> {
    assert_eq!(student.dims(), teacher.dims(), "feature_l2: student and teacher features differ in shape");
    (student - teacher).square().mean()
}

/// The standard normal CDF `Phi(x) = erfc(-x / sqrt 2) / 2`.
///
/// `erfc` is the Chebyshev fit of Numerical Recipes (2nd ed., section 6.2, `erfcc`), whose fractional
/// error is below 1.2e-7 for every `x`, including the tails, so `Phi` near 0.001 keeps ~7 correct digits.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' `erfcc`, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let tail = t * (-z * z + poly).exp();
    if x >= 0.0 { tail } else { 2.0 - tail }
}

/// Per-channel margins of the overhaul distillation from the BatchNorm before the teacher's ReLU:
/// `bn_mean` is its shift (beta) and `bn_std` its scale (gamma), as in the paper's `get_margin_from_BN`.
///
/// The margin is the expected pre-ReLU response given that it is negative, for a response
/// `N(m, s^2)` with `s = |gamma|`: when `Phi(-m/s) > 0.001` it is
/// `m - s * exp(-(m/s)^2 / 2) / sqrt(2 pi) / Phi(-m/s)`, otherwise `-3 s`. A zero scale (a constant
/// response `m`) gives the limit of that rule: `m` when `m < 0`, else 0.
///
/// # Panics
/// If the two slices differ in length (a programming error of the caller).
pub fn overhaul_margin(bn_mean: &[f32], bn_std: &[f32]) -> Vec<f32> {
    assert_eq!(bn_mean.len(), bn_std.len(), "overhaul_margin: BN shift and scale differ in length");
    bn_mean.iter().zip(bn_std).map(|(&m, &s)| channel_margin(m as f64, (s as f64).abs()) as f32).collect()
}

/// The margin of one channel with shift `m` and non-negative scale `s`.
fn channel_margin(m: f64, s: f64) -> f64 {
    if s == 0.0 {
        return m.min(0.0);
    }
    let negative = normal_cdf(-m / s);
    if negative > 0.001 { m - s * (-(m / s).powi(2) / 2.0).exp() / (2.0 * PI).sqrt() / negative } else { -3.0 * s }
}

/// The overhaul margin-L2 between `[batch, channels, h, w]` student and teacher features, as `[1]`: the
/// partial L2 of [`super::partial_l2_sum`] (`margin: [channels]` from [`overhaul_margin`], or zeros for
/// post-ReLU taps) as a mean over all elements instead of a sum, which keeps the scale of [`feature_l2`].
/// The teacher feature is normally detached by the caller.
///
/// # Panics
/// If the shapes differ or `margin` does not have one value per channel (a programming error of the caller).
pub fn margin_l2<B: Backend>(student: Tensor<B, 4>, teacher: Tensor<B, 4>, margin: Tensor<B, 1>) -> Tensor<B, 1> {
    let elements = student.dims().iter().product::<usize>() as f64;
    super::partial_l2_sum(student, teacher, margin).div_scalar(elements)
}

/// How a student feature is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Mean squared error (FitNet's hint loss) on block outputs.
    #[default]
    L2,
    /// The overhaul paper's partial L2 with a zero margin, as a mean, on block outputs: the ResNet taps
    /// are post-ReLU, so positions where the target is 0 and the student is below it are not penalised.
    MarginL2,
    /// Heo et al. 2019's overhaul loss on pre-activation taps (pre-activation taps (`crate::models::preact`)): the partial L2
    /// with the teacher BatchNorms' margins, summed over elements, position `i` of `n` weighted
    /// `1 / 2^(n - i - 1)`, divided by the batch ([`overhaul_loss`]). The margin of an aggregation
    /// target is the same weighted mix of its candidates' margins.
    Overhaul,
}

impl Distance {
    /// `d` over positions, `[n, c_i, h_i, w_i]` student and target per position, as `[1]`: the sum of the
    /// per-position distances for L2 and MarginL2 (`margins` unused), [`overhaul_loss`] with `margins[i]`
    /// (`[c_i]`) for Overhaul.
    ///
    /// # Panics
    /// For Overhaul without one margin per position (a programming error).
    pub fn over_positions<B: Backend>(
        self,
        students: &[Tensor<B, 4>],
        targets: &[Tensor<B, 4>],
        margins: &[Tensor<B, 1>],
    ) -> Tensor<B, 1> {
        let pairs = students.iter().cloned().zip(targets.iter().cloned());
        let sum = |terms: Vec<Tensor<B, 1>>| terms.into_iter().reduce(|a, b| a + b).expect("at least one position");
        match self {
            Distance::L2 => sum(pairs.map(|(s, t)| feature_l2(s, t)).collect()),
            Distance::MarginL2 => sum(pairs
                .map(|(s, t)| {
                    let margin = Tensor::zeros([t.dims()[1]], &t.device());
                    margin_l2(s, t, margin)
                })
                .collect()),
            Distance::Overhaul => overhaul_loss(students, targets, margins),
        }
    }
}
