//! The EMD layer mapping: the exact transport solver against hand-solved problems, a brute-force vertex
//! enumeration and the 1-D closed form; the ground distances against plain f64 formulas; the loss
//! gradient (`F / sum F`, through `D` only); and the layer-mass update against hand-computed values.

mod common;

use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorData};
use common::Cpu;
use kdnas::distill::emd::{
    GroundDistance, LayerMasses, MASS_TEMPERATURE, TransportPlan, emd_loss, ground_distance,
    ground_distance_with_reverse, layer_emd, solve_transport,
};
use ndarray::{Array2, Axis, array};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!((actual - expected).abs() <= tolerance, "got {actual}, expected {expected}");
}

fn assert_all_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_close(*a, *e, tolerance);
    }
}

/// The flow is non-negative and its row and column sums are the masses (demands scaled to the supply total).
fn assert_feasible(plan: &TransportPlan, supply: &[f64], demand: &[f64]) {
    assert!(plan.flow.iter().all(|&f| f >= 0.0), "negative flow {}", plan.flow);
    let scale = supply.iter().sum::<f64>() / demand.iter().sum::<f64>();
    let scaled: Vec<f64> = demand.iter().map(|d| d * scale).collect();
    assert_all_close(&plan.flow.sum_axis(Axis(1)).to_vec(), supply, 1e-12);
    assert_all_close(&plan.flow.sum_axis(Axis(0)).to_vec(), &scaled, 1e-12);
}

// ---------------------------------------------------------------------------------------------------
// The solver

#[test]
fn two_by_two_problems_take_the_cheap_diagonal() {
    let half = [0.5, 0.5];
    let plan = solve_transport(&half, &half, &array![[0.0, 1.0], [1.0, 0.0]]).unwrap();
    assert_eq!(plan.flow, array![[0.5, 0.0], [0.0, 0.5]]);
    assert_eq!(plan.cost, 0.0);
    // The anti-diagonal costs 2 * 0.5 * 1, the diagonal 0.5 * 3 + 0.5 * 2.
    let plan = solve_transport(&half, &half, &array![[3.0, 1.0], [1.0, 2.0]]).unwrap();
    assert_eq!(plan.flow, array![[0.0, 0.5], [0.5, 0.0]]);
    assert_close(plan.cost, 1.0, 1e-15);
}

#[test]
fn a_two_by_three_problem_has_its_hand_solved_optimum() {
    // Row 0 sends x0, x1, x2 (sum 0.6), row 1 the rest of the demands: the cost is
    // 1.9 - 3 x0 + x1 + 2 x2, smallest at x0 = 0.3, x1 = 0.3, x2 = 0.
    let (supply, demand) = ([0.6, 0.4], [0.3, 0.3, 0.4]);
    let cost = array![[1.0, 2.0, 3.0], [4.0, 1.0, 1.0]];
    let plan = solve_transport(&supply, &demand, &cost).unwrap();
    assert_all_close(plan.flow.as_slice().unwrap(), &[0.3, 0.3, 0.0, 0.0, 0.0, 0.4], 1e-15);
    assert_close(plan.cost, 1.3, 1e-12);
    assert_feasible(&plan, &supply, &demand);
}

#[test]
fn equal_masses_with_a_zero_diagonal_stay_in_place() {
    let masses = [0.1, 0.3, 0.05, 0.25, 0.3];
    let cost = Array2::from_shape_fn((5, 5), |(i, j)| if i == j { 0.0 } else { 0.5 + i.abs_diff(j) as f64 });
    let plan = solve_transport(&masses, &masses, &cost).unwrap();
    assert_eq!(plan.flow, Array2::from_diag(&ndarray::arr1(&masses)));
    assert_eq!(plan.cost, 0.0);
}

