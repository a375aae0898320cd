//! The distillation losses against values computed by hand or from their formulas on plain f64 arrays,
//! plus their defining properties (zero at agreement, scale invariance, the analytic KD gradient).

mod common;

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::Cpu;
use kdnas::distill::{attention_loss, attention_map, feature_l2, kd_loss, margin_l2, normal_cdf, overhaul_margin};
use std::f64::consts::PI;

const STUDENT_LOGITS: [f64; 6] = [1.0, 2.0, 3.0, 0.5, -1.0, 2.0];
const TEACHER_LOGITS: [f64; 6] = [3.0, 1.0, 0.0, 0.0, 0.0, 1.0];

fn tensor<const D: usize>(values: &[f64], shape: [usize; D]) -> Tensor<Cpu, D> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn scalar(t: Tensor<Cpu, 1>) -> f64 {
    assert_eq!(t.dims(), [1]);
    t.into_scalar().elem::<f32>() as f64
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f32>().into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!((actual - expected).abs() <= tolerance, "got {actual}, expected {expected}");
}

/// Row-wise softmax of `[rows, 3]` logits divided by `t`.
fn softmax_rows(logits: &[f64], t: f64) -> Vec<f64> {
    logits
        .chunks(3)
        .flat_map(|row| {
            let z: f64 = row.iter().map(|v| (v / t).exp()).sum();
            row.iter().map(move |v| (v / t).exp() / z)
        })
        .collect()
}

/// `T^2 / n * sum_i sum_j p_ij ln(p_ij / q_ij)` on plain arrays.
fn kd_reference(student: &[f64], teacher: &[f64], t: f64) -> f64 {
    let (q, p) = (softmax_rows(student, t), softmax_rows(teacher, t));
    let kl: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
    kl / (student.len() / 3) as f64 * t * t
}

#[test]
fn kd_loss_matches_the_formula_at_two_temperatures() {
    for t in [1.0, 4.0] {
        let loss = kd_loss(tensor(&STUDENT_LOGITS, [2, 3]), tensor(&TEACHER_LOGITS, [2, 3]), t);
        let expected = kd_reference(&STUDENT_LOGITS, &TEACHER_LOGITS, t);
        assert!(expected > 0.1, "the example must not be trivial: {expected}");
        assert_close(scalar(loss), expected, 1e-5 * expected.max(1.0));
    }
}

#[test]
fn kd_loss_is_zero_only_when_the_logits_agree() {
    let same = kd_loss(tensor(&STUDENT_LOGITS, [2, 3]), tensor(&STUDENT_LOGITS, [2, 3]), 4.0);
    assert_close(scalar(same), 0.0, 1e-6);
    let mut nudged = STUDENT_LOGITS;
    nudged[1] += 0.5;
    let differ = kd_loss(tensor(&nudged, [2, 3]), tensor(&STUDENT_LOGITS, [2, 3]), 4.0);
    assert!(scalar(differ) > 1e-4);
}

#[test]
fn kd_gradient_is_the_scaled_probability_difference() {
    let t = 2.0;
    let student = tensor(&STUDENT_LOGITS, [2, 3]).require_grad();
    let grads = kd_loss(student.clone(), tensor(&TEACHER_LOGITS, [2, 3]).detach(), t).backward();
    let gradient = values(student.grad(&grads).unwrap());
    let (q, p) = (softmax_rows(&STUDENT_LOGITS, t), softmax_rows(&TEACHER_LOGITS, t));
    for ((g, q), p) in gradient.iter().zip(&q).zip(&p) {
        assert_close(*g, (q - p) * t / 2.0, 1e-6);
    }
}

#[test]
fn feature_l2_is_the_mean_squared_error() {
    // differences 0, 2, 0, -3 and 1, 1, 0, 0: (4 + 9 + 1 + 1) / 8
    let student = tensor(&[1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 5.0, 5.0], [2, 2, 1, 2]);
    let teacher = tensor(&[1.0, 0.0, 3.0, 7.0, -1.0, 0.0, 5.0, 5.0], [2, 2, 1, 2]);
    assert_close(scalar(feature_l2(student, teacher)), 15.0 / 8.0, 1e-6);
}

#[test]
#[should_panic(expected = "differ in shape")]
fn feature_l2_rejects_different_shapes() {
    feature_l2(tensor(&[0.0; 4], [1, 2, 1, 2]), tensor(&[0.0; 4], [1, 1, 2, 2]));
}

/// `[1, 2, 2, 2]`: channel 0 = [1, -2, 0, 2], channel 1 = [3, 0, 0, 1].
const SMALL: [f64; 8] = [1.0, -2.0, 0.0, 2.0, 3.0, 0.0, 0.0, 1.0];
/// `[1, 3, 2, 2]`: channels [1, 1, 1, 1], [0, 2, 0, 0], [1, 0, 1, 1].
const WIDE: [f64; 12] = [1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0];

fn unit(v: &[f64]) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

#[test]
fn attention_map_is_the_normalised_channel_mean_of_powers() {
    // p = 2: channel means of squares [5, 2, 0, 2.5]; p = 1: of absolute values [2, 1, 0, 1.5].
    for (p, mean) in [(2.0, [5.0, 2.0, 0.0, 2.5]), (1.0, [2.0, 1.0, 0.0, 1.5])] {
        let map = attention_map(tensor(&SMALL, [1, 2, 2, 2]), p);
        assert_eq!(map.dims(), [1, 4]);
        for (a, e) in values(map).iter().zip(unit(&mean)) {
            assert_close(*a, e, 1e-6);
        }
    }
}

