//! Stage-2 objectives (src/tasks/dfa/objectives.rs) against values computed by hand on plain f64
//! arrays: the per-stage compositions of the src/distill losses, the fixed aggregation targets and
//! weights (Last, Average, Random), and a distillation task's loss as the weighted sum of its named
//! terms on a tiny ResNet-14 teacher / ResNet-8 student pair.

mod common;

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Tensor};
use common::dfa::{CLASSES, tiny_teacher};
use common::smooth::values;
use common::{Cpu, random_images, temp_dir};
use kdnas::models::{ModelConfig, StageShape, StagedClassifier, TapPoint};
use kdnas::tasks::dfa::Distance;
use kdnas::tasks::dfa::distill_task::{BoundObjective, DistillStudent, DistillTask};
use kdnas::tasks::dfa::objectives::{AggregationWeights, Objective, aggregation_weights, apply};
use kdnas::tasks::dfa::{FrozenTeacher, stage_outputs};
use kdnas::train::task::{EpochAt, TrainTask};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A tensor read to the host: shape and row-major f64 values.
#[derive(Clone, Debug)]
struct Host {
    dims: [usize; 4],
    v: Vec<f64>,
}

fn host<B: Backend>(t: Tensor<B, 4>) -> Host {
    Host { dims: t.dims(), v: values(t).into_iter().map(f64::from).collect() }
}

fn rows<B: Backend>(t: Tensor<B, 2>) -> Vec<Vec<f64>> {
    let cols = t.dims()[1];
    values(t).chunks(cols).map(|r| r.iter().map(|&x| x as f64).collect()).collect()
}

fn scalar(t: Tensor<Cpu, 1>) -> f64 {
    t.into_scalar().elem::<f32>() as f64
}

fn random(dims: [usize; 4], seed: u64) -> Tensor<Cpu, 4> {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, seed);
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), &device)
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-5 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{what}: got {actual}, expected {expected}");
}

fn log_softmax(row: &[f64], t: f64) -> Vec<f64> {
    let max = row.iter().fold(f64::MIN, |m, &x| m.max(x / t));
    let log_z = row.iter().map(|&x| (x / t - max).exp()).sum::<f64>().ln() + max;
    row.iter().map(|&x| x / t - log_z).collect()
}

fn cross_entropy(logits: &[Vec<f64>], labels: &[usize]) -> f64 {
    logits.iter().zip(labels).map(|(row, &y)| -log_softmax(row, 1.0)[y]).sum::<f64>() / labels.len() as f64
}

/// T^2 / n * sum p (log p - log q), p = softmax(t / T), q = softmax(s / T).
fn kd(student: &[Vec<f64>], teacher: &[Vec<f64>], t: f64) -> f64 {
    let kl: f64 = student
        .iter()
        .zip(teacher)
        .map(|(s, tr)| {
            let (log_q, log_p) = (log_softmax(s, t), log_softmax(tr, t));
            log_p.iter().zip(&log_q).map(|(lp, lq)| lp.exp() * (lp - lq)).sum::<f64>()
        })
        .sum();
    kl * t * t / student.len() as f64
}

/// Park et al.'s RKD by its definition: Huber (beta 1) between the mean-normalised pairwise distances
/// (mean over every n^2 entry) and between the cosines of the angles (mean over every n^3 triplet).
fn rkd(student: &[Vec<f64>], teacher: &[Vec<f64>], wd: f64, wa: f64) -> f64 {
    let n = student.len();
    let huber = |x: f64| if x.abs() < 1.0 { 0.5 * x * x } else { x.abs() - 0.5 };
    let diff =
        |e: &[Vec<f64>], i: usize, j: usize| -> Vec<f64> { e[j].iter().zip(&e[i]).map(|(a, b)| a - b).collect() };
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let distances = |e: &[Vec<f64>]| {
        let d: Vec<f64> = (0..n * n).map(|k| if k / n == k % n { 0.0 } else { norm(&diff(e, k / n, k % n)) }).collect();
        let mean = d.iter().sum::<f64>() / (n * (n - 1)) as f64;
        d.into_iter().map(|x| x / mean).collect::<Vec<f64>>()
    };
    let cosines = |e: &[Vec<f64>]| {
        let mut c = Vec::new();
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    let (u, v) = (diff(e, i, j), diff(e, i, k));
                    let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                    c.push(dot / (norm(&u).max(1e-12) * norm(&v).max(1e-12)));
                }
            }
        }
        c
    };
    let mean_huber =
        |a: Vec<f64>, b: Vec<f64>| a.iter().zip(&b).map(|(x, y)| huber(x - y)).sum::<f64>() / a.len() as f64;
    wd * mean_huber(distances(student), distances(teacher)) + wa * mean_huber(cosines(student), cosines(teacher))
}