/// The optimum of a small transportation problem by enumerating every basic solution: each choice of
/// `m + n - 1` cells whose constraint columns are independent, solved by Gaussian elimination, kept
/// when non-negative.
fn brute_force_optimum(supply: &[f64], demand: &[f64], cost: &Array2<f64>) -> f64 {
    let (m, n) = cost.dim();
    let basic = m + n - 1;
    let rhs: Vec<f64> = supply.iter().chain(demand).copied().collect();
    let mut best = f64::INFINITY;
    for cells in 0u32..1 << (m * n) {
        if cells.count_ones() as usize != basic {
            continue;
        }
        let chosen: Vec<usize> = (0..m * n).filter(|c| cells >> c & 1 == 1).collect();
        // Constraint rows: supply i (cell (i, j) has a 1 in row i) and demand j (row m + j).
        let mut a: Vec<Vec<f64>> = (0..m + n)
            .map(|r| {
                let mut row: Vec<f64> = chosen.iter().map(|&c| f64::from(r == c / n || r == m + c % n)).collect();
                row.push(rhs[r]);
                row
            })
            .collect();
        let Some(x) = gauss_solve(&mut a, basic) else { continue };
        if x.iter().all(|&v| v >= -1e-12) {
            best = best.min(chosen.iter().zip(&x).map(|(&c, v)| cost[[c / n, c % n]] * v).sum());
        }
    }
    best
}

/// Solves an overdetermined but consistent system `[rows, unknowns | rhs]`; `None` when the columns are
/// dependent or the system is inconsistent.
fn gauss_solve(a: &mut [Vec<f64>], unknowns: usize) -> Option<Vec<f64>> {
    for col in 0..unknowns {
        let pivot = (col..a.len()).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (_, row) in a.iter_mut().enumerate().filter(|(r, _)| *r != col) {
            let factor = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= factor * p;
            }
        }
    }
    if a[unknowns..].iter().any(|row| row[unknowns].abs() > 1e-9) {
        return None;
    }
    Some((0..unknowns).map(|r| a[r][unknowns] / a[r][r]).collect())
}

/// Random masses summing to 1, some exactly 0 (degenerate problems) when `zeros`.
fn random_masses(rng: &mut StdRng, len: usize, zeros: bool) -> Vec<f64> {
    let mut w: Vec<f64> = (0..len)
        .map(|_| if zeros && rng.random_range(0..4) == 0 { 0.0 } else { rng.random_range(0.05..1.0) })
        .collect();
    if w.iter().all(|&x| x == 0.0) {
        w[0] = 1.0;
    }
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

#[test]
fn random_small_problems_match_the_brute_force_optimum() {
    let mut checked = 0;
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (m, n) = (rng.random_range(1..=3), rng.random_range(1..=4));
        let (supply, demand) = (random_masses(&mut rng, m, seed % 2 == 0), random_masses(&mut rng, n, seed % 3 == 0));
        // Small integer costs on odd seeds: many ties, several optimal plans.
        let cost = Array2::from_shape_fn((m, n), |_| {
            if seed % 2 == 1 { rng.random_range(0..4) as f64 } else { rng.random_range(-1.0..5.0) }
        });
        let plan = solve_transport(&supply, &demand, &cost).unwrap();
        assert_feasible(&plan, &supply, &demand);
        assert_close(plan.cost, (&plan.flow * &cost).sum(), 1e-12);
        assert_close(plan.cost, brute_force_optimum(&supply, &demand, &cost), 1e-9);
        checked += usize::from(m * n >= 9);
    }
    assert!(checked >= 5, "too few 3 x 3 / 3 x 4 cases: {checked}");
}

/// `integral |CDF_a - CDF_b|` for masses on points of a line.
fn one_d_closed_form(x: &[f64], a: &[f64], y: &[f64], b: &[f64]) -> f64 {
    let mut points: Vec<f64> = x.iter().chain(y).copied().collect();
    points.sort_by(f64::total_cmp);
    let cdf =
        |at: &[f64], w: &[f64], z: f64| -> f64 { at.iter().zip(w).filter(|(p, _)| **p <= z).map(|(_, w)| w).sum() };
    points.windows(2).map(|p| (cdf(x, a, p[0]) - cdf(y, b, p[0])).abs() * (p[1] - p[0])).sum()
}

