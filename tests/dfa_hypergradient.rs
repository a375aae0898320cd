//! DFA's second-order beta gradient (the search loop's unrolled step on the DFA task) equals a central
//! finite difference of f(beta) = L_bridge(w - eta * (mu * buf + grad_w L_train(w, beta) + wd * w), beta)
//! on a tiny ResNet-14 teacher / ResNet-8 student pair, with w' built by hand from PyTorch's SGD
//! formulas as tests/hypergradient.rs does for DARTS. The student-to-teacher path is the cross-entropy
//! one, which reaches beta only through w', and the check fails if the Hessian term is left out.
//!
//! Smoothness, as tests/hypergradient.rs needs it from its kink-free supernet: the student's BatchNorms
//! run on batch statistics in every pass (the task's training behaviour, smooth in the weights), but its
//! ReLUs are not smooth, and through the teacher-to-student path (A_i fed to the student's later
//! stages) their on/off pattern in grad_w L_train depends on beta. With a freshly initialised student,
//! f jumps (finite differences of stages 1 and 2 changed sign between h = 0.003, 0.01 and 0.03) and
//! DARTS's eps-step Hessian-vector product crosses the same kinks. So every student BatchNorm gets
//! scale 0.25 and shift 1 (four standard deviations): every ReLU stays on, the student is smooth, and
//! the check asserts that h = 0.01 and 0.03 agree. The teacher keeps its ReLUs: its on/off pattern
//! depends on the student's weights only, never on beta, and it runs on frozen running statistics.

mod common;

use burn::backend::Flex;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::dfa::{
    arch_grad, arch_with, fixed_batches, linear_relus, softmax_weights, tiny_student, tiny_task, tiny_teacher,
};
use common::{Cpu, softmax_step_settings, temp_dir};
use kdnas::search::bilevel::unrolled_arch_grad;
use kdnas::search::run::optimisers;
use kdnas::search::{SearchConfig, SearchMode, SearchTask};
use kdnas::tasks::dfa::{DfaLosses, DfaStudent, StudentToTeacher};
use std::collections::HashMap;

const ETA: f64 = 0.5;
const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f64 = 0.2;
/// Learning rate of the real step taken first, so the momentum buffer is non-zero.
const FIRST_LR: f64 = 0.05;
/// Scale and shift of every BatchNorm of the student: its ReLUs stay in their linear part.
const BN_GAMMA: f32 = 0.25;
const BN_BETA: f32 = 1.0;
const SIDE: usize = 8;
const BATCH: usize = 4;
const LOGITS: [[f32; 2]; 3] = [[0.3, -0.2], [0.1, -0.4], [-0.5, 0.2]];

/// Host values of every parameter (and running statistic) of a module, by id.
type Values = HashMap<ParamId, Vec<f64>>;

fn to_f64(values: Vec<f32>) -> Vec<f64> {
    values.into_iter().map(f64::from).collect()
}

/// The values of every float tensor of `net`.
fn weights_of(net: &DfaStudent<Cpu>) -> Values {
    struct Read(Values);
    impl ModuleVisitor<Cpu> for Read {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Cpu, D>>) {
            self.0.insert(p.id, to_f64(common::smooth::values(p.val())));
        }
    }
    let mut read = Read(HashMap::new());
    net.visit(&mut read);
    read.0
}

/// The gradients in `grads` of the parameters of `net` that have one.
fn grads_of(net: &DfaStudent<Cpu>, grads: &GradientsParams) -> Values {
    struct Read<'a>(&'a GradientsParams, Values);
    impl ModuleVisitor<Cpu> for Read<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Cpu, D>>) {
            if let Some(g) = self.0.get::<Flex, D>(p.id) {
                self.1.insert(p.id, to_f64(common::smooth::values(g)));
            }
        }
    }
    let mut read = Read(grads, HashMap::new());
    net.visit(&mut read);
    read.1
}

/// `net` with the parameters named in `values` replaced (same ids); the others kept.
fn with_values(net: &DfaStudent<Cpu>, values: &Values) -> DfaStudent<Cpu> {
    struct Write<'a>(&'a Values);
    impl ModuleMapper<Cpu> for Write<'_> {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<Cpu, D>>) -> Param<Tensor<Cpu, D>> {
            let (id, tensor, mapper) = p.consume();
            let out = match self.0.get(&id) {
                Some(v) => {
                    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                    Tensor::from_data(TensorData::new(data, tensor.shape()), &tensor.device()).require_grad()
                }
                None => tensor,
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    net.clone().map(&mut Write(values))
}

fn loss_grads(net: &DfaStudent<Cpu>, loss: kdnas::run::TaskLoss<Cpu>) -> Values {
    grads_of(net, &GradientsParams::from_module(&mut loss.total.backward(), net))
}

