//! The weight optimiser against PyTorch's SGD formulas computed by hand, and the search step's dispatch:
//! each mode moves the architecture along its own gradient (first order: L_val at w; second order:
//! through the unrolled step; single level: L_train), which a mode computing another gradient fails.

mod common;

use burn::backend::Flex;
use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use common::smooth::{SmoothBatch, SmoothSupernet, SmoothTask, arch_with, smooth_net, values};
use common::{Cpu, softmax_step_settings};
use kdnas::optim::Sgd;
use kdnas::search::bilevel::{StepSettings, search_step, unrolled_arch_grad};
use kdnas::search::run::optimisers;
use kdnas::search::{SearchConfig, SearchMode, SearchTask};
use kdnas::supernet::{ArchParams, Relaxation};

const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f64 = 0.05;
const ALPHA: [f32; 6] = [0.3, -0.2, 0.1, -0.4, 0.5, 0.0];

/// Both weight matrices of `net`, concatenated.
fn weights(net: &SmoothSupernet<Cpu>) -> Vec<f32> {
    [values(net.w1.val()), values(net.w2.val())].concat()
}

/// Gradients of the cross-entropy on `batch` at `net` with softmax(alpha): the weights' (concatenated)
/// and the gradient record.
fn grads_at(net: &SmoothSupernet<Cpu>, batch: &SmoothBatch) -> (Vec<f32>, GradientsParams) {
    let task = SmoothTask::new();
    let arch = arch_with(ParamId::new(), &ALPHA).no_grad();
    let loss = task.weight_loss(net, &Relaxation::Softmax.weights(&arch, None, 0, 1), batch);
    let grads = GradientsParams::from_module(&mut loss.total.backward(), net);
    let flat = [values(grads.get::<Flex, 2>(net.w1.id).unwrap()), values(grads.get::<Flex, 2>(net.w2.id).unwrap())];
    (flat.concat(), grads)
}

fn assert_close(actual: &[f32], expected: &[f64], what: &str) {
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!((a as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()), "{what}[{k}]: {a} vs {e}");
    }
}

#[test]
fn sgd_and_virtual_step_follow_pytorch_formulas() {
    let _guard = common::serial();
    let task = SmoothTask::new();
    let mut sgd = Sgd::<Cpu>::new(MOMENTUM, WEIGHT_DECAY);
    let net0 = smooth_net();
    let w0 = weights(&net0);
    let (g0, grads0) = grads_at(&net0, &task.train);
    let net1 = sgd.step(net0, &grads0, 0.1);
    // buf = g + wd w; w -= lr buf (PyTorch, dampening 0, first step).
    let buf1: Vec<f64> = g0.iter().zip(&w0).map(|(&g, &w)| g as f64 + WEIGHT_DECAY * w as f64).collect();
    let w1: Vec<f64> = w0.iter().zip(&buf1).map(|(&w, b)| w as f64 - 0.1 * b).collect();
    assert_close(&weights(&net1), &w1, "first step");

    let (g1, grads1) = grads_at(&net1, &task.val);
    // buf' = mu buf + g + wd w; the virtual step uses it without storing it.
    let buf2: Vec<f64> = (0..w1.len()).map(|k| MOMENTUM * buf1[k] + g1[k] as f64 + WEIGHT_DECAY * w1[k]).collect();
    let virtual_net = sgd.virtual_step(&net1, &grads1, 0.3);
    let expected_virtual: Vec<f64> = (0..w1.len()).map(|k| w1[k] - 0.3 * buf2[k]).collect();
    assert_close(&weights(&virtual_net), &expected_virtual, "virtual step");
    let net2 = sgd.step(net1, &grads1, 0.2);
    let expected_second: Vec<f64> = (0..w1.len()).map(|k| w1[k] - 0.2 * buf2[k]).collect();
    assert_close(&weights(&net2), &expected_second, "second step (velocity untouched by the virtual step)");
}

/// Step settings of `mode` with softmax weights, virtual-step rate 2 and architecture rate `arch_lr`.
fn settings(mode: SearchMode, arch_lr: f64) -> StepSettings<'static, Cpu> {
    softmax_step_settings(mode, 2.0, arch_lr)
}

/// The architecture logits after one search step in `mode` (Adam, no weight decay, lr 0.01).
fn alpha_after_step(mode: SearchMode, id: ParamId) -> Vec<f32> {
    let task = SmoothTask::new();
    let config = SearchConfig {
        w_momentum: MOMENTUM,
        w_weight_decay: WEIGHT_DECAY,
        arch_weight_decay: 0.0,
        ..SearchConfig::default()
    };
    let mut opt = optimisers::<Cpu>(&config);
    let (_, arch, _) = search_step(
        &task,
        smooth_net(),
        arch_with(id, &ALPHA),
        &mut opt,
        &task.train,
        Some(&task.val),
        &settings(mode, 0.01),
    )
    .unwrap();
    values(arch.logits[0].val())
}

/// The gradient of the architecture loss each mode should follow.
fn expected_gradient(mode: SearchMode, id: ParamId) -> Vec<f32> {
    let task = SmoothTask::new();
    let arch: ArchParams<Cpu> = arch_with(id, &ALPHA);
    let net = smooth_net();
    let of = |batch: &SmoothBatch| {
        let loss = task.weight_loss(&net.clone().no_grad(), &Relaxation::Softmax.weights(&arch, None, 0, 1), batch);
        values(GradientsParams::from_module(&mut loss.total.backward(), &arch).get::<Flex, 2>(id).unwrap())
    };
    match mode {
        SearchMode::FirstOrder => of(&task.val),
        SearchMode::SingleLevel => of(&task.train),
        SearchMode::SecondOrder => {
            let config = SearchConfig { w_momentum: MOMENTUM, w_weight_decay: WEIGHT_DECAY, ..SearchConfig::default() };
            let mut opt = optimisers::<Cpu>(&config);
            let (g, _) =
                unrolled_arch_grad(&task, &net, &arch, &mut opt, &task.train, &task.val, &settings(mode, 0.0)).unwrap();
            values(g.get::<Flex, 2>(id).unwrap())
        }
    }
}

#[test]
fn each_mode_moves_the_architecture_along_its_own_gradient() {
    let _guard = common::serial();
    let modes = [SearchMode::FirstOrder, SearchMode::SecondOrder, SearchMode::SingleLevel];
    let id = ParamId::new();
    let signs = |v: &[f32]| v.iter().map(|x| x.signum() as i8).collect::<Vec<_>>();
    let expected: Vec<Vec<i8>> = modes.iter().map(|&m| signs(&expected_gradient(m, id))).collect();
    assert!(
        expected[0] != expected[1] && expected[0] != expected[2] && expected[1] != expected[2],
        "the three gradients must differ in sign somewhere, or a wrong dispatch could pass: {expected:?}"
    );
    for (mode, expected) in modes.iter().zip(&expected) {
        let after = alpha_after_step(*mode, id);
        // Adam's first step moves every logit by lr against the sign of its gradient.
        let moved: Vec<i8> = after.iter().zip(ALPHA).map(|(a, b)| -((a - b).signum() as i8)).collect();
        assert_eq!(&moved, expected, "{mode:?} moved the logits along another gradient");
    }
}
