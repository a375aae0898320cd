//! The second-order architecture gradient (virtual step with momentum and weight decay, finite-difference
//! Hessian-vector product at w ± eps v, division by 2 eps) equals a central finite difference of
//! f(alpha) = L_val(w - eta * (mu * buf + grad_w L_train(w, alpha) + wd * w), alpha).
//!
//! The supernet here is a tiny smooth one (mixed tanh / sigmoid / identity candidates on two layers):
//! ReLU and max-pool kinks of the image supernet make finite differences of f jump when a weight
//! perturbation of DARTS's size (0.01) flips an activation, which would test the kinks, not the loop.

mod common;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use common::Cpu;
use kdnas::metrics::cross_entropy;
use kdnas::search::bilevel::{StepSettings, unrolled_arch_grad};
use kdnas::search::run::optimisers;
use kdnas::search::sgd::Sgd;
use kdnas::search::{SearchConfig, SearchMode, SearchTask, Split, TaskLoss};
use kdnas::supernet::{ArchParams, ArchWeights, Relaxation};
use rand::rngs::StdRng;

const ETA: f64 = 2.0;
const MOMENTUM: f64 = 0.9;
const WEIGHT_DECAY: f64 = 3e-4;

/// Two layers, each a mixed op over {tanh, sigmoid, identity} of a linear map.
#[derive(Module, Debug)]
struct SmoothSupernet<B: Backend> {
    w1: Param<Tensor<B, 2>>,
    w2: Param<Tensor<B, 2>>,
}

impl<B: Backend> SmoothSupernet<B> {
    fn mixed(x: Tensor<B, 2>, w: Tensor<B, 1>) -> Tensor<B, 2> {
        let pick = |i: usize| w.clone().slice([i..i + 1]).reshape([1, 1]);
        tanh(x.clone()) * pick(0) + sigmoid(x.clone()) * pick(1) + x * pick(2)
    }

    /// `[n, 4] -> [n, 3]` logits; `weights` is `[2 choices, 3 candidates]`.
    fn forward(&self, x: Tensor<B, 2>, weights: Tensor<B, 2>) -> Tensor<B, 2> {
        let row = |r: usize| weights.clone().slice([r..r + 1, 0..3]).reshape([3]);
        let h = Self::mixed(x.matmul(self.w1.val()), row(0));
        Self::mixed(h.matmul(self.w2.val()), row(1))
    }
}

struct SmoothTask {
    train: (Tensor<Cpu, 2>, Tensor<Cpu, 1, Int>),
    val: (Tensor<Cpu, 2>, Tensor<Cpu, 1, Int>),
}

impl SearchTask<Cpu> for SmoothTask {
    type Net = SmoothSupernet<Cpu>;
    type Batch = (Tensor<Cpu, 2>, Tensor<Cpu, 1, Int>);
    fn train_len(&self) -> usize {
        8
    }
    fn val_len(&self) -> usize {
        8
    }
    fn batch(&self, split: Split, _indices: &[usize], _rng: &mut StdRng) -> Self::Batch {
        match split {
            Split::Train => self.train.clone(),
            Split::Val => self.val.clone(),
        }
    }
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<Cpu>, batch: &Self::Batch) -> TaskLoss<Cpu> {
        let ce = cross_entropy(net.forward(batch.0.clone(), weights.groups[0].clone()), batch.1.clone());
        TaskLoss { total: ce.clone(), terms: vec![("cross_entropy", ce)], correct: None, count: 8 }
    }
}

fn arch_with(id: burn::module::ParamId, values: &[f32]) -> ArchParams<Cpu> {
    let t = Tensor::<Cpu, 2>::from_data(TensorData::new(values.to_vec(), [2, 3]), &Default::default()).require_grad();
    ArchParams { logits: vec![Param::initialized(id, t)] }
}

fn batch(seed: u64) -> (Tensor<Cpu, 2>, Tensor<Cpu, 1, Int>) {
    let device = Default::default();
    Cpu::seed(&device, seed);
    let x = Tensor::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2, 0, 1], [8]), &device);
    (x, y)
}