#[test]
fn masses_on_a_line_cost_the_area_between_their_cdfs() {
    for (seed, m, n) in [(1u64, 3, 4), (2, 8, 5), (3, 20, 30)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<f64> = (0..m).map(|_| rng.random_range(-3.0..3.0)).collect();
        let y: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..4.0)).collect();
        let (a, b) = (random_masses(&mut rng, m, false), random_masses(&mut rng, n, false));
        let cost = Array2::from_shape_fn((m, n), |(i, j)| (x[i] - y[j]).abs());
        let plan = solve_transport(&a, &b, &cost).unwrap();
        assert_feasible(&plan, &a, &b);
        let expected = one_d_closed_form(&x, &a, &y, &b);
        assert!(expected > 0.1);
        assert_close(plan.cost, expected, 1e-9);
    }
}

#[test]
fn a_sixty_four_square_problem_is_feasible_and_no_cell_can_improve_it() {
    let mut rng = StdRng::seed_from_u64(64);
    let (a, b) = (random_masses(&mut rng, 64, true), random_masses(&mut rng, 64, false));
    let cost = Array2::from_shape_fn((64, 64), |_| rng.random_range(0.0..1.0));
    let plan = solve_transport(&a, &b, &cost).unwrap();
    assert_feasible(&plan, &a, &b);
    // Optimality certificate: potentials on the cells in use (u_i + v_j = c_ij) leave no negative
    // reduced cost. Found by relaxation from u_0 = 0 over the used cells (a connected forest suffices
    // for this random problem; unreached rows/columns are skipped).
    let (mut u, mut v) = (vec![f64::NAN; 64], vec![f64::NAN; 64]);
    u[0] = 0.0;
    for _ in 0..128 {
        for ((i, j), &f) in plan.flow.indexed_iter() {
            if f > 0.0 {
                if v[j].is_nan() && !u[i].is_nan() {
                    v[j] = cost[[i, j]] - u[i];
                } else if u[i].is_nan() && !v[j].is_nan() {
                    u[i] = cost[[i, j]] - v[j];
                }
            }
        }
    }
    let mut compared = 0;
    for ((i, j), &c) in cost.indexed_iter() {
        if !u[i].is_nan() && !v[j].is_nan() {
            assert!(c - u[i] - v[j] > -1e-9, "cell ({i}, {j}) would lower the cost");
            compared += 1;
        }
    }
    assert!(compared > 1000, "the certificate covered only {compared} cells");
}

#[test]
fn bad_masses_and_costs_are_rejected_with_the_entry_named() {
    let cost = array![[1.0, 2.0], [3.0, 4.0]];
    let message = |s: &[f64], d: &[f64], c: &Array2<f64>| solve_transport(s, d, c).unwrap_err().to_string();
    assert!(message(&[0.5, f64::NAN], &[0.5, 0.5], &cost).contains("supply[1]"));
    assert!(message(&[0.5, 0.5], &[1.5, -0.5], &cost).contains("demand[1]: -0.5"));
    assert!(message(&[0.0, 0.0], &[0.5, 0.5], &cost).contains("supply masses sum to 0"));
    assert!(message(&[0.5, 0.5], &[0.5, 0.6], &cost).contains("sum to 1 but demands to 1.1"));
    assert!(message(&[0.5, 0.5], &[0.5, 0.5], &array![[1.0, 2.0], [f64::INFINITY, 4.0]]).contains("cost[1][0] = inf"));
    assert!(message(&[1.0], &[0.5, 0.5], &cost).contains("2 x 2 but there are 1 supplies"));
    assert!(message(&[], &[], &Array2::zeros((0, 0))).contains("0 x 0"));
    // A rounding-level imbalance is reconciled by rescaling the demands.
    let plan = solve_transport(&[0.5, 0.5], &[0.5, 0.5 + 1e-9], &cost).unwrap();
    assert_feasible(&plan, &[0.5, 0.5], &[0.5, 0.5 + 1e-9]);
}

