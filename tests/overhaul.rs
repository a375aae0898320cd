//! The overhaul objective (Heo et al. 2019 as PkuDavidGuan/Distillation's `margin_ReLU`): the partial L2's
//! three cases and a margin by hand, the position weights and batch division by a second formula, where the
//! pre-activation taps of WRN and ResNet are, and the distillation term (and the `Last` aggregation with
//! the overhaul distance, which must equal it) against a host computation on a tiny ResNet pair.

mod common;

use burn::module::AutodiffModule;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::dfa::{CLASSES, tiny_teacher};
use common::smooth::values;
use common::{Cpu, random_images, temp_dir};
use kdnas::distill::{overhaul_loss, overhaul_margin, partial_l2_sum};
use kdnas::models::{Model, ModelConfig, StagedClassifier, TapPoint};
use kdnas::tasks::dfa::distill_task::{BoundObjective, DistillStudent, DistillTask};
use kdnas::tasks::dfa::objectives::{AggregationWeights, Objective, aggregation_weights};
use kdnas::tasks::dfa::{Distance, FrozenTeacher, stage_outputs};
use kdnas::train::task::{EpochAt, TrainTask};
use rand::SeedableRng;
use rand::rngs::StdRng;

type Inner = <Cpu as burn::tensor::backend::AutodiffBackend>::InnerBackend;

fn t4(v: &[f32], dims: [usize; 4]) -> Tensor<Inner, 4> {
    Tensor::from_data(TensorData::new(v.to_vec(), dims), &Default::default())
}

fn t1(v: &[f32]) -> Tensor<Inner, 1> {
    Tensor::from_floats(v, &Default::default())
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f32>() as f64
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-5 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{what}: got {actual}, expected {expected}");
}

/// The partial L2 of one element pair at margin `m`, written as "distance to max(T, m), counted where
/// S is above that target or the target is positive" (a second formula, equal for m <= 0).
fn partial(s: f64, t: f64, m: f64) -> f64 {
    let target = t.max(m);
    if s > target || target > 0.0 { (s - target).powi(2) } else { 0.0 }
}

#[test]
fn partial_l2_has_the_three_cases_of_the_reference() {
    let m = [-1.0f32];
    let one = |s: f32, t: f32| scalar(partial_l2_sum(t4(&[s], [1, 1, 1, 1]), t4(&[t], [1, 1, 1, 1]), t1(&m)));
    // S > m and T <= m: (S - m)^2.
    assert_close(one(0.5, -2.0), 2.25, "student above the margin, teacher below it");
    // S > T and m < T <= 0: (S - T)^2.
    assert_close(one(0.0, -0.5), 0.25, "student above a negative teacher above the margin");
    // T > 0: (S - T)^2 from either side.
    assert_close(one(-1.0, 2.0), 9.0, "positive teacher, student below");
    assert_close(one(3.0, 2.0), 1.0, "positive teacher, student above");
    // Nothing elsewhere.
    assert_eq!(one(-3.0, -2.0), 0.0, "student below the margin and the teacher below it");
    assert_eq!(one(-0.8, -0.5), 0.0, "student below a non-positive teacher");
    // Summed over elements, with one margin per channel: [1, 2, 1, 2], margins -1 and -0.25.
    let s = [0.5, 0.0, 0.0, 1.0];
    let t = [-2.0, -0.5, -0.5, 2.0];
    let sum = scalar(partial_l2_sum(t4(&s, [1, 2, 1, 2]), t4(&t, [1, 2, 1, 2]), t1(&[-1.0, -0.25])));
    // Channel 0: 2.25 + 0.25; channel 1: teacher -0.5 is below its margin -0.25, so (0 + 0.25)^2, then 1.
    assert_close(sum, 2.25 + 0.25 + 0.0625 + 1.0, "summed over channels with their own margins");
}

