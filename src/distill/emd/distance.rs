//! Ground distances between every student layer and every teacher layer: the `[M, N]` cost matrix of the
//! EMD layer mapping, differentiable in the hidden states.
//!
//! Each layer is a `[batch, time, channels]` tensor (students already projected to the teacher's width).
//! A distance is averaged over the (unmasked) `batch x time` positions. Both kinds are computed for all
//! pairs at once: the pair terms are one `[M, positions * channels] x [positions * channels, N]` matmul,
//! so the autodiff graph holds the stacked layers rather than `M * N` pair tensors.

use crate::error::{KdnasError, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// Which distance compares a student layer `S_i` with a teacher layer `T_j`, per position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroundDistance {
    /// `KL(softmax_c(S_i) || softmax_c(T_j))` at temperature 1: what AdaRec's code computes for the flow
    /// (its `layer_distill_loss(teacher, student)` is called as `(student_hidden, teacher_hidden)`, so the
    /// student's distribution is the first argument of the KL).
    #[default]
    KlStudentTeacher,
    /// `KL(softmax_c(T_j) || softmax_c(S_i))` at temperature 1: the direction of Hinton's KD, and the one
    /// AdaRec's code uses for the teacher layers' costs in the mass update.
    KlTeacherStudent,
    /// `mean_c (S_i - T_j)^2`: BERT-EMD's distance (AdaRec's commented-out alternative).
    Mse,
}

impl GroundDistance {
    /// The same distance with student and teacher swapped (`Mse` is symmetric).
    pub fn reversed(self) -> Self {
        match self {
            GroundDistance::KlStudentTeacher => GroundDistance::KlTeacherStudent,
            GroundDistance::KlTeacherStudent => GroundDistance::KlStudentTeacher,
            GroundDistance::Mse => GroundDistance::Mse,
        }
    }
}

/// The `[M, N]` matrix `D_ij = distance(S_i, T_j)` averaged over positions, clamped at 0 (rounding can
/// push a near-zero distance slightly below).
///
/// `mask` (`[batch, time]`, `true` = a real item) excludes padding positions from the average; an
/// all-padding mask gives `D = 0`. Without a mask every position counts. Both distances expand their
/// pair terms (`KL = sum p log p - sum p log q`, `MSE = (|s|^2 + |t|^2 - 2 s.t) / channels`), so their
/// absolute rounding error is that of the terms (f32: about 1e-7 times the entropy or mean squared norm).
///
/// # Errors
/// [`KdnasError::Usage`] when a side has no layers, a layer's shape differs from student layer 0's, a
/// dimension is 0, or the mask is not `[batch, time]`.
pub fn ground_distance<B: Backend>(
    student: &[Tensor<B, 3>],
    teacher: &[Tensor<B, 3>],
    mask: Option<Tensor<B, 2, Bool>>,
    distance: GroundDistance,
) -> Result<Tensor<B, 2>> {
    let layers = FlatLayers::new(student, teacher, mask)?;
    Ok(match distance {
        GroundDistance::Mse => layers.mse(),
        kl => {
            let (log_s, log_t) = layers.log_probs();
            layers.kl(kl == GroundDistance::KlStudentTeacher, &log_s, &log_t)
        }
    })
}

/// [`ground_distance`] together with the reversed distance ([`GroundDistance::reversed`]) as an
/// untracked `[M, N]` matrix: AdaRec's teacher-side mass update weighs the flow with it. The KL pair
/// shares each layer's log-softmax; for MSE the second matrix is the first, detached.
///
/// # Errors
/// As [`ground_distance`].
pub fn ground_distance_with_reverse<B: Backend>(
    student: &[Tensor<B, 3>],
    teacher: &[Tensor<B, 3>],
    mask: Option<Tensor<B, 2, Bool>>,
    distance: GroundDistance,
) -> Result<(Tensor<B, 2>, Tensor<B, 2>)> {
    let layers = FlatLayers::new(student, teacher, mask)?;
    Ok(match distance {
        GroundDistance::Mse => {
            let d = layers.mse();
            (d.clone(), d.detach())
        }
        kl => {
            let (log_s, log_t) = layers.log_probs();
            let detach =
                |log: &[Tensor<B, 2>]| -> Vec<Tensor<B, 2>> { log.iter().map(|x| x.clone().detach()).collect() };
            let student_first = kl == GroundDistance::KlStudentTeacher;
            let reverse = layers.kl(!student_first, &detach(&log_s), &detach(&log_t));
            (layers.kl(student_first, &log_s, &log_t), reverse)
        }
    })
}

/// Checked layers flattened to `[positions, channels]`, with the positions' weights.
struct FlatLayers<B: Backend> {
    /// `M` x `[positions, channels]`.
    student: Vec<Tensor<B, 2>>,
    /// `N` x `[positions, channels]`.
    teacher: Vec<Tensor<B, 2>>,
    /// `[positions, 1]`, summing to 1 (or all 0 for an all-padding mask).
    weights: Tensor<B, 2>,
    /// Channels per position.
    channels: usize,
}

impl<B: Backend> FlatLayers<B> {
    /// Checks the shapes and flattens the layers.
    fn new(student: &[Tensor<B, 3>], teacher: &[Tensor<B, 3>], mask: Option<Tensor<B, 2, Bool>>) -> Result<Self> {
        let [batch, time, channels] = layer_shape(student, teacher, mask.as_ref())?;
        let positions = batch * time;
        let flat = |layers: &[Tensor<B, 3>]| -> Vec<Tensor<B, 2>> {
            layers.iter().map(|x| x.clone().reshape([positions, channels])).collect()
        };
        let weights = position_weights(mask, positions, &student[0].device());
        Ok(FlatLayers { student: flat(student), teacher: flat(teacher), weights, channels })
    }