// ---------------------------------------------------------------------------------------------------
// Ground distances

fn tensor<B: Backend, const D: usize>(values: &[f64], shape: [usize; D]) -> Tensor<B, D> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// `count` random `[batch, time, channels]` layers as plain values.
fn random_layers(rng: &mut StdRng, count: usize, shape: [usize; 3]) -> Vec<Vec<f64>> {
    (0..count).map(|_| (0..shape.iter().product()).map(|_| rng.random_range(-2.0..2.0)).collect()).collect()
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let z: f64 = x.iter().map(|v| (v - max).exp()).sum();
    x.iter().map(|v| (v - max).exp() / z).collect()
}

/// `D_ij` on plain values: the mean over real positions of `pair(s_i[pos], t_j[pos])`.
fn reference_distance(
    student: &[Vec<f64>],
    teacher: &[Vec<f64>],
    channels: usize,
    real: &[bool],
    pair: impl Fn(&[f64], &[f64]) -> f64,
) -> Vec<f64> {
    let count = real.iter().filter(|r| **r).count() as f64;
    let mut d = Vec::new();
    for s in student {
        for t in teacher {
            let total: f64 = s
                .chunks(channels)
                .zip(t.chunks(channels))
                .zip(real)
                .filter(|(_, r)| **r)
                .map(|((s, t), _)| pair(s, t))
                .sum();
            d.push(total / count);
        }
    }
    d
}

/// A per-position distance between two channel vectors.
type PairDistance = fn(&[f64], &[f64]) -> f64;

fn kl(p_logits: &[f64], q_logits: &[f64]) -> f64 {
    let (p, q) = (softmax(p_logits), softmax(q_logits));
    p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum()
}

fn mse(s: &[f64], t: &[f64]) -> f64 {
    s.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / s.len() as f64
}

fn layer_tensors<B: Backend>(layers: &[Vec<f64>], shape: [usize; 3]) -> Vec<Tensor<B, 3>> {
    layers.iter().map(|l| tensor(l, shape)).collect()
}

#[test]
fn distances_match_their_formulas_with_and_without_a_mask() {
    let shape = [2, 3, 4];
    let mut rng = StdRng::seed_from_u64(5);
    let (student, teacher) = (random_layers(&mut rng, 2, shape), random_layers(&mut rng, 3, shape));
    let (s, t) = (layer_tensors::<Cpu>(&student, shape), layer_tensors::<Cpu>(&teacher, shape));
    let real = [true, true, false, true, false, false];
    let mask = || Tensor::<Cpu, 2, Bool>::from_data(TensorData::new(real.to_vec(), [2, 3]), &Default::default());
    let kinds: [(GroundDistance, PairDistance); 3] = [
        (GroundDistance::KlStudentTeacher, kl),
        (GroundDistance::KlTeacherStudent, |s, t| kl(t, s)),
        (GroundDistance::Mse, mse),
    ];
    for (kind, pair) in kinds {
        for masked in [false, true] {
            let positions = if masked { real.to_vec() } else { vec![true; 6] };
            let expected = reference_distance(&student, &teacher, 4, &positions, pair);
            let d = ground_distance(&s, &t, masked.then(mask), kind).unwrap();
            assert_eq!(d.dims(), [2, 3]);
            assert!(expected.iter().all(|&e| e > 0.05), "{kind:?}: trivial example {expected:?}");
            assert_all_close(&values(d), &expected, 2e-5);
        }
    }
}

