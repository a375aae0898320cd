//! Which bridge paths move beta: on a tiny ResNet-14 teacher / ResNet-8 student pair, the teacher-to-
//! student path and the distance form of the student-to-teacher path give beta a first-order gradient;
//! the cross-entropy form of the student-to-teacher path reaches beta only through the weights (zero
//! first-order gradient, non-zero second-order one); the gammas scale the gradients linearly.

mod common;

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use common::dfa::{
    arch_grad, arch_with, fixed_batches, max_abs, softmax_weights, tiny_student, tiny_task, tiny_teacher,
};
use common::{Cpu, softmax_step_settings, temp_dir};
use kdnas::search::bilevel::unrolled_arch_grad;
use kdnas::search::run::optimisers;
use kdnas::search::{SearchConfig, SearchMode, SearchTask};
use kdnas::supernet::ArchParams;
use kdnas::tasks::dfa::{DfaLosses, DfaSearchTask, DfaStudent, StudentToTeacher, TeacherBatch};

/// Side of the random images: stage outputs of 8x8, 4x4 and 2x2.
const SIDE: usize = 8;
/// Examples per batch.
const BATCH: usize = 4;

/// A fixed pair, its batches and architecture logits away from uniform, for any loss settings.
struct Setup {
    task: DfaSearchTask<Cpu>,
    net: DfaStudent<Cpu>,
    arch: ArchParams<Cpu>,
    train: TeacherBatch<Cpu>,
    val: TeacherBatch<Cpu>,
}

fn setup(name: &str, gamma_ts: f64, gamma_st: f64, student_to_teacher: StudentToTeacher) -> Setup {
    let dir = temp_dir(name);
    let teacher = tiny_teacher(&dir, 14, SIDE);
    let losses = DfaLosses { lambda: 1.0, gamma_ts, gamma_st, student_to_teacher, ..DfaLosses::default() };
    let task = tiny_task(&teacher, losses, BATCH, SIDE);
    let net = tiny_student(&task, 8, 5);
    let (train, val) = fixed_batches(&task, BATCH);
    let ids: Vec<ParamId> = (0..3).map(|_| ParamId::new()).collect();
    let arch = arch_with(&ids, &[vec![0.3, -0.2], vec![0.1, -0.4], vec![-0.5, 0.2]]);
    Setup { task, net, arch, train, val }
}

/// dL_arch(w, beta)/dbeta at the current weights (the first-order architecture gradient).
fn first_order(s: &Setup) -> Vec<f32> {
    let loss = s.task.arch_loss(&s.net.clone().no_grad(), &softmax_weights(&s.arch), &s.val);
    arch_grad(&GradientsParams::from_module(&mut loss.total.backward(), &s.arch), &s.arch)
}

/// The second-order (unrolled, DARTS) architecture gradient with learning rate 0.1.
fn second_order(s: &Setup) -> Vec<f32> {
    let mut opt = optimisers::<Cpu>(&SearchConfig::default());
    let settings = softmax_step_settings(SearchMode::SecondOrder, 0.1, 0.0);
    let (grads, _) = unrolled_arch_grad(&s.task, &s.net, &s.arch, &mut opt, &s.train, &s.val, &settings).unwrap();
    arch_grad(&grads, &s.arch)
}

/// `scaled` = `factor` x `base` up to f32 rounding: the scaled loss's gradient passes through the same
/// convolutions and reductions, each rounding a few ulps differently (1e-5 of the largest entry).
fn assert_scaled(scaled: &[f32], base: &[f32], factor: f32) {
    let tolerance = 1e-5 * max_abs(base).max(1e-12) * factor;
    for (k, (a, b)) in scaled.iter().zip(base).enumerate() {
        assert!((a - factor * b).abs() <= tolerance, "logit {k}: {a} != {factor} x {b}");
    }
}

#[test]
fn teacher_to_student_path_alone_moves_beta_and_gamma_ts_scales_it() {
    let _guard = common::serial();
    let once = first_order(&setup("dfa-grad-ts1", 1.0, 0.0, StudentToTeacher::CrossEntropy));
    let twice = first_order(&setup("dfa-grad-ts2", 2.0, 0.0, StudentToTeacher::CrossEntropy));
    eprintln!("TS path: {once:?}");
    assert!(max_abs(&once) > 1e-5, "the teacher-to-student path gives beta no gradient: {once:?}");
    assert!(once.iter().all(|g| g.is_finite()));
    assert_scaled(&twice, &once, 2.0);
}

#[test]
fn student_to_teacher_distance_alone_moves_beta_and_gamma_st_scales_it() {
    let _guard = common::serial();
    let once = first_order(&setup("dfa-grad-st1", 0.0, 1.0, StudentToTeacher::Distance));
    let thrice = first_order(&setup("dfa-grad-st3", 0.0, 3.0, StudentToTeacher::Distance));
    eprintln!("ST distance path: {once:?}");
    assert!(max_abs(&once) > 1e-5, "the student-to-teacher distance gives beta no gradient: {once:?}");
    assert_scaled(&thrice, &once, 3.0);
}

#[test]
fn student_to_teacher_cross_entropy_reaches_beta_only_through_the_weights() {
    let _guard = common::serial();
    let s = setup("dfa-grad-st-ce", 0.0, 1.0, StudentToTeacher::CrossEntropy);
    let first = first_order(&s);
    assert!(first.iter().all(|&g| g == 0.0), "first order: this path does not read beta: {first:?}");
    let second = second_order(&s);
    eprintln!("ST cross-entropy path, second order: {second:?}");
    assert!(second.iter().all(|g| g.is_finite()));
    assert!(max_abs(&second) > 1e-6, "second order: the unrolled weights depend on beta: {second:?}");
}

#[test]
fn the_bridge_loss_gradient_is_the_sum_of_its_paths() {
    let _guard = common::serial();
    let both = first_order(&setup("dfa-grad-sum", 1.0, 1.0, StudentToTeacher::Distance));
    let ts = first_order(&setup("dfa-grad-sum-ts", 1.0, 0.0, StudentToTeacher::Distance));
    let st = first_order(&setup("dfa-grad-sum-st", 0.0, 1.0, StudentToTeacher::Distance));
    let tolerance = 1e-5 * max_abs(&both);
    for k in 0..both.len() {
        assert!((both[k] - ts[k] - st[k]).abs() <= tolerance, "logit {k}: {} != {} + {}", both[k], ts[k], st[k]);
    }
}
