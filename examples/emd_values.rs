//! Prints kdnas's EMD layer-mapping values for transport problems read from standard input, so that
//! outside references (bench/crosscheck/adarec.py: POT's `ot.emd` and AdaRec's mass update) can be
//! compared with them.
//!
//! Usage: `cargo run --release --example emd_values < cases.json`. The input is one JSON object:
//!
//! ```json
//! {"cases": [{"supply": [0.25, ...], "demand": [0.125, ...], "cost": [[...], ...], "reverse": [[...], ...]}]}
//! ```
//!
//! `supply` holds the `M` student masses, `demand` the `N` teacher masses, `cost` the `[M, N]` ground
//! distance `D` (rows of `N` values) and the optional `reverse` an `[M, N]` matrix that weighs the flow on
//! the teacher side of the mass update (as `layer_emd` does with the reversed KL); without it the teacher
//! side uses `D` itself. The output is `{"cases": [...]}` with, per case:
//!
//! - `flow` (`[M, N]` rows) and `cost` (`sum F * D`): [`solve_transport`] on `D` in f64;
//! - `normalised_cost`: `sum F * D / sum F` from that plan;
//! - `loss`: [`emd_loss`]'s value on the plain `Flex` backend (`D` as f32, as in training);
//! - `student_costs` / `teacher_costs`: the plan's row costs on `D` and column costs on `reverse` (or `D`);
//! - `student_masses` / `teacher_masses`: the masses after [`LayerMasses::update`] with those costs and
//!   [`MASS_TEMPERATURE`], starting from `supply` and `demand`.

#[path = "common/cases.rs"]
mod cases;

use std::error::Error;

use burn::backend::Flex;
use burn::backend::flex::FlexDevice;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use kdnas::distill::emd::{LayerMasses, MASS_TEMPERATURE, emd_loss, solve_transport};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// One transport problem.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    supply: Vec<f64>,
    demand: Vec<f64>,
    cost: Vec<Vec<f64>>,
    #[serde(default)]
    reverse: Option<Vec<Vec<f64>>>,
}

/// kdnas's values for one [`Case`].
#[derive(Serialize)]
struct Values {
    flow: Vec<Vec<f64>>,
    cost: f64,
    normalised_cost: f64,
    loss: f64,
    student_costs: Vec<f64>,
    teacher_costs: Vec<f64>,
    student_masses: Vec<f64>,
    teacher_masses: Vec<f64>,
}

fn main() -> Result<(), Box<dyn Error>> {
    cases::run_cases(evaluate)
}

/// Solves one case and runs the loss and the mass update on its plan.
fn evaluate(case: &Case) -> Result<Values, Box<dyn Error>> {
    let cost = matrix(&case.cost, case.supply.len(), case.demand.len(), "cost")?; // [M, N]
    let reverse = match &case.reverse {
        Some(rows) => matrix(rows, case.supply.len(), case.demand.len(), "reverse")?, // [M, N]
        None => cost.clone(),
    };
    let plan = solve_transport(&case.supply, &case.demand, &cost)?;
    let mut masses = LayerMasses { student: case.supply.clone(), teacher: case.demand.clone() };
    let distance = TensorData::new(cost.iter().map(|&d| d as f32).collect::<Vec<f32>>(), [cost.nrows(), cost.ncols()]);
    let distance = Tensor::<Flex, 2>::from_data(distance, &FlexDevice); // [M, N]
    let loss: f32 = emd_loss(distance, &masses)?.loss.into_scalar().elem();
    let student_costs = plan.row_costs(&cost);
    let teacher_costs = plan.column_costs(&reverse);
    masses.update(&student_costs, &teacher_costs, MASS_TEMPERATURE)?;
    Ok(Values {
        flow: plan.flow.rows().into_iter().map(|row| row.to_vec()).collect(),
        cost: plan.cost,
        normalised_cost: plan.cost / plan.flow.sum(),
        loss: f64::from(loss),
        student_costs,
        teacher_costs,
        student_masses: masses.student,
        teacher_masses: masses.teacher,
    })
}

/// An `[m, n]` matrix from `m` rows of `n` values each, or an error naming the bad row.
fn matrix(rows: &[Vec<f64>], m: usize, n: usize, name: &str) -> Result<Array2<f64>, Box<dyn Error>> {
    if rows.len() != m {
        return Err(format!("{name} has {} rows but there are {m} supplies", rows.len()).into());
    }
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != n) {
        return Err(format!("{name}[{i}] has {} values but there are {n} demands", row.len()).into());
    }
    Ok(Array2::from_shape_vec((m, n), rows.concat())?)
}
