//! EMD many-to-many layer mapping (BERT-EMD, Li et al. 2020; AdaRec, Chen et al. 2021): every student layer
//! learns from every teacher layer in proportion to an exact optimal-transport flow between layer masses.
//!
//! One step, as [`layer_emd`] runs it:
//! 1. [`ground_distance`]: `D` `[M, N]`, the distance between student layer `i` and teacher layer `j`;
//! 2. [`emd_loss`]: `F` = the exact optimal flow ([`solve_transport`]) from the student masses to the
//!    teacher masses on `D.detach()`; loss = `sum F * D / sum F`;
//! 3. [`LayerMasses::update`]: each layer's mean transport cost sets its mass for the next step.
//!
//! Read against AdaRec's `models/nas/kd_search.py` (`emd_distill_loss`, pyemd's `emd_with_flow`):
//! - **Direction.** Its KL helper `layer_distill_loss(teacher, student)` is always called with the student
//!   first, so the flow's distance is `KL(softmax(S_i) || softmax(T_j))` ([`GroundDistance::KlStudentTeacher`],
//!   the default), at temperature 1 without a `T^2` factor. Its `(M+N) x (M+N)` pyemd matrix holds the
//!   reversed KL in the other off-diagonal block; the flow never uses it (mass leaves student bins only and
//!   enters teacher bins only), but the teacher side of the mass update does: `cbar_j` weighs the flow with
//!   `KL(softmax(T_j) || softmax(S_i))`. [`layer_emd`] does the same for KL distances. For MSE both blocks
//!   are equal.
//! - **Reduction.** AdaRec's `KLDivLoss(reduction="batchmean")` on `[batch, time, channels]` sums over
//!   time and channels and divides by the batch, padding included. Here a distance is the mean over the
//!   real (unmasked) positions of the per-position KL (summed over channels), so without padding AdaRec's
//!   `D` is `time` times ours. The flow and the mass update are unchanged by a common scale of `D`; the
//!   loss is `time` times smaller than AdaRec's (scale its weight to compare). MSE is the mean over all
//!   elements in both.
//! - **Masses.** Start uniform; after each step `cbar_i = sum_j F_ij D_ij / w_i` and
//!   `w = softmax((sum_k cbar_k / cbar_i) / 10)` per side, zero mean costs scoring 0 (AdaRec's rule).
//!   AdaRec's loss is `sum F * D`; its masses sum to 1, so that equals `sum F * D / sum F`.

pub mod distance;
pub mod loss;
pub mod masses;
pub mod solver;

pub use distance::{GroundDistance, ground_distance, ground_distance_with_reverse};
pub use loss::{EmdLoss, emd_loss};
pub use masses::{LayerMasses, MASS_TEMPERATURE};
pub use solver::{TransportPlan, solve_transport};

use crate::error::Result;
use burn::tensor::{Bool, Tensor, backend::Backend};

/// One EMD step: the loss between student and teacher hidden states (each `[batch, time, channels]`,
/// students projected to the teacher's width; `mask` `[batch, time]` marks real positions), then the mass
/// update with [`MASS_TEMPERATURE`].
///
/// The returned flow was computed with the masses as they were on entry; `masses` holds the updated ones
/// on return. The teacher-side costs (returned in `teacher_costs`) weigh the flow with the reversed
/// distance ([`ground_distance_with_reverse`]), as AdaRec's code: the reversed KL for the KL distances, `D`
/// itself for MSE. The teacher states are normally detached by the caller.
///
/// # Errors
/// [`KdnasError::Usage`](crate::KdnasError::Usage) from [`ground_distance`] (shapes), [`emd_loss`] (the
/// masses do not match the layer counts, or a distance is not finite) or [`LayerMasses::update`]; the
/// masses are unchanged then.
pub fn layer_emd<B: Backend>(
    student: &[Tensor<B, 3>],
    teacher: &[Tensor<B, 3>],
    mask: Option<Tensor<B, 2, Bool>>,
    distance: GroundDistance,
    masses: &mut LayerMasses,
) -> Result<EmdLoss<B>> {
    let (d, reversed) = ground_distance_with_reverse(student, teacher, mask, distance)?;
    let mut emd = emd_loss(d, masses)?;
    emd.teacher_costs = emd.plan.column_costs(&loss::host_matrix(reversed));
    masses.update(&emd.student_costs, &emd.teacher_costs, MASS_TEMPERATURE)?;
    Ok(emd)
}
