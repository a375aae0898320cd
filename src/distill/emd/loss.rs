//! The EMD loss on a ground-distance matrix: the exact optimal flow on the detached distances, then the
//! flow-weighted mean distance, differentiable through the distances only.

use super::masses::LayerMasses;
use super::solver::{TransportPlan, solve_transport};
use crate::error::Result;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use ndarray::Array2;

/// The EMD loss of one step with the flow behind it.
#[derive(Debug, Clone)]
pub struct EmdLoss<B: Backend> {
    /// `[1]`: `sum_ij F_ij D_ij / sum_ij F_ij`; `F` is a constant, so the gradient reaches `D` only
    /// (`dloss/dD = F / sum F`).
    pub loss: Tensor<B, 1>,
    /// The optimal plan between the student masses (rows) and teacher masses (columns) on the detached
    /// `D`: `flow` is `[student layers, teacher layers]`, `cost` equals the loss value.
    pub plan: TransportPlan,
    /// Per student layer, the transport cost `sum_j F_ij D_ij`.
    pub student_costs: Vec<f64>,
    /// Per teacher layer, the transport cost `sum_i F_ij D_ij` ([`emd_loss`]); [`super::layer_emd`] puts
    /// the teacher-side costs it updates the masses with here (reversed KL, as AdaRec).
    pub teacher_costs: Vec<f64>,
}

/// The EMD loss of an `[M, N]` distance matrix `D` (student layers x teacher layers) between the given
/// masses: `F` = the exact optimal flow on `D.detach()`, loss = `sum F * D / sum F`.
///
/// Reads `D` back to the host once (the solver runs on f64). The masses are not updated here.
///
/// # Errors
/// [`KdnasError::Usage`](crate::KdnasError::Usage) from [`solve_transport`]: the masses do not match
/// `D`'s shape or are invalid, or `D` holds a NaN or infinite value (a diverged step).
pub fn emd_loss<B: Backend>(distance: Tensor<B, 2>, masses: &LayerMasses) -> Result<EmdLoss<B>> {
    let host = host_matrix(distance.clone());
    let plan = solve_transport(&masses.student, &masses.teacher, &host)?;
    let flow: Vec<f32> = plan.flow.iter().map(|&f| f as f32).collect();
    let flow_tensor = Tensor::<B, 2>::from_data(TensorData::new(flow, distance.dims()), &distance.device());
    let loss = (flow_tensor * distance).sum().div_scalar(plan.flow.sum()); // [1]
    Ok(EmdLoss { student_costs: plan.row_costs(&host), teacher_costs: plan.column_costs(&host), loss, plan })
}

/// A `[rows, columns]` tensor's values on the host, as f64.
pub(super) fn host_matrix<B: Backend>(matrix: Tensor<B, 2>) -> Array2<f64> {
    let [rows, columns] = matrix.dims();
    let values: Vec<f64> = matrix.into_data().iter::<f64>().collect();
    Array2::from_shape_vec((rows, columns), values).expect("a [rows, columns] tensor has rows * columns values")
}