#[test]
fn second_order_beta_gradient_matches_finite_difference() {
    let _guard = common::serial();
    let dir = temp_dir("dfa-hypergradient");
    let teacher = tiny_teacher(&dir, 14, SIDE);
    let losses = DfaLosses { lambda: 1.0, student_to_teacher: StudentToTeacher::CrossEntropy, ..DfaLosses::default() };
    assert!(losses.bridges_in_weight_loss && losses.gamma_ts == 1.0 && losses.gamma_st == 1.0);
    let task = tiny_task(&teacher, losses, BATCH, SIDE);
    let (train, val) = fixed_batches(&task, BATCH);
    let student = tiny_student(&task, 8, 5);
    let start = DfaStudent { student: linear_relus(student.student, BN_GAMMA, BN_BETA), ..student };
    let ids: Vec<ParamId> = (0..3).map(|_| ParamId::new()).collect();
    let beta: Vec<f32> = LOGITS.concat();
    let arch_at = |flat: &[f32]| arch_with(&ids, &flat.chunks(2).map(<[f32]>::to_vec).collect::<Vec<_>>());
    let arch = arch_at(&beta);

    // One real step first, so the momentum buffer is PyTorch's first one: buf = g0 + wd * w0.
    let config = SearchConfig { w_momentum: MOMENTUM, w_weight_decay: WEIGHT_DECAY, ..SearchConfig::default() };
    let mut opt = optimisers::<Cpu>(&config);
    let loss = task.weight_loss(&start, &softmax_weights(&arch.clone().no_grad()), &train);
    let first_grads = GradientsParams::from_module(&mut loss.total.backward(), &start);
    let g0 = grads_of(&start, &first_grads);
    let w0 = weights_of(&start);
    let net = opt.weights.step(start.clone(), &first_grads, FIRST_LR);
    let buffer: Values =
        g0.iter().map(|(id, g)| (*id, g.iter().zip(&w0[id]).map(|(g, w)| g + WEIGHT_DECAY * w).collect())).collect();
    let w = weights_of(&net);

    let settings = softmax_step_settings(SearchMode::SecondOrder, ETA, 0.0);
    let (grads, _) = unrolled_arch_grad(&task, &net, &arch, &mut opt, &train, &val, &settings).unwrap();
    let analytic: Vec<f64> = to_f64(arch_grad(&grads, &arch));

    // w' = w - eta (mu buf + g + wd w) for every parameter with a gradient, built by hand.
    let unrolled = |logits: &[f32], mu: f64, wd: f64| -> DfaStudent<Cpu> {
        let g = loss_grads(&net, task.weight_loss(&net, &softmax_weights(&arch_at(logits)), &train));
        let values: Values = g
            .iter()
            .map(|(id, g)| {
                let next = (0..g.len()).map(|k| w[id][k] - ETA * (mu * buffer[id][k] + g[k] + wd * w[id][k])).collect();
                (*id, next)
            })
            .collect();
        with_values(&net, &values)
    };
    let f = |logits: &[f32], mu: f64, wd: f64| -> f64 {
        let loss = task.arch_loss(&unrolled(logits, mu, wd), &softmax_weights(&arch_at(logits)), &val);
        loss.total.into_scalar().elem::<f32>() as f64
    };
    let numeric_with = |h: f32, mu: f64, wd: f64| -> Vec<f64> {
        (0..beta.len())
            .map(|k| {
                let (mut plus, mut minus) = (beta.clone(), beta.clone());
                plus[k] += h;
                minus[k] -= h;
                (f(&plus, mu, wd) - f(&minus, mu, wd)) / (2.0 * h as f64)
            })
            .collect()
    };
    let numeric = |mu: f64, wd: f64| numeric_with(1e-2, mu, wd);
    // Without the Hessian term: d L_bridge(w'(beta0), beta) / d beta with w' held fixed.
    let held = unrolled(&beta, MOMENTUM, WEIGHT_DECAY);
    let loss = task.arch_loss(&held.no_grad(), &softmax_weights(&arch), &val);
    let direct = to_f64(arch_grad(&GradientsParams::from_module(&mut loss.total.backward(), &arch), &arch));

    let reference = numeric(MOMENTUM, WEIGHT_DECAY);
    let max_diff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let max_grad = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
    // Tolerance: 0.5% of the largest gradient entry (f32 losses, h = 0.01, DARTS's eps = 0.01 / ||v||).
    let tolerance = 0.005 * max_grad;
    let err = max_diff(&reference, &analytic);
    let without_hessian = max_diff(&reference, &direct);
    let without_momentum = max_diff(&reference, &numeric(0.0, WEIGHT_DECAY));
    let without_decay = max_diff(&reference, &numeric(MOMENTUM, 0.0));
    // f is smooth at the scale of h (no ReLU changes side): a step three times larger agrees.
    let roughness = max_diff(&reference, &numeric_with(3e-2, MOMENTUM, WEIGHT_DECAY));
    eprintln!("reference {reference:?}\nanalytic  {analytic:?}\ndirect    {direct:?}");
    eprintln!(
        "err {err:.3e} tol {tolerance:.3e}; h = 0.01 vs 0.03 {roughness:.3e}; effect of the Hessian term \
         {without_hessian:.3e}, of momentum {without_momentum:.3e}, of decay {without_decay:.3e}"
    );
    assert!(max_grad > 1e-3, "gradient too small to test: {max_grad}");
    assert!(roughness < tolerance, "f is not smooth enough for the check: {roughness:.3e}");
    assert!(err < tolerance, "max |numeric - analytic| = {err:.3e} >= {tolerance:.3e}");
    assert!(without_hessian > 5.0 * tolerance, "the Hessian term must matter ({without_hessian:.3e})");
    assert!(without_momentum > 5.0 * tolerance, "momentum must matter ({without_momentum:.3e})");
    assert!(without_decay > 5.0 * tolerance, "weight decay must matter ({without_decay:.3e})");
}
