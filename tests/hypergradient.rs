//! The second-order architecture gradient (virtual step with momentum and weight decay, finite-difference
//! Hessian-vector product at w ± eps v, division by 2 eps) equals a central finite difference of
//! f(alpha) = L_val(w - eta * (mu * buf + grad_w L_train(w, alpha) + wd * w), alpha),
//! where the reference builds w' by hand from PyTorch's formulas (not with kdnas's virtual step), and
//! momentum and weight decay are large enough that leaving either out would fail the test.

mod common;

use burn::backend::Flex;
use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::ElementConversion;
use common::smooth::{SmoothSupernet, SmoothTask, arch_with, smooth_net, values};
use common::{Cpu, softmax_step_settings};
use kdnas::search::bilevel::unrolled_arch_grad;
use kdnas::search::run::optimisers;
use kdnas::search::{SearchConfig, SearchMode, SearchTask};
use kdnas::supernet::Relaxation;

const ETA: f64 = 2.0;
const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f64 = 0.05;
/// Learning rate of the real step taken first, so the momentum buffer is non-zero.
const FIRST_LR: f64 = 0.1;

/// Gradient of `loss` with respect to both weight matrices of `net`, as values.
fn weight_grads(net: &SmoothSupernet<Cpu>, grads: &GradientsParams) -> [Vec<f32>; 2] {
    [values(grads.get::<Flex, 2>(net.w1.id).unwrap()), values(grads.get::<Flex, 2>(net.w2.id).unwrap())]
}

#[test]
fn second_order_gradient_matches_finite_difference() {
    let _guard = common::serial();
    let task = SmoothTask::new();
    let start = smooth_net();
    let alpha = [0.3f32, -0.2, 0.1, -0.4, 0.5, 0.0];
    let id = ParamId::new();
    let arch = arch_with(id, &alpha);
    let softmax = |a: &kdnas::supernet::ArchParams<Cpu>| Relaxation::Softmax.weights(a, None, 0, 1);
    let config = SearchConfig { w_momentum: MOMENTUM, w_weight_decay: WEIGHT_DECAY, ..SearchConfig::default() };
    let mut opt = optimisers::<Cpu>(&config);
    let loss = task.weight_loss(&start, &softmax(&arch.clone().no_grad()), &task.train);
    let first_grads = GradientsParams::from_module(&mut loss.total.backward(), &start);
    let g0 = weight_grads(&start, &first_grads);
    let w0 = [values(start.w1.val()), values(start.w2.val())];
    let net = opt.weights.step(start.clone(), &first_grads, FIRST_LR);
    // PyTorch's first momentum step: buf = g + wd * w.
    let buffer: Vec<Vec<f64>> =
        (0..2).map(|i| g0[i].iter().zip(&w0[i]).map(|(&g, &w)| g as f64 + WEIGHT_DECAY * w as f64).collect()).collect();
    let w = [values(net.w1.val()), values(net.w2.val())];

    let settings = softmax_step_settings(SearchMode::SecondOrder, ETA, 0.0);
    let (grads, _) = unrolled_arch_grad(&task, &net, &arch, &mut opt, &task.train, &task.val, &settings).unwrap();
    let analytic = values(grads.get::<Flex, 2>(id).unwrap());

    // f(alpha) with w' = w - eta (mu buf + g + wd w) built by hand.
    let f = |logits: &[f32], mu: f64, wd: f64| -> f64 {
        let a = arch_with(id, logits);
        let loss = task.weight_loss(&net, &softmax(&a), &task.train);
        let g = weight_grads(&net, &GradientsParams::from_module(&mut loss.total.backward(), &net));
        let unrolled: Vec<Vec<f32>> = (0..2)
            .map(|i| {
                (0..w[i].len())
                    .map(|k| {
                        let w = w[i][k] as f64;
                        (w - ETA * (mu * buffer[i][k] + g[i][k] as f64 + wd * w)) as f32
                    })
                    .collect()
            })
            .collect();
        let unrolled =
            SmoothSupernet::<Cpu>::from_values([net.w1.id, net.w2.id], unrolled[0].clone(), unrolled[1].clone());
        let value: f32 = task.weight_loss(&unrolled, &softmax(&a), &task.val).total.into_scalar().elem();
        value as f64
    };
    let numeric = |mu: f64, wd: f64| -> Vec<f64> {
        let h = 1e-2f32;
        (0..alpha.len())
            .map(|k| {
                let (mut plus, mut minus) = (alpha, alpha);
                plus[k] += h;
                minus[k] -= h;
                (f(&plus, mu, wd) - f(&minus, mu, wd)) / (2.0 * h as f64)
            })
            .collect()
    };
    let reference = numeric(MOMENTUM, WEIGHT_DECAY);
    let max_diff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let analytic64: Vec<f64> = analytic.iter().map(|&v| v as f64).collect();
    let max_grad = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
    // Tolerance: 0.5% of the largest gradient entry (f32 losses, h = 0.01, DARTS's eps = 0.01 / ||v||).
    let tolerance = 0.005 * max_grad;
    let err = max_diff(&reference, &analytic64);
    let without_momentum = max_diff(&reference, &numeric(0.0, WEIGHT_DECAY));
    let without_decay = max_diff(&reference, &numeric(MOMENTUM, 0.0));
    eprintln!(
        "err {err:.3e} tol {tolerance:.3e}; effect of momentum {without_momentum:.3e}, of decay {without_decay:.3e}"
    );
    assert!(max_grad > 1e-2, "gradient too small to test: {max_grad}");
    assert!(err < tolerance, "max |numeric - analytic| = {err:.3e} >= {tolerance:.3e}");
    assert!(
        without_momentum > 5.0 * tolerance,
        "momentum must matter ({without_momentum:.3e}) or dropping it could pass"
    );
    assert!(
        without_decay > 5.0 * tolerance,
        "weight decay must matter ({without_decay:.3e}) or dropping it could pass"
    );
}