#[test]
fn attention_loss_compares_maps_across_channel_counts() {
    // Teacher squares summed per position: [2, 5, 2, 2] (the channel mean only rescales before normalising).
    let (qs, qt) = (unit(&[5.0, 2.0, 0.0, 2.5]), unit(&[2.0, 5.0, 2.0, 2.0]));
    let expected = qs.iter().zip(&qt).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 4.0;
    let loss = attention_loss(tensor(&SMALL, [1, 2, 2, 2]), tensor(&WIDE, [1, 3, 2, 2]), 2.0);
    assert!(expected > 0.05);
    assert_close(scalar(loss), expected, 1e-6);
}

#[test]
fn attention_loss_is_zero_for_equal_features_and_ignores_positive_scale() {
    let same = attention_loss(tensor(&SMALL, [1, 2, 2, 2]), tensor(&SMALL, [1, 2, 2, 2]), 2.0);
    assert_close(scalar(same), 0.0, 1e-9);
    let base = scalar(attention_loss(tensor(&SMALL, [1, 2, 2, 2]), tensor(&WIDE, [1, 3, 2, 2]), 2.0));
    let scaled = attention_loss(tensor(&SMALL, [1, 2, 2, 2]).mul_scalar(7.5), tensor(&WIDE, [1, 3, 2, 2]), 2.0);
    assert_close(scalar(scaled), base, 1e-6);
}

#[test]
fn attention_loss_has_finite_gradients_on_an_all_zero_feature() {
    let student = tensor(&[0.0; 8], [1, 2, 2, 2]).require_grad();
    let grads = attention_loss(student.clone(), tensor(&WIDE, [1, 3, 2, 2]), 2.0).backward();
    assert!(values(student.grad(&grads).unwrap()).iter().all(|g| g.is_finite()));
}

#[test]
fn normal_cdf_matches_tabulated_values() {
    let table = [
        (0.0, 0.5),
        (-1.0, 0.15865525393145707),
        (1.96, 0.9750021048517795),
        (-3.0, 0.0013498980316300957),
        (-5.0, 2.866515718791946e-7),
    ];
    for (x, phi) in table {
        let got = normal_cdf(x);
        assert!(((got - phi) / phi).abs() < 2e-7, "Phi({x}) = {got}, expected {phi}");
    }
}

#[test]
fn overhaul_margin_is_the_mean_of_the_negative_part() {
    // E[x | x < 0] for x ~ N(m, s^2) is m - s * pdf(m/s) / Phi(-m/s); Phi(-1) and Phi(-3) from a table.
    let pdf = |x: f64| (-x * x / 2.0).exp() / (2.0 * PI).sqrt();
    let (pdf_1, phi_minus_1) = (pdf(1.0), 0.15865525393145707);
    let cases = [
        (0.0, 1.0, -(2.0 / PI).sqrt()),                     // -0.7979
        (1.0, 1.0, 1.0 - pdf_1 / phi_minus_1),              // -0.5251
        (0.5, -0.5, 0.5 * (1.0 - pdf_1 / phi_minus_1)),     // the scale's sign is ignored
        (3.0, 1.0, 3.0 - pdf(3.0) / 0.0013498980316300957), // -0.2831, just above the 0.001 threshold
        (4.0, 1.0, -3.0),                                   // Phi(-4) = 3.2e-5 <= 0.001: -3 s
        (7.0, 2.0, -6.0),                                   // Phi(-3.5) = 2.3e-4 <= 0.001: -3 s
        (-1.0, 0.0, -1.0),                                  // a constant negative response
        (2.0, 0.0, 0.0),                                    // a constant positive response
    ];
    let means: Vec<f32> = cases.iter().map(|c| c.0 as f32).collect();
    let stds: Vec<f32> = cases.iter().map(|c| c.1 as f32).collect();
    for (got, (m, s, expected)) in overhaul_margin(&means, &stds).into_iter().zip(cases) {
        assert!((got as f64 - expected).abs() < 1e-5, "margin({m}, {s}) = {got}, expected {expected}");
    }
}

/// Student, teacher `[2, 2, 1, 2]` and margins `[-1, -0.5]` with masked-out elements.
fn margin_example() -> (Tensor<Cpu, 4>, Tensor<Cpu, 4>, Tensor<Cpu, 1>) {
    let student = tensor(&[-2.0, 1.0, 0.3, -1.0, 0.5, 0.0, -0.6, 3.0], [2, 2, 1, 2]);
    let teacher = tensor(&[-3.0, 2.0, -0.2, -4.0, 0.5, -0.5, -1.0, 1.0], [2, 2, 1, 2]);
    (student, teacher, tensor(&[-1.0, -0.5], [2]))
}

#[test]
fn margin_l2_masks_students_below_negative_targets() {
    // targets max(teacher, margin):  [-1, 2 | -0.2, -0.5 || 0.5, -0.5 | -0.5, 1]
    // kept (s > y or y > 0):         [no, 1 | 0.25, no   || 0, 0.25   | no, 4  ]
    let (student, teacher, margin) = margin_example();
    assert_close(scalar(margin_l2(student, teacher, margin)), 5.5 / 8.0, 1e-6);
}

#[test]
fn margin_l2_gives_no_gradient_to_masked_elements() {
    let (student, teacher, margin) = margin_example();
    let student = student.require_grad();
    let grads = margin_l2(student.clone(), teacher, margin).backward();
    // d/ds (s - y)^2 / 8 = (s - y) / 4 where kept.
    let expected = [0.0, -0.25, 0.125, 0.0, 0.0, 0.125, 0.0, 0.5];
    for (g, e) in values(student.grad(&grads).unwrap()).iter().zip(expected) {
        assert_close(*g, e, 1e-6);
    }
}
