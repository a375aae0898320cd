//! DFA's weight and bridge losses recomputed outside the code under test: the connectors (1x1 conv and
//! a training-mode BatchNorm), the aggregations, the MSE feature term, the per-stage mean of each bridge
//! path and the weighting by lambda and the gammas are written here on host f64 values, for a WRN-16-2
//! teacher and a WRN-10-1 student (different widths and depths) with lambda and gammas other than 1.
//! Only the networks' `forward_from` and the cross-entropy of their logits come from kdnas.

mod common;

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::dfa::{CLASSES, arch_with, fixed_batches, softmax_weights, tiny_teacher_of};
use common::smooth::values;
use common::{Cpu, random_images, temp_dir};
use kdnas::models::{ModelConfig, StageShape, StagedClassifier};
use kdnas::search::SearchTask;
use kdnas::tasks::dfa::space_check::stage_slots;
use kdnas::tasks::dfa::{Connector, DfaLosses, DfaSearchTask, DfaStudent, FrozenTeacher, stage_outputs};

fn scalar(t: Tensor<Cpu, 1>) -> f64 {
    t.into_scalar().elem::<f32>() as f64
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-4 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{what}: got {actual}, expected {expected}");
}

/// A feature on the host: `[n, c, h, w]` and its values.
#[derive(Clone)]
struct Host {
    dims: [usize; 4],
    v: Vec<f64>,
}

fn host(t: Tensor<Cpu, 4>) -> Host {
    Host { dims: t.dims(), v: values(t).into_iter().map(f64::from).collect() }
}

fn device_tensor(h: &Host) -> Tensor<Cpu, 4> {
    let v: Vec<f32> = h.v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, h.dims), &Default::default())
}

/// `conv` (a `[c_out, c_in]` 1x1 weight) then a BatchNorm on batch statistics (biased variance) with
/// scale `gamma`, shift `beta` and `eps`.
fn connector(x: &Host, c: &Connector<Cpu>) -> Host {
    let [n, c_in, h, w] = x.dims;
    let weight: Vec<f64> = values(c.conv.weight.val()).into_iter().map(f64::from).collect();
    let gamma: Vec<f64> = values(c.bn.gamma.as_ref().unwrap().val()).into_iter().map(f64::from).collect();
    let beta: Vec<f64> = values(c.bn.beta.as_ref().unwrap().val()).into_iter().map(f64::from).collect();
    let c_out = weight.len() / c_in;
    let hw = h * w;
    let mut y = vec![0.0; n * c_out * hw];
    for b in 0..n {
        for o in 0..c_out {
            for p in 0..hw {
                y[(b * c_out + o) * hw + p] =
                    (0..c_in).map(|i| weight[o * c_in + i] * x.v[(b * c_in + i) * hw + p]).sum();
            }
        }
    }
    for o in 0..c_out {
        let at = |b: usize, p: usize| (b * c_out + o) * hw + p;
        let count = (n * hw) as f64;
        let mean = (0..n).flat_map(|b| (0..hw).map(move |p| (b, p))).map(|(b, p)| y[at(b, p)]).sum::<f64>() / count;
        let var =
            (0..n).flat_map(|b| (0..hw).map(move |p| (b, p))).map(|(b, p)| (y[at(b, p)] - mean).powi(2)).sum::<f64>()
                / count;
        for b in 0..n {
            for p in 0..hw {
                let k = at(b, p);
                y[k] = (y[k] - mean) / (var + c.bn.epsilon).sqrt() * gamma[o] + beta[o];
            }
        }
    }
    Host { dims: [n, c_out, h, w], v: y }
}

fn mse(a: &Host, b: &Host) -> f64 {
    a.v.iter().zip(&b.v).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.v.len() as f64
}

fn mix(blocks: &[Host], logits: &[f64]) -> Host {
    let z: f64 = logits.iter().map(|l| l.exp()).sum();
    let w: Vec<f64> = logits.iter().map(|l| l.exp() / z).collect();
    let v = (0..blocks[0].v.len()).map(|k| blocks.iter().zip(&w).map(|(b, w)| w * b.v[k]).sum()).collect();
    Host { dims: blocks[0].dims, v }
}

fn cross_entropy(logits: Tensor<Cpu, 2>, labels: &[usize]) -> f64 {
    let classes = logits.dims()[1];
    let v = values(logits);
    v.chunks(classes)
        .zip(labels)
        .map(|(row, &y)| {
            let max = row.iter().fold(f32::MIN, |m, &x| m.max(x)) as f64;
            let log_z = row.iter().map(|&x| (x as f64 - max).exp()).sum::<f64>().ln() + max;
            log_z - row[y] as f64
        })
        .sum::<f64>()
        / labels.len() as f64
}

/// A search task over 4 random 8x8 images per split with a tiny trained WRN-16-2 teacher (in `dir`)
/// and `losses`, and the teacher's stage shapes.
fn wide_teacher_task(dir: &std::path::Path, losses: DfaLosses) -> (DfaSearchTask<Cpu>, Vec<StageShape>) {
    let device = Default::default();
    let section = tiny_teacher_of(dir, ModelConfig::Wrn { depth: 16, widen: 2, dropout: 0.0 }, 8);
    let teacher = FrozenTeacher::<Cpu>::load(&section, 1, CLASSES as usize, &device).unwrap();
    let shapes = teacher.inner.stage_shapes();
    let slots = stage_slots(&common::dfa::resnet14_space(), &shapes, "teacher").unwrap();
    let task = DfaSearchTask {
        train: random_images(4, 1, 8, CLASSES, 1),
        val: random_images(4, 1, 8, CLASSES, 2),
        augment: None,
        teacher,
        slots,
        losses,
        device,
    };
    (task, shapes)
}