#[test]
fn margin_is_the_conditional_mean_below_zero_or_three_scales() {
    // gamma = 1, beta = 0: E[x | x < 0] of N(0, 1) = -phi(0) / Phi(0) = -2 / sqrt(2 pi).
    // gamma = -2, beta = 1 (the scale is |gamma|): 1 - 2 phi(0.5) / Phi(-0.5) = 1 - 2 * 0.3520653 / 0.3085375.
    // gamma = 1, beta = 4: Phi(-4) = 3.2e-5 <= 0.001, so -3 |gamma|.
    let margins = overhaul_margin(&[0.0, 1.0, 4.0], &[1.0, -2.0, 1.0]);
    let expected = [-2.0 / (2.0 * std::f64::consts::PI).sqrt(), 1.0 - 2.0 * 0.35206533 / 0.30853754, -3.0];
    for (m, e) in margins.iter().zip(expected) {
        assert!((*m as f64 - e).abs() < 1e-5, "{margins:?} vs {expected:?}");
    }
}

#[test]
fn overhaul_loss_weighs_positions_by_halves_and_divides_by_the_batch() {
    let device = Default::default();
    Inner::seed(&device, 3);
    let normal =
        |dims: [usize; 4]| Tensor::<Inner, 4>::random(dims, burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let dims = [[2, 2, 3, 3], [2, 3, 2, 2], [2, 1, 1, 2]];
    let students: Vec<_> = dims.iter().map(|&d| normal(d)).collect();
    let teachers: Vec<_> = dims.iter().map(|&d| normal(d)).collect();
    let margins: Vec<Vec<f32>> = vec![vec![-0.5, -1.0], vec![-0.2, -0.7, -1.5], vec![-0.3]];
    let loss = scalar(overhaul_loss(&students, &teachers, &margins.iter().map(|m| t1(m)).collect::<Vec<_>>()));
    let mut expected = 0.0;
    for (i, ((s, t), m)) in students.iter().zip(&teachers).zip(&margins).enumerate() {
        let [_, c, h, w] = dims[i];
        let (s, t) = (values(s.clone()), values(t.clone()));
        let sum: f64 = (0..s.len()).map(|k| partial(s[k] as f64, t[k] as f64, m[(k / (h * w)) % c] as f64)).sum();
        expected += sum * [0.25, 0.5, 1.0][i];
    }
    assert!(expected > 0.1, "a zero loss tests nothing");
    assert_close(loss, expected / 2.0, "overhaul loss");
}

/// A frozen `config` network for 3-channel 8x8 images with BatchNorm shifts and scales drawn away from
/// (0, 1), so every tap's BatchNorm is visible in its output.
fn frozen(config: ModelConfig) -> Model<Inner> {
    let device = Default::default();
    Cpu::seed(&device, 4);
    let net = config.build::<Cpu>(3, CLASSES as usize, &device).unwrap();
    let images = random_images(6, 3, 8, CLASSES, 9);
    let (x, _) = kdnas::data::image_batch::<Cpu>(&images, &(0..6).collect::<Vec<_>>(), None, &device);
    net.forward_features(x);
    common::dfa::linear_relus(net, 0.7, -0.2).valid().into_frozen()
}

fn max_diff(a: Tensor<Inner, 4>, b: Tensor<Inner, 4>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    values(a).iter().zip(values(b)).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn wrn_taps_are_the_next_batchnorm_and_resnet_taps_the_sum_before_the_relu() {
    let images = random_images(2, 3, 8, CLASSES, 5);
    let (x, _) = kdnas::data::image_batch::<Inner>(&images, &[0, 1], None, &Default::default());
    for (config, preact) in
        [(ModelConfig::Wrn { depth: 16, widen: 1, dropout: 0.0 }, true), (ModelConfig::Resnet { depth: 14 }, false)]
    {
        let net = frozen(config);
        let features = net.forward_features(x.clone());
        let (taps, stem) = net.forward_at(x.clone(), TapPoint::PreActivation);
        assert_eq!(values(taps.logits), values(features.logits.clone()), "the logits do not change");
        assert_eq!(stem.unwrap().dims()[1], 16, "the stem tap has the stem's channels");
        let bns = net.residual().unwrap().tap_bns();
        for (i, blocks) in features.stages.iter().enumerate() {
            for (j, block) in blocks.iter().enumerate() {
                let tap = taps.stages[i][j].clone();
                let expected = if preact { bns.stages[i][j].forward(block.clone()) } else { block.clone() };
                let got = if preact { tap.clone() } else { relu(tap.clone()) };
                assert!(max_diff(got, expected) < 1e-5, "stage {i} block {j}");
                if !preact {
                    assert!(values(tap).iter().any(|&v| v < 0.0), "a pre-ReLU tap has negative values");
                }
            }
        }
        let margins = net.residual().unwrap().tap_margins();
        assert!(margins.stages.iter().flatten().flatten().all(|&m| m < 0.0), "margins are negative");
    }
}

#[test]
fn overhaul_term_and_last_aggregation_match_a_host_computation() {
    let _guard = common::serial();
    let dir = temp_dir("overhaul-objective");
    let device = Default::default();
    let section = tiny_teacher(&dir, 14, 8);
    let teacher = FrozenTeacher::<Cpu>::load(&section, 1, CLASSES as usize, &device).unwrap();
    let shapes = teacher.inner.stage_shapes();
    let last = aggregation_weights(&AggregationWeights::Last, None, 0, &shapes, "o").unwrap();
    let objectives = vec![
        BoundObjective { objective: Objective::Overhaul { weight: 1e-3 }, aggregation: None },
        BoundObjective {
            objective: Objective::Aggregation {
                weight: 1e-3,
                weights: AggregationWeights::Last,
                distance: Distance::Overhaul,
                search: None,
                seed: 0,
            },
            aggregation: Some(last),
        },
    ];
    let margins = teacher.margins.clone().unwrap();
    let images = random_images(4, 1, 8, CLASSES, 1);
    let task = DistillTask { train: images.clone(), test: images, augment: None, teacher, objectives, device };
    Cpu::seed(&device, 5);
    let student = ModelConfig::Resnet { depth: 8 }.build::<Cpu>(1, CLASSES as usize, &device).unwrap();
    let net = DistillStudent::new(student, &shapes, Some(TapPoint::PreActivation), &device);
    assert_eq!(net.connectors.len(), 4, "the stem and three stages");
    let batch = task.batch(&[0, 1, 2, 3], &mut StdRng::seed_from_u64(0));
    let loss = task.loss(&net, &batch, EpochAt { epoch: 0, epochs: 1 });

    let (features, stem) = net.student.forward_at(batch.images.clone(), TapPoint::PreActivation);
    let students: Vec<_> = std::iter::once(stem.unwrap()).chain(stage_outputs(&features)).collect();
    let teachers: Vec<_> = std::iter::once(batch.stem.clone().unwrap()).chain(stage_outputs(&batch.teacher)).collect();
    let position_margins = margins.stage_ends();
    let mut expected = 0.0;
    for (i, ((s, t), m)) in students.into_iter().zip(teachers).zip(position_margins).enumerate() {
        let [_, c, h, w] = t.dims();
        let s = values(net.connectors[i].forward(s));
        let t = values(t);
        let sum: f64 = (0..s.len()).map(|k| partial(s[k] as f64, t[k] as f64, m[(k / (h * w)) % c] as f64)).sum();
        expected += sum / 2f64.powi(3 - i as i32);
    }
    expected /= 4.0;
    assert!(expected > 1e-3, "a zero loss tests nothing");
    assert_eq!(loss.terms[0].0, "overhaul");
    assert_close(scalar(loss.terms[0].1.clone()), expected, "overhaul term");
    assert_close(scalar(loss.terms[1].1.clone()), expected, "Last aggregation with the overhaul distance");
    assert_close(scalar(loss.total), 2e-3 * expected, "weighted total");
}