#[test]
fn the_reverse_distance_is_the_swapped_kind_and_untracked() {
    let shape = [2, 2, 3];
    let mut rng = StdRng::seed_from_u64(9);
    let (student, teacher) = (random_layers(&mut rng, 2, shape), random_layers(&mut rng, 3, shape));
    let s: Vec<Tensor<Cpu, 3>> = layer_tensors::<Cpu>(&student, shape).into_iter().map(|x| x.require_grad()).collect();
    let t = layer_tensors::<Cpu>(&teacher, shape);
    for kind in [GroundDistance::KlStudentTeacher, GroundDistance::KlTeacherStudent, GroundDistance::Mse] {
        let (d, reverse) = ground_distance_with_reverse(&s, &t, None, kind).unwrap();
        let plain = ground_distance(&s, &t, None, kind).unwrap();
        assert_all_close(&values(d.clone()), &values(plain.clone()), 1e-7);
        assert_all_close(
            &values(reverse.clone()),
            &values(ground_distance(&s, &t, None, kind.reversed()).unwrap()),
            1e-7,
        );
        // Adding the reverse matrix to a loss adds nothing to the student's gradient.
        let with_reverse = values(s[0].grad(&(d.sum() + reverse.sum()).backward()).unwrap());
        let alone = values(s[0].grad(&plain.sum().backward()).unwrap());
        assert!(alone.iter().any(|g| g.abs() > 1e-3), "{kind:?}: no gradient");
        assert_all_close(&with_reverse, &alone, 1e-7);
    }
}

#[test]
fn padded_positions_do_not_change_the_distances() {
    let shape = [1, 4, 3];
    let mut rng = StdRng::seed_from_u64(6);
    let (student, teacher) = (random_layers(&mut rng, 2, shape), random_layers(&mut rng, 2, shape));
    let mut changed = student.clone();
    for layer in &mut changed {
        layer[9..].iter_mut().for_each(|v| *v += 5.0); // the last position, masked below
    }
    let mask =
        Tensor::<Cpu, 2, Bool>::from_data(TensorData::new(vec![true, true, true, false], [1, 4]), &Default::default());
    for kind in [GroundDistance::KlStudentTeacher, GroundDistance::Mse] {
        let d = |s: &[Vec<f64>]| {
            values(
                ground_distance(
                    &layer_tensors::<Cpu>(s, shape),
                    &layer_tensors(&teacher, shape),
                    Some(mask.clone()),
                    kind,
                )
                .unwrap(),
            )
        };
        assert_all_close(&d(&changed), &d(&student), 1e-6);
    }
}

#[test]
fn mismatched_layers_and_masks_are_rejected() {
    let layer = |shape: [usize; 3]| Tensor::<Cpu, 3>::zeros(shape, &Default::default());
    let kind = GroundDistance::Mse;
    let err =
        |s: &[Tensor<Cpu, 3>], t: &[Tensor<Cpu, 3>], mask| ground_distance(s, t, mask, kind).unwrap_err().to_string();
    assert!(
        err(&[layer([2, 3, 4])], &[layer([2, 3, 4]), layer([2, 3, 5])], None).contains("teacher layer 1 is [2, 3, 5]")
    );
    assert!(err(&[], &[layer([2, 3, 4])], None).contains("0 student and 1 teacher layers"));
    assert!(err(&[layer([2, 0, 4])], &[layer([2, 0, 4])], None).contains("empty"));
    let mask = Tensor::<Cpu, 2, Bool>::from_data(TensorData::new(vec![true; 3], [1, 3]), &Default::default());
    assert!(err(&[layer([2, 3, 4])], &[layer([2, 3, 4])], Some(mask)).contains("mask is [1, 3]"));
}

// ---------------------------------------------------------------------------------------------------
// The loss and its gradient