    /// The log-softmax over channels of every student and teacher layer.
    fn log_probs(&self) -> (Vec<Tensor<B, 2>>, Vec<Tensor<B, 2>>) {
        let log = |layers: &[Tensor<B, 2>]| -> Vec<Tensor<B, 2>> {
            layers.iter().map(|x| log_softmax(x.clone(), 1)).collect()
        };
        (log(&self.student), log(&self.teacher))
    }

    /// `[M, N]` KL matrix from the layers' log-probabilities: `KL(S_i || T_j)` when `student_first`,
    /// else `KL(T_j || S_i)`.
    fn kl(&self, student_first: bool, log_s: &[Tensor<B, 2>], log_t: &[Tensor<B, 2>]) -> Tensor<B, 2> {
        let d = if student_first {
            kl_matrix(log_s, log_t, &self.weights)
        } else {
            kl_matrix(log_t, log_s, &self.weights).transpose()
        };
        d.clamp_min(0.0)
    }

    /// `[M, N]` mean squared differences.
    fn mse(&self) -> Tensor<B, 2> {
        mse_matrix(&self.student, &self.teacher, &self.weights).div_scalar(self.channels as f64).clamp_min(0.0)
    }
}

/// The common `[batch, time, channels]` shape of all layers, checked against the mask.
fn layer_shape<B: Backend>(
    student: &[Tensor<B, 3>],
    teacher: &[Tensor<B, 3>],
    mask: Option<&Tensor<B, 2, Bool>>,
) -> Result<[usize; 3]> {
    let usage = |message: String| KdnasError::Usage(format!("EMD ground distance: {message}"));
    let Some(first) = student.first().filter(|_| !teacher.is_empty()) else {
        return Err(usage(format!("{} student and {} teacher layers (need >= 1 each)", student.len(), teacher.len())));
    };
    let shape = first.dims();
    for (side, layers) in [("student", student), ("teacher", teacher)] {
        if let Some((k, layer)) = layers.iter().enumerate().find(|(_, layer)| layer.dims() != shape) {
            return Err(usage(format!(
                "{side} layer {k} is {:?} but student layer 0 is {shape:?} ([batch, time, channels])",
                layer.dims()
            )));
        }
    }
    if shape.contains(&0) {
        return Err(usage(format!("layers of shape {shape:?} ([batch, time, channels]) are empty")));
    }
    match mask.map(|m| m.dims()) {
        Some(dims) if dims != [shape[0], shape[1]] => {
            Err(usage(format!("mask is {dims:?} but the layers' [batch, time] is {:?}", [shape[0], shape[1]])))
        }
        _ => Ok(shape),
    }
}

/// `[positions, 1]` weights of the positions in the average: `1 / positions`, or `mask / count(mask)`.
fn position_weights<B: Backend>(
    mask: Option<Tensor<B, 2, Bool>>,
    positions: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    match mask {
        Some(mask) => {
            let real = mask.float().reshape([positions, 1]); // [positions, 1]
            let count = real.clone().sum().clamp_min(1.0).reshape([1, 1]);
            real / count
        }
        None => Tensor::full([positions, 1], 1.0 / positions as f64, device),
    }
}

/// `[P, Q]` weighted sum over positions of `KL(p_p || q_q)` from `[positions, channels]` log-probabilities.
fn kl_matrix<B: Backend>(log_p: &[Tensor<B, 2>], log_q: &[Tensor<B, 2>], weights: &Tensor<B, 2>) -> Tensor<B, 2> {
    let mut weighted = Vec::with_capacity(log_p.len());
    let mut entropies = Vec::with_capacity(log_p.len());
    for log_p in log_p {
        let wp = log_p.clone().exp() * weights.clone(); // [positions, channels]
        entropies.push((wp.clone() * log_p.clone()).sum()); // [1]: sum_pos w sum_c p log p
        weighted.push(wp.reshape([1, -1])); // [1, positions * channels]
    }
    let log_q: Vec<Tensor<B, 2>> = log_q.iter().map(|x| x.clone().reshape([1, -1])).collect();
    let cross = Tensor::cat(weighted, 0).matmul(Tensor::cat(log_q, 0).transpose()); // [P, Q]
    Tensor::cat(entropies, 0).reshape([log_p.len(), 1]) - cross
}

/// `[M, N]` weighted sum over positions of `|s_i - t_j|^2` (summed over channels).
fn mse_matrix<B: Backend>(student: &[Tensor<B, 2>], teacher: &[Tensor<B, 2>], weights: &Tensor<B, 2>) -> Tensor<B, 2> {
    let (m, n) = (student.len(), teacher.len());
    let squared_norm = |x: &Tensor<B, 2>| (x.clone().square() * weights.clone()).sum(); // [1]
    let student_norms = Tensor::cat(student.iter().map(squared_norm).collect(), 0).reshape([m, 1]);
    let teacher_norms = Tensor::cat(teacher.iter().map(squared_norm).collect(), 0).reshape([1, n]);
    let weighted: Vec<Tensor<B, 2>> = student.iter().map(|s| (s.clone() * weights.clone()).reshape([1, -1])).collect();
    let flat: Vec<Tensor<B, 2>> = teacher.iter().map(|t| t.clone().reshape([1, -1])).collect();
    let dot = Tensor::cat(weighted, 0).matmul(Tensor::cat(flat, 0).transpose()); // [M, N]
    student_norms + teacher_norms - dot.mul_scalar(2.0)
}