#[test]
fn second_order_gradient_matches_finite_difference() {
    let device = Default::default();
    let task = SmoothTask { train: batch(1), val: batch(2) };
    Cpu::seed(&device, 3);
    let net = SmoothSupernet::<Cpu> {
        w1: Param::from_tensor(Tensor::random([4, 4], Distribution::Normal(0.0, 0.8), &device)),
        w2: Param::from_tensor(Tensor::random([4, 3], Distribution::Normal(0.0, 0.8), &device)),
    };
    let alpha = [0.3f32, -0.2, 0.1, -0.4, 0.5, 0.0];
    let id = burn::module::ParamId::new();
    let arch = arch_with(id, &alpha);
    let relaxation = Relaxation::Softmax;
    let config = SearchConfig { w_momentum: MOMENTUM, w_weight_decay: WEIGHT_DECAY, ..SearchConfig::default() };
    let mut opt = optimisers::<Cpu>(&config);
    // One real weight step first, so the momentum buffer is non-zero in the virtual step.
    let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(0);
    let train = task.batch(Split::Train, &[], &mut rng);
    let val = task.batch(Split::Val, &[], &mut rng);
    let loss = task.weight_loss(&net, &relaxation.weights(&arch.clone().no_grad(), None, 0, 1), &train);
    let mut g = loss.total.backward();
    let first_grads = GradientsParams::from_module(&mut g, &net);
    let net = opt.sgd.step(net, &first_grads, 0.1);
    let mut buffer_twin = Sgd::<Cpu>::new(MOMENTUM, WEIGHT_DECAY);

    let settings = StepSettings {
        mode: SearchMode::SecondOrder,
        relaxation: &relaxation,
        noise: None,
        w_lr: ETA,
        arch_lr: 0.0,
        grad_clip: 5.0,
        epoch: 0,
        epochs: 1,
        step: 0,
    };
    let velocity_file = common::temp_dir("hypergrad").join("v.bin");
    opt.sgd.save(&velocity_file).unwrap();
    buffer_twin.load(&velocity_file, &device).unwrap();
    let (grads, _) = unrolled_arch_grad(&task, &net, &arch, &mut opt, &train, &val, &settings).unwrap();
    let analytic: Vec<f32> = grads.get::<burn::backend::Flex, 2>(id).unwrap().into_data().into_vec().unwrap();

    // f(alpha) evaluated independently: virtual step with the same momentum buffer, then L_val.
    let mut f = |values: &[f32]| -> f64 {
        let a = arch_with(id, values);
        let loss = task.weight_loss(&net, &relaxation.weights(&a, None, 0, 1), &train);
        let mut g = loss.total.backward();
        let unrolled = buffer_twin.virtual_step(&net, &GradientsParams::from_module(&mut g, &net), ETA);
        let v: f32 = task.weight_loss(&unrolled, &relaxation.weights(&a, None, 0, 1), &val).total.into_scalar().elem();
        v as f64
    };
    let first_order: Vec<f32> = {
        let loss = task.weight_loss(&net, &relaxation.weights(&arch, None, 0, 1), &val);
        let mut g = loss.total.backward();
        GradientsParams::from_module(&mut g, &arch)
            .get::<burn::backend::Flex, 2>(id)
            .unwrap()
            .into_data()
            .into_vec()
            .unwrap()
    };
    let h = 1e-2f32;
    let (mut max_err, mut max_grad, mut max_unrolled_effect) = (0.0f64, 0.0f64, 0.0f64);
    for k in 0..alpha.len() {
        let mut plus = alpha;
        plus[k] += h;
        let mut minus = alpha;
        minus[k] -= h;
        let numeric = (f(&plus) - f(&minus)) / (2.0 * h as f64);
        max_err = max_err.max((numeric - analytic[k] as f64).abs());
        max_grad = max_grad.max(numeric.abs());
        max_unrolled_effect = max_unrolled_effect.max((numeric - first_order[k] as f64).abs());
    }
    // Tolerance: 0.5% of the largest gradient entry (f32 losses, h = 0.01, DARTS's eps = 0.01 / ||v||);
    // measured: ~1e-5 absolute against gradients of ~0.15.
    let tolerance = 0.005 * max_grad;
    eprintln!("max_err {max_err:.3e} max_grad {max_grad:.3e} unrolled {max_unrolled_effect:.3e}");
    assert!(max_grad > 1e-2, "gradient too small to test: {max_grad}");
    assert!(max_err < tolerance, "max |numeric - analytic| = {max_err:.3e} >= {tolerance:.3e}");
    assert!(
        max_unrolled_effect > 5.0 * tolerance,
        "the unrolled term ({max_unrolled_effect:.3e}) must matter, or the test could not fail"
    );
}