/// Per example, the channel mean of x^2 per position, divided by its L2 norm.
fn attention_map(x: &Host) -> Vec<Vec<f64>> {
    let [n, c, h, w] = x.dims;
    (0..n)
        .map(|i| {
            let map: Vec<f64> = (0..h * w)
                .map(|p| (0..c).map(|k| x.v[(i * c + k) * h * w + p].powi(2)).sum::<f64>() / c as f64)
                .collect();
            let norm = map.iter().map(|m| m * m).sum::<f64>().sqrt().max(1e-12);
            map.iter().map(|m| m / norm).collect()
        })
        .collect()
}

fn attention(s: &Host, t: &Host) -> f64 {
    let (a, b) = (attention_map(s), attention_map(t));
    let diffs: Vec<f64> = a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).powi(2)).collect();
    diffs.iter().sum::<f64>() / diffs.len() as f64
}

fn mse(s: &Host, t: &Host) -> f64 {
    assert_eq!(s.dims, t.dims);
    s.v.iter().zip(&t.v).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / s.v.len() as f64
}

/// The overhaul partial L2 with a zero margin: y = max(t, 0), (s - y)^2 where s > y or y > 0.
fn margin_l2(s: &Host, t: &Host) -> f64 {
    let kept = s.v.iter().zip(&t.v).map(|(&s, &t)| {
        let y = t.max(0.0);
        if s > y || y > 0.0 { (s - y).powi(2) } else { 0.0 }
    });
    kept.sum::<f64>() / s.v.len() as f64
}

/// `sum_j w[j] * blocks[j]`.
fn weighted(blocks: &[Host], w: &[f64]) -> Host {
    let v = (0..blocks[0].v.len()).map(|k| blocks.iter().zip(w).map(|(b, w)| w * b.v[k]).sum()).collect();
    Host { dims: blocks[0].dims, v }
}

fn shapes(blocks: &[usize]) -> Vec<StageShape> {
    blocks.iter().enumerate().map(|(i, &blocks)| StageShape { channels: 2, blocks, stride: 1 << i }).collect()
}

#[test]
fn feature_objectives_sum_the_src_distill_losses_over_stages() {
    let _guard = common::serial();
    let student = [random([2, 3, 2, 2], 1), random([2, 2, 1, 2], 2)];
    let teacher = [random([2, 3, 2, 2], 3), random([2, 2, 1, 2], 4)];
    let wide = [random([2, 5, 2, 2], 5), random([2, 4, 1, 2], 6)];
    let (s, t, tw): (Vec<Host>, Vec<Host>, Vec<Host>) = (
        student.iter().cloned().map(host).collect(),
        teacher.iter().cloned().map(host).collect(),
        wide.iter().cloned().map(host).collect(),
    );
    let l2 = scalar(apply::features(&student, &teacher, &[], Distance::L2));
    assert_close(l2, mse(&s[0], &t[0]) + mse(&s[1], &t[1]), "features, l2");
    let margin = scalar(apply::features(&student, &teacher, &[], Distance::MarginL2));
    let expected = margin_l2(&s[0], &t[0]) + margin_l2(&s[1], &t[1]);
    assert!((expected - (mse(&s[0], &t[0]) + mse(&s[1], &t[1]))).abs() > 0.1, "the margin must mask something");
    assert_close(margin, expected, "features, margin_l2");
    // Attention compares maps, so the teacher may be wider than the student.
    let at = scalar(apply::attention(&student, &wide, 2.0));
    assert_close(at, attention(&s[0], &tw[0]) + attention(&s[1], &tw[1]), "attention");
}