#[test]
fn the_loss_gradient_is_the_normalised_flow_and_reaches_d_only() {
    let d_values = [0.3, 1.2, 0.7, 2.0, 0.1, 0.9, 1.5, 0.4, 1.1, 0.6, 0.8, 0.2];
    let distance = tensor::<Cpu, 2>(&d_values, [3, 4]).require_grad();
    let masses = LayerMasses { student: vec![0.5, 0.3, 0.2], teacher: vec![0.1, 0.4, 0.25, 0.25] };
    let emd = emd_loss(distance.clone(), &masses).unwrap();
    assert_feasible(&emd.plan, &masses.student, &masses.teacher);
    let host = Array2::from_shape_vec((3, 4), d_values.iter().map(|&v| v as f32 as f64).collect()).unwrap();
    assert_close(emd.plan.cost, brute_force_optimum(&masses.student, &masses.teacher, &host), 1e-9);
    assert_close(values(emd.loss.clone())[0], emd.plan.cost, 1e-6);
    assert_all_close(&emd.student_costs, &emd.plan.row_costs(&host), 1e-15);
    assert_all_close(&emd.teacher_costs, &emd.plan.column_costs(&host), 1e-15);
    // The flow is a constant: dloss/dD = F / sum F exactly, with no term through F.
    let grads = emd.loss.backward();
    let gradient = values(distance.grad(&grads).unwrap());
    let total = emd.plan.flow.sum();
    let expected: Vec<f64> = emd.plan.flow.iter().map(|f| f / total).collect();
    assert_all_close(&gradient, &expected, 1e-7);
}

#[test]
fn wrong_masses_and_diverged_distances_are_errors() {
    let masses = LayerMasses::uniform(2, 2).unwrap();
    let three = tensor::<Cpu, 2>(&[1.0; 6], [2, 3]);
    assert!(emd_loss(three, &masses).unwrap_err().to_string().contains("2 x 3 but there are 2 supplies and 2 demands"));
    let nan = tensor::<Cpu, 2>(&[1.0, f64::NAN, 0.0, 1.0], [2, 2]);
    assert!(emd_loss(nan, &masses).unwrap_err().to_string().contains("cost[0][1] = NaN"));
}

/// The EMD loss of one step from fresh uniform masses, as a plain number.
fn emd_value(student: &[Vec<f64>], teacher: &[Tensor<Cpu, 3>], shape: [usize; 3]) -> f64 {
    let mut masses = LayerMasses::uniform(student.len(), teacher.len()).unwrap();
    let emd = layer_emd(&layer_tensors(student, shape), teacher, None, GroundDistance::KlStudentTeacher, &mut masses);
    values(emd.unwrap().loss)[0]
}