#[test]
fn weight_and_bridge_losses_match_a_second_computation_on_a_wide_teacher_and_a_narrow_student() {
    let _guard = common::serial();
    let dir = temp_dir("dfa-by-hand");
    let device = Default::default();
    let losses = DfaLosses { lambda: 0.3, gamma_ts: 0.7, gamma_st: 1.9, ..DfaLosses::default() };
    let (lambda, gamma_ts, gamma_st) = (losses.lambda, losses.gamma_ts, losses.gamma_st);
    let (task, shapes) = wide_teacher_task(&dir, losses);
    Cpu::seed(&device, 6);
    let student = ModelConfig::Wrn { depth: 10, widen: 1, dropout: 0.0 }.build::<Cpu>(1, CLASSES as usize, &device);
    let net = DfaStudent::new(student.unwrap(), &shapes, &device);
    let rows = vec![vec![0.4, -0.3], vec![-0.2, 0.5], vec![0.9, 0.1]];
    let ids: Vec<_> = (0..3).map(|_| burn::module::ParamId::new()).collect();
    let arch = arch_with(&ids, &rows);
    let (batch, _) = fixed_batches(&task, 4);
    let labels: Vec<usize> = task.train.labels[..4].iter().map(|&l| l as usize).collect();

    let loss = task.weight_loss(&net, &softmax_weights(&arch), &batch);
    let arch_loss = task.arch_loss(&net, &softmax_weights(&arch), &batch);

    let features = net.student.forward_features(batch.images.clone());
    let ce = cross_entropy(features.logits.clone(), &labels);
    let stages = stage_outputs(&features);
    let (mut feature, mut ts, mut st) = (0.0, 0.0, 0.0);
    for (i, s) in stages.into_iter().enumerate() {
        let connected = connector(&host(s), &net.to_teacher[i]);
        let blocks: Vec<Host> = batch.teacher.stages[i].iter().cloned().map(host).collect();
        let target = mix(&blocks, &rows[i].iter().map(|&r| r as f64).collect::<Vec<_>>());
        feature += mse(&connected, &target);
        let to_student = device_tensor(&connector(&target, &net.to_student[i]));
        ts += cross_entropy(net.student.forward_from(i, to_student), &labels);
        st += cross_entropy(task.teacher.net.forward_from(i, device_tensor(&connected)), &labels);
    }
    let (ts, st) = (ts / 3.0, st / 3.0);
    let terms: Vec<(&str, f64)> = loss.terms.iter().map(|(n, t)| (*n, scalar(t.clone()))).collect();
    let expected = [("cross_entropy", ce), ("feature", feature), ("bridge_ts", ts), ("bridge_st", st)];
    assert_eq!(terms.len(), expected.len());
    for ((name, got), (want_name, want)) in terms.iter().zip(expected) {
        assert_eq!(*name, want_name);
        assert_close(*got, want, name);
    }
    assert_close(scalar(loss.total), ce + lambda * feature + gamma_ts * ts + gamma_st * st, "weight loss");
    assert_close(scalar(arch_loss.total), gamma_ts * ts + gamma_st * st, "bridge loss");
}

#[test]
fn the_teacher_to_student_bridge_leaves_the_students_running_statistics_alone() {
    let _guard = common::serial();
    let dir = temp_dir("dfa-bridge-statistics");
    let device = Default::default();
    let (task, shapes) = wide_teacher_task(&dir, DfaLosses::default());
    // Two identical students: one goes through the bridge loss, the other only through its own forward
    // pass on the same images (what the bridge loss also computes, legitimately updating statistics).
    let student = || {
        Cpu::seed(&device, 6);
        let net = ModelConfig::Wrn { depth: 10, widen: 1, dropout: 0.0 }.build::<Cpu>(1, CLASSES as usize, &device);
        DfaStudent::new(net.unwrap(), &shapes, &device)
    };
    let (bridged, plain) = (student(), student());
    let ids: Vec<_> = (0..3).map(|_| burn::module::ParamId::new()).collect();
    let arch = arch_with(&ids, &[vec![0.4, -0.3], vec![-0.2, 0.5], vec![0.9, 0.1]]);
    let (batch, _) = fixed_batches(&task, 4);
    let _ = task.arch_loss(&bridged, &softmax_weights(&arch), &batch);
    let _ = plain.student.forward(batch.images.clone());
    let bytes = |net: &DfaStudent<Cpu>, name: &str| {
        let path = dir.join(name);
        kdnas::record_files::save_module(&net.student, &path).unwrap();
        common::mpk_without_param_ids(&std::fs::read(&path).unwrap())
    };
    assert!(
        bytes(&bridged, "bridged.mpk") == bytes(&plain, "plain.mpk"),
        "the bridge passes changed the student's BatchNorm running statistics"
    );
}