#[test]
fn kd_objective_is_hinton_kd_with_a_detached_teacher() {
    let device = Default::default();
    let student = Tensor::<Cpu, 2>::from_floats([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], &device).require_grad();
    let teacher = Tensor::<Cpu, 2>::from_floats([[3.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &device).require_grad();
    let loss = apply::kd(student.clone(), teacher.clone(), 4.0);
    assert_close(scalar(loss.clone()), kd(&rows(student.clone()), &rows(teacher.clone()), 4.0), "kd");
    let grads = loss.backward();
    assert!(student.grad(&grads).is_some() && teacher.grad(&grads).is_none(), "only the student learns from kd");
}

#[test]
fn fixed_aggregates_are_the_last_block_the_mean_or_any_given_mix() {
    let _guard = common::serial();
    let stages = vec![
        vec![random([2, 2, 2, 2], 7), random([2, 2, 2, 2], 8)],
        vec![random([2, 3, 1, 1], 9), random([2, 3, 1, 1], 10), random([2, 3, 1, 1], 11)],
    ];
    let blocks: Vec<Vec<Host>> = stages.iter().map(|s| s.iter().cloned().map(host).collect()).collect();
    let stage_shapes = shapes(&[2, 3]);
    let weights =
        |kind: AggregationWeights| aggregation_weights(&kind, None, 0, &stage_shapes, "objective[0]").unwrap();
    let last = apply::fixed_aggregates(&stages, &weights(AggregationWeights::Last));
    let average = apply::fixed_aggregates(&stages, &weights(AggregationWeights::Average));
    let mixed = apply::fixed_aggregates(&stages, &[vec![0.25, 0.75], vec![0.5, -1.0, 2.0]]);
    for (i, b) in blocks.iter().enumerate() {
        let n = b.len();
        let close = |got: &Tensor<Cpu, 4>, expected: &Host, what: &str| {
            let got = host(got.clone());
            assert_eq!(got.dims, expected.dims);
            let diff = got.v.iter().zip(&expected.v).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(diff < 1e-6, "stage {i}, {what}: off by {diff}");
        };
        close(&last[i], &b[n - 1], "last");
        close(&average[i], &weighted(b, &vec![1.0 / n as f64; n]), "average");
        let mix: Vec<f64> = if i == 0 { vec![0.25, 0.75] } else { vec![0.5, -1.0, 2.0] };
        close(&mixed[i], &weighted(b, &mix), "given weights");
    }
}

#[test]
fn fixed_weights_sum_to_one_per_stage_and_random_ones_follow_their_seed() {
    let stage_shapes = shapes(&[1, 2, 5]);
    let weights =
        |kind: AggregationWeights, seed| aggregation_weights(&kind, None, seed, &stage_shapes, "objective[0]").unwrap();
    let (last, average, random) = (
        weights(AggregationWeights::Last, 0),
        weights(AggregationWeights::Average, 0),
        weights(AggregationWeights::Random, 7),
    );
    for set in [&last, &average, &random] {
        assert_eq!(set.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 2, 5]);
        for row in set.iter() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?} does not sum to 1");
            assert!(row.iter().all(|&w| w >= 0.0));
        }
    }
    assert_eq!(last[2], vec![0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(average[2], vec![0.2; 5]);
    assert!(random.iter().flatten().all(|&w| w > 0.0), "{random:?}");
    assert_ne!(random[2], average[2], "random weights are not uniform");
    assert_eq!(random, weights(AggregationWeights::Random, 7), "the same seed gives the same weights");
    assert_ne!(random, weights(AggregationWeights::Random, 8), "another seed gives others");
    let err = aggregation_weights(&AggregationWeights::Searched, None, 0, &stage_shapes, "objective[2]").unwrap_err();
    assert!(err.to_string().contains("objective[2].search"), "{err}");
}

#[test]
fn distillation_loss_is_the_weighted_sum_of_its_named_terms() {
    let _guard = common::serial();
    let dir = temp_dir("distill-objectives");
    let device = Default::default();
    let section = tiny_teacher(&dir, 14, 8);
    let teacher = FrozenTeacher::<Cpu>::load(&section, 1, CLASSES as usize, &device).unwrap();
    let teacher_shapes = teacher.inner.stage_shapes();
    let objectives = vec![
        Objective::CrossEntropy { weight: 1.0 },
        Objective::Kd { weight: 0.5, temperature: 4.0 },
        Objective::Rkd { weight: 0.1, distance_weight: 25.0, angle_weight: 50.0 },
        Objective::Attention { weight: 3.0, p: 2.0 },
        Objective::Fitnet { weight: 2.0, distance: Distance::L2 },
        Objective::Aggregation {
            weight: 10.0,
            weights: AggregationWeights::Average,
            distance: Distance::L2,
            search: None,
            seed: 0,
        },
    ];
    let bound = objectives
        .iter()
        .map(|o| {
            let aggregation = matches!(o, Objective::Aggregation { .. })
                .then(|| aggregation_weights(&AggregationWeights::Average, None, 0, &teacher_shapes, "o").unwrap());
            BoundObjective { objective: o.clone(), aggregation }
        })
        .collect();
    let images = random_images(4, 1, 8, CLASSES, 1);
    let labels: Vec<usize> = images.labels.iter().map(|&l| l as usize).collect();
    let task = DistillTask { train: images.clone(), test: images, augment: None, teacher, objectives: bound, device };
    <Cpu as Backend>::seed(&device, 5);
    let student = ModelConfig::Resnet { depth: 8 }.build::<Cpu>(1, CLASSES as usize, &device).unwrap();
    let net = DistillStudent::new(student, &teacher_shapes, Some(TapPoint::Block), &device);
    let batch = task.batch(&[0, 1, 2, 3], &mut StdRng::seed_from_u64(0));
    let loss = task.loss(&net, &batch, EpochAt { epoch: 0, epochs: 1 });

    // The same forward pass by hand (BatchNorm on batch statistics gives the same outputs again).
    let features = net.student.forward_features(batch.images.clone());
    let (s_logits, t_logits) = (rows(features.logits.clone()), rows(batch.teacher.logits.clone()));
    let s_stages: Vec<Host> = stage_outputs(&features).into_iter().map(host).collect();
    let connected: Vec<Host> =
        stage_outputs(&features).into_iter().zip(&net.connectors).map(|(s, c)| host(c.forward(s))).collect();
    let t_blocks: Vec<Vec<Host>> = batch.teacher.stages.iter().map(|s| s.iter().cloned().map(host).collect()).collect();
    let t_last: Vec<&Host> = t_blocks.iter().map(|b| b.last().unwrap()).collect();
    let expected = [
        ("cross_entropy", cross_entropy(&s_logits, &labels)),
        ("kd", kd(&s_logits, &t_logits, 4.0)),
        ("rkd", rkd(&s_logits, &t_logits, 25.0, 50.0)),
        ("attention", (0..3).map(|i| attention(&s_stages[i], t_last[i])).sum()),
        ("fitnet", (0..3).map(|i| mse(&connected[i], t_last[i])).sum()),
        ("aggregation", (0..3).map(|i| mse(&connected[i], &weighted(&t_blocks[i], &[0.5, 0.5]))).sum()),
    ];
    assert_eq!(loss.terms.len(), expected.len());
    let mut total = 0.0;
    for (((name, term), (expected_name, value)), objective) in loss.terms.into_iter().zip(expected).zip(&objectives) {
        assert_eq!(name, expected_name);
        assert!(value > 1e-4, "{name}: a zero term tests nothing");
        assert_close(scalar(term), value, name);
        total += objective.weight() * value;
    }
    assert_close(scalar(loss.total), total, "total");
    assert_eq!(loss.count, 4);
}
