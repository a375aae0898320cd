//! A tiny smooth supernet and task for gradient checks of the search step: two layers, each a mixed op
//! over {tanh, sigmoid, identity} of a linear map. ReLU and max-pool kinks of the image supernet make
//! finite differences jump when a perturbation flips an activation; this one has none.

use super::Cpu;
use burn::module::{Module, Param, ParamId};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use kdnas::metrics::cross_entropy;
use kdnas::run::TaskLoss;
use kdnas::search::{SearchTask, Split};
use kdnas::supernet::{ArchParams, ArchWeights};
use rand::rngs::StdRng;

/// Two layers of mixed smooth ops; `[n, 4] -> [n, 3]` logits.
#[derive(Module, Debug)]
pub struct SmoothSupernet<B: Backend> {
    /// First linear map `[4, 4]`.
    pub w1: Param<Tensor<B, 2>>,
    /// Second linear map `[4, 3]`.
    pub w2: Param<Tensor<B, 2>>,
}

impl<B: Backend> SmoothSupernet<B> {
    fn mixed(x: Tensor<B, 2>, w: Tensor<B, 1>) -> Tensor<B, 2> {
        let pick = |i: usize| w.clone().slice([i..i + 1]).reshape([1, 1]);
        tanh(x.clone()) * pick(0) + sigmoid(x.clone()) * pick(1) + x * pick(2)
    }

    /// `[n, 4] -> [n, 3]` logits; `weights` is `[2 choices, 3 candidates]`.
    pub fn forward(&self, x: Tensor<B, 2>, weights: Tensor<B, 2>) -> Tensor<B, 2> {
        let row = |r: usize| weights.clone().slice([r..r + 1, 0..3]).reshape([3]);
        let h = Self::mixed(x.matmul(self.w1.val()), row(0));
        Self::mixed(h.matmul(self.w2.val()), row(1))
    }

    /// A network with the given weight values (row-major `[4, 4]` and `[4, 3]`) and parameter ids.
    pub fn from_values(ids: [ParamId; 2], w1: Vec<f32>, w2: Vec<f32>) -> Self {
        let device = Default::default();
        let t1 = Tensor::<B, 2>::from_data(TensorData::new(w1, [4, 4]), &device);
        let t2 = Tensor::<B, 2>::from_data(TensorData::new(w2, [4, 3]), &device);
        Self { w1: Param::initialized(ids[0], t1), w2: Param::initialized(ids[1], t2) }
    }
}

/// A batch of 4 features and a class out of 3.
pub type SmoothBatch = (Tensor<Cpu, 2>, Tensor<Cpu, 1, Int>);

/// A fixed training batch and a fixed validation batch of 8 examples.
pub struct SmoothTask {
    /// Weight-training batch.
    pub train: SmoothBatch,
    /// Architecture-training batch.
    pub val: SmoothBatch,
}

impl SmoothTask {
    /// The task with batches drawn from seeds 1 (train) and 2 (val).
    pub fn new() -> Self {
        Self { train: batch(1), val: batch(2) }
    }
}

impl SearchTask<Cpu> for SmoothTask {
    type Net = SmoothSupernet<Cpu>;
    type Batch = SmoothBatch;
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

/// Architecture logits `[2, 3]` with the given values under parameter id `id`.
pub fn arch_with(id: ParamId, values: &[f32]) -> ArchParams<Cpu> {
    let t = Tensor::<Cpu, 2>::from_data(TensorData::new(values.to_vec(), [2, 3]), &Default::default()).require_grad();
    ArchParams { logits: vec![Param::initialized(id, t)] }
}

/// 8 examples of 4 normal features from burn's RNG seeded with `seed`, classes 0,1,2,0,1,2,0,1.
fn batch(seed: u64) -> SmoothBatch {
    let device = Default::default();
    Cpu::seed(&device, seed);
    let x = Tensor::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2, 0, 1], [8]), &device);
    (x, y)
}

/// A network with normal(0, 0.8) weights from seed 3.
pub fn smooth_net() -> SmoothSupernet<Cpu> {
    let device = Default::default();
    Cpu::seed(&device, 3);
    SmoothSupernet {
        w1: Param::from_tensor(Tensor::random([4, 4], Distribution::Normal(0.0, 0.8), &device)),
        w2: Param::from_tensor(Tensor::random([4, 3], Distribution::Normal(0.0, 0.8), &device)),
    }
}

/// The values of a tensor, row-major.
pub fn values<const D: usize, B: Backend>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}
