//! A loss term that turns NaN stops the search with an error naming the epoch, step and term, and the
//! last good checkpoint (end of the previous epoch) is left untouched.

mod common;

use burn::tensor::Tensor;
use common::{Cpu, quickstart_space, random_images, temp_dir};
use kdnas::KdnasError;
use kdnas::ops::conv2d::OpMode;
use kdnas::search::{SearchConfig, SearchRun, SearchTask, Split, TaskLoss, run_search};
use kdnas::supernet::{ArchParams, ArchWeights, CellNetwork, NetworkConfig};
use kdnas::tasks::image::ImageSearchTask;
use rand::rngs::StdRng;
use std::cell::Cell;

/// The image task with an extra `poison` term that becomes NaN from the `poison_from`-th loss on.
struct PoisonedTask {
    inner: ImageSearchTask<Cpu>,
    calls: Cell<usize>,
    poison_from: usize,
}

impl SearchTask<Cpu> for PoisonedTask {
    type Net = CellNetwork<Cpu>;
    type Batch = <ImageSearchTask<Cpu> as SearchTask<Cpu>>::Batch;
    fn train_len(&self) -> usize {
        self.inner.train_len()
    }
    fn val_len(&self) -> usize {
        self.inner.val_len()
    }
    fn batch(&self, split: Split, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        self.inner.batch(split, indices, rng)
    }
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<Cpu>, batch: &Self::Batch) -> TaskLoss<Cpu> {
        let mut loss = self.inner.weight_loss(net, weights, batch);
        self.calls.set(self.calls.get() + 1);
        let value = if self.calls.get() >= self.poison_from { f32::NAN } else { 0.0 };
        let poison = Tensor::<Cpu, 1>::from_floats([value], &Default::default());
        loss.total = loss.total + poison.clone();
        loss.terms.push(("poison", poison));
        loss
    }
}

#[test]
fn nan_stops_the_run_and_keeps_the_last_checkpoint() {
    let device = Default::default();
    let space = quickstart_space();
    let network = NetworkConfig { channels: 2, layers: 3, stem_multiplier: 1, reduction_layers: None };
    let net = CellNetwork::<Cpu>::new(&space, &network, 1, 3, OpMode::Search, &device).unwrap();
    let arch = ArchParams::<Cpu>::new(&space, &device);
    // First order: 2 losses per step (arch + weight), 2 steps per epoch -> call 6 is epoch 2, step 1.
    let inner = ImageSearchTask::<Cpu> {
        train: random_images(8, 1, 6, 3, 1),
        val: random_images(8, 1, 6, 3, 2),
        augment: None,
        device,
    };
    let task = PoisonedTask { inner, calls: Cell::new(0), poison_from: 6 };
    let config = SearchConfig { epochs: 3, batch_size: 4, ..SearchConfig::default() };
    let dir = temp_dir("nan");
    let run = SearchRun {
        config: &config,
        seed: 0,
        run_dir: &dir,
        resume: false,
        progress: false,
        stop_after: None,
        device: &device,
        fingerprint: &kdnas::manifest::Fingerprint::new(&config, &[], &net).unwrap(),
    };
    let err = run_search(&task, net, arch, &run).err().expect("the NaN must stop the run");
    assert!(matches!(err, KdnasError::NonFinite { epoch: 1, step: 0, ref term, .. } if term == "poison"), "{err:?}");
    assert!(err.to_string().contains("epoch 2, step 1 (1-based): term `poison` = NaN"), "{err}");
    let state: kdnas::search::SearchState =
        serde_json::from_slice(&std::fs::read(dir.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state.next_epoch, 1, "the checkpoint of epoch 1 is kept");
}
