//! Planted-op recovery: every edge of a small space gets a known op; targets are that op applied to
//! random inputs; the search (first-order DARTS, softmax relaxation, MSE) must put its largest
//! architecture weight on the planted op of every edge.

mod common;

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use common::{Cpu, run_fresh_search, space, temp_dir};
use kdnas::export::{DeriveRule, Genotype};
use kdnas::ops::conv2d::Op2d;
use kdnas::ops::{CandidateOp, OpMode};
use kdnas::run::TaskLoss;
use kdnas::search::{SearchConfig, SearchMode, SearchTask, Split};
use kdnas::space::ArchGraph;
use kdnas::supernet::darts_cell::MixedOp2d;
use kdnas::supernet::{ArchParams, ArchWeights};
use rand::rngs::StdRng;

const SPACE: &str = r#"
name = "planted"
catalogue = "conv2d"
[op_sets]
free = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect"]
[[cell]]
name = "c"
inputs = ["a", "b"]
  [[cell.node]]
  name = "n0"
  from = ["a", "b"]
  ops = "free"
  [[cell.node]]
  name = "n1"
  from = ["a", "b", "n0"]
  ops = "free"
"#;

/// The planted op of each edge, in the space's edge order.
const PLANTED: [&str; 5] = ["max_pool_3x3", "skip_connect", "avg_pool_3x3", "none", "max_pool_3x3"];

/// One mixed op per edge of the cell (no trainable weights: the candidates are parameter-free).
#[derive(Module, Debug)]
struct EdgeSupernet<B: Backend> {
    edges: Vec<MixedOp2d<B>>,
}

/// Each example: one input per edge `[edges, n, c, h, w]` and the planted outputs.
struct PlantedTask {
    arch: ArchGraph,
    inputs: Vec<Tensor<Cpu, 4>>,
    targets: Vec<Tensor<Cpu, 4>>,
}

impl SearchTask<Cpu> for PlantedTask {
    type Net = EdgeSupernet<Cpu>;
    type Batch = Vec<(Tensor<Cpu, 4>, Tensor<Cpu, 4>)>;
    fn train_len(&self) -> usize {
        64
    }
    fn val_len(&self) -> usize {
        64
    }
    fn batch(&self, _split: Split, indices: &[usize], _rng: &mut StdRng) -> Self::Batch {
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<Cpu, 1, burn::tensor::Int>::from_data(
            burn::tensor::TensorData::new(idx, [indices.len()]),
            &Default::default(),
        );
        self.inputs
            .iter()
            .zip(&self.targets)
            .map(|(x, y)| (x.clone().select(0, idx.clone()), y.clone().select(0, idx.clone())))
            .collect()
    }
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<Cpu>, batch: &Self::Batch) -> TaskLoss<Cpu> {
        let cell = &self.arch.cells[0];
        let mut total: Option<Tensor<Cpu, 1>> = None;
        for ((e, op), (x, y)) in cell.edges_in_order().into_iter().zip(&net.edges).zip(batch) {
            let slot = cell.graph[e].choice.expect("every edge is a choice");
            let row = weights.groups[slot.group].clone().slice([slot.row..slot.row + 1, 0..4]).reshape([4]);
            let err = (op.forward(x.clone(), Some(row), None) - y.clone()).square().mean().reshape([1]);
            total = Some(match total {
                Some(t) => t + err,
                None => err,
            });
        }
        let total = total.expect("edges");
        TaskLoss { total: total.clone(), terms: vec![("mse", total)], correct: None, count: 16 }
    }
}

#[test]
fn search_recovers_planted_ops() {
    let device = Default::default();
    let arch_graph = space(SPACE);
    let cell = &arch_graph.cells[0];
    Cpu::seed(&device, 11);
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    let mut edges = Vec::new();
    for (e, planted) in cell.edges_in_order().into_iter().zip(PLANTED) {
        let x = Tensor::<Cpu, 4>::random([64, 2, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let y = match planted {
            "none" => x.zeros_like(),
            op => Op2d::<Cpu>::build(op, 2, 1, OpMode::Derived, &device).unwrap().forward(x.clone()),
        };
        inputs.push(x);
        targets.push(y);
        edges.push(MixedOp2d::new(&cell.graph[e], 2, OpMode::Derived, &device).unwrap());
    }
    let task = PlantedTask { arch: arch_graph.clone(), inputs, targets };
    let config = SearchConfig {
        epochs: 15,
        batch_size: 16,
        mode: SearchMode::FirstOrder,
        arch_lr: 0.05,
        arch_weight_decay: 0.0,
        ..SearchConfig::default()
    };
    let dir = temp_dir("planted");
    let outcome =
        run_fresh_search(&dir, &config, &task, EdgeSupernet { edges }, ArchParams::new(&arch_graph, &device), 5)
            .unwrap();
    let last = &outcome.state.history.last().unwrap().extras.arch_weights;
    let genotype = Genotype::derive(&arch_graph, last, DeriveRule::Argmax);
    let picked: Vec<&str> = genotype.choices.iter().map(|c| c.argmax.as_str()).collect();
    assert_eq!(picked, PLANTED, "weights: {:?}", genotype.choices.iter().map(|c| &c.weights).collect::<Vec<_>>());
    let losses: Vec<f64> = outcome.state.history.iter().map(|r| r.extras.val_loss).collect();
    assert!(losses.last() < losses.first(), "validation loss must fall: {losses:?}");
}