#[test]
fn the_kl_emd_gradient_reaches_the_student_states_and_matches_finite_differences() {
    let shape = [2, 2, 3];
    let mut rng = StdRng::seed_from_u64(7);
    let (student, teacher) = (random_layers(&mut rng, 2, shape), random_layers(&mut rng, 3, shape));
    let s: Vec<Tensor<Cpu, 3>> = layer_tensors::<Cpu>(&student, shape).into_iter().map(|x| x.require_grad()).collect();
    let t = layer_tensors::<Cpu>(&teacher, shape);
    let mut masses = LayerMasses::uniform(2, 3).unwrap();
    let emd = layer_emd(&s, &t, None, GroundDistance::KlStudentTeacher, &mut masses).unwrap();
    let grads = emd.loss.backward();
    assert!(t.iter().all(|x| x.grad(&grads).is_none()), "the untracked teacher got a gradient");
    for (layer, x) in s.iter().enumerate() {
        let gradient = values(x.grad(&grads).unwrap());
        assert!(gradient.iter().any(|g| g.abs() > 1e-3), "student layer {layer} got no gradient");
        // The optimal flow is locally constant, so central differences of the whole step agree.
        for element in [0, 5, 10] {
            let h = 5e-3;
            let shifted = |delta: f64| {
                let mut moved = student.clone();
                moved[layer][element] += delta;
                emd_value(&moved, &t, shape)
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert_close(gradient[element], numeric, 2e-3);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Layer masses

#[test]
fn uniform_masses_stay_uniform_when_every_layer_costs_the_same() {
    let mut masses = LayerMasses::uniform(2, 3).unwrap();
    let emd = emd_loss(tensor::<Cpu, 2>(&[0.7; 6], [2, 3]), &masses).unwrap();
    masses.update(&emd.student_costs, &emd.teacher_costs, MASS_TEMPERATURE).unwrap();
    assert_all_close(&masses.student, &[0.5; 2], 1e-15);
    assert_all_close(&masses.teacher, &[1.0 / 3.0; 3], 1e-15);
}

#[test]
fn a_costlier_layer_gets_less_mass_by_the_hand_computed_amount() {
    // D = [[1, 3], [2, 2]] with masses 1/2: the diagonal flow (cost 1.5 < 2.5). Student mean costs
    // 0.5/0.5 = 1 and 1/0.5 = 2, total 3: scores 3/1 and 3/2, masses softmax([0.3, 0.15]); the teacher
    // columns carry the same costs.
    let mut masses = LayerMasses::uniform(2, 2).unwrap();
    let emd = emd_loss(tensor::<Cpu, 2>(&[1.0, 3.0, 2.0, 2.0], [2, 2]), &masses).unwrap();
    assert_eq!(emd.plan.flow, array![[0.5, 0.0], [0.0, 0.5]]);
    masses.update(&emd.student_costs, &emd.teacher_costs, MASS_TEMPERATURE).unwrap();
    let (a, b) = (0.3f64.exp(), 0.15f64.exp());
    let expected = [a / (a + b), b / (a + b)];
    assert!(expected[0] > expected[1]);
    assert_all_close(&masses.student, &expected, 1e-12);
    assert_all_close(&masses.teacher, &expected, 1e-12);
}

/// AdaRec's update of one side from a flow `[M, N]` and the costs each side weighs it with.
fn adarec_masses(old: &[f64], transport: &[f64]) -> Vec<f64> {
    let mean: Vec<f64> = transport.iter().zip(old).map(|(c, w)| c / w).collect();
    let total: f64 = mean.iter().sum();
    softmax(&mean.iter().map(|c| total / c / 10.0).collect::<Vec<_>>())
}

#[test]
fn layer_emd_updates_the_teacher_masses_with_the_reversed_kl_as_adarec() {
    let shape = [2, 3, 4];
    let mut rng = StdRng::seed_from_u64(8);
    let (student, teacher) = (random_layers(&mut rng, 3, shape), random_layers(&mut rng, 4, shape));
    let (s, t) = (layer_tensors::<Cpu>(&student, shape), layer_tensors::<Cpu>(&teacher, shape));
    let start = LayerMasses { student: vec![0.2, 0.5, 0.3], teacher: vec![0.25; 4] };
    let host = |kind| {
        let d = values(ground_distance(&s, &t, None, kind).unwrap());
        Array2::from_shape_vec((3, 4), d).unwrap()
    };
    for kind in [GroundDistance::KlStudentTeacher, GroundDistance::Mse] {
        let (forward, reverse) = (host(kind), host(kind.reversed()));
        let plan = solve_transport(&start.student, &start.teacher, &forward).unwrap();
        let mut masses = start.clone();
        let emd = layer_emd(&s, &t, None, kind, &mut masses).unwrap();
        assert_all_close(emd.plan.flow.as_slice().unwrap(), plan.flow.as_slice().unwrap(), 1e-12);
        assert_all_close(&masses.student, &adarec_masses(&start.student, &plan.row_costs(&forward)), 1e-9);
        assert_all_close(&masses.teacher, &adarec_masses(&start.teacher, &plan.column_costs(&reverse)), 1e-9);
    }
    // The two KL directions differ here, so the check above can tell them apart.
    let (forward, reverse) = (host(GroundDistance::KlStudentTeacher), host(GroundDistance::KlTeacherStudent));
    assert!((&forward - &reverse).iter().any(|d| d.abs() > 1e-2));
}

#[test]
fn masses_and_distance_kinds_round_trip_through_json() {
    let masses = LayerMasses { student: vec![0.1, 0.9], teacher: vec![0.3, 0.3, 0.4] };
    let json = serde_json::to_string(&masses).unwrap();
    assert_eq!(serde_json::from_str::<LayerMasses>(&json).unwrap(), masses);
    assert_eq!(serde_json::to_string(&GroundDistance::KlStudentTeacher).unwrap(), "\"kl_student_teacher\"");
    assert_eq!(serde_json::from_str::<GroundDistance>("\"mse\"").unwrap(), GroundDistance::Mse);
}
