//! The image search task with instruments for loop tests (it records the example indices of every
//! training batch, and can add a `poison` loss term that turns NaN from a given loss call on), and a
//! tiny search to run it in.

use super::Cpu;
use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use kdnas::models::{CellNetwork, NetworkConfig};
use kdnas::ops::conv2d::OpMode;
use kdnas::run::TaskLoss;
use kdnas::search::task::Evaluation;
use kdnas::search::{SearchTask, Split};
use kdnas::supernet::{ArchParams, ArchWeights};
use kdnas::tasks::image::ImageSearchTask;
use rand::rngs::StdRng;
use std::cell::{Cell, RefCell};

/// [`ImageSearchTask`] with recording and optional poisoning.
pub struct InstrumentedTask {
    /// The task doing the work.
    pub inner: ImageSearchTask<Cpu>,
    /// Example indices of every training batch assembled so far.
    pub train_batches: RefCell<Vec<Vec<usize>>>,
    /// Losses computed so far.
    pub calls: Cell<usize>,
    /// From this loss call on (1-based), the `poison` term is NaN; `None`: no poison term.
    pub poison_from: Option<usize>,
}

impl InstrumentedTask {
    /// `inner` with recording only.
    pub fn new(inner: ImageSearchTask<Cpu>) -> Self {
        Self { inner, train_batches: RefCell::new(Vec::new()), calls: Cell::new(0), poison_from: None }
    }

    /// `inner` whose losses turn NaN from the `call`-th on.
    pub fn poisoned_from(inner: ImageSearchTask<Cpu>, call: usize) -> Self {
        Self { poison_from: Some(call), ..Self::new(inner) }
    }
}

impl SearchTask<Cpu> for InstrumentedTask {
    type Net = CellNetwork<Cpu>;
    type Batch = <ImageSearchTask<Cpu> as SearchTask<Cpu>>::Batch;
    fn train_len(&self) -> usize {
        self.inner.train_len()
    }
    fn val_len(&self) -> usize {
        self.inner.val_len()
    }
    fn batch(&self, split: Split, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        if split == Split::Train {
            self.train_batches.borrow_mut().push(indices.to_vec());
        }
        self.inner.batch(split, indices, rng)
    }
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<Cpu>, batch: &Self::Batch) -> TaskLoss<Cpu> {
        let mut loss = self.inner.weight_loss(net, weights, batch);
        self.calls.set(self.calls.get() + 1);
        if let Some(from) = self.poison_from {
            let value = if self.calls.get() >= from { f32::NAN } else { 0.0 };
            let poison = Tensor::<Cpu, 1>::from_floats([value], &Default::default());
            loss.total = loss.total + poison.clone();
            loss.terms.push(("poison", poison));
        }
        loss
    }
    fn evaluate_val(
        &self,
        net: &<Self::Net as AutodiffModule<Cpu>>::InnerModule,
        weights: &ArchWeights<<Cpu as AutodiffBackend>::InnerBackend>,
    ) -> Option<Evaluation> {
        self.inner.evaluate_val(net, weights)
    }
}

/// A tiny search: the quickstart space at C=2 with 3 cells, its architecture weights, and [`InstrumentedTask`]
/// over `n` random 6x6 one-channel images of 3 classes per split (`poison_from` as in [`InstrumentedTask`]).
pub fn tiny_search(n: usize, poison_from: Option<usize>) -> (CellNetwork<Cpu>, ArchParams<Cpu>, InstrumentedTask) {
    let device = Default::default();
    let space = super::quickstart_space();
    let network = NetworkConfig { channels: 2, layers: 3, stem_multiplier: 1, reduction_layers: None };
    let net = CellNetwork::<Cpu>::new(&space, &network, 1, 3, OpMode::Search, &device).unwrap();
    let arch = ArchParams::<Cpu>::new(&space, &device);
    let inner = ImageSearchTask::<Cpu> {
        train: super::random_images(n, 1, 6, 3, 1),
        val: super::random_images(n, 1, 6, 3, 2),
        augment: None,
        device,
    };
    (net, arch, InstrumentedTask { poison_from, ..InstrumentedTask::new(inner) })
}
