//! All-ops evaluation of hard Gumbel choices on causal 1-D ops: the logits' gradient is the one of
//! `out = sum_j y_j op_j(x)` with straight-through weights (checked against a second computation from
//! each op's output), a planted useful op wins its edge at beta = 0 within a few steps, and the
//! sampled form still passes the task gradient to the logits.

mod common;

use burn::backend::Flex;
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use common::{Cpu, run_fresh_search, space, temp_dir};
use kdnas::ops::causal1d::Op1d;
use kdnas::ops::{CandidateOp, OpMode};
use kdnas::run::TaskLoss;
use kdnas::search::{SearchConfig, SearchMode, SearchTask, Split};
use kdnas::space::{ArchGraph, ChoiceSlot};
use kdnas::supernet::mixed_op::MixedOp;
use kdnas::supernet::{ArchParams, ArchWeights, GumbelNoise, OpEvaluation, Relaxation, TemperatureSchedule};
use rand::rngs::StdRng;

const SPACE: &str = r#"
name = "one_edge"
catalogue = "causal1d"
[op_sets]
few = ["max_pool", "std_cnn_5", "avg_pool", "none"]
[[cell]]
name = "c"
inputs = ["x"]
  [[cell.node]]
  name = "n0"
  from = ["x"]
  ops = "few"
"#;

const CHANNELS: usize = 3;
/// The edge's choice.
const SLOT: ChoiceSlot = ChoiceSlot { group: 0, row: 0 };
const TIME: usize = 8;

fn hard(evaluate: OpEvaluation) -> Relaxation {
    Relaxation::Gumbel { hard: true, temperature: TemperatureSchedule::Linear { start: 1.0, end: 1.0 }, evaluate }
}

fn edge(arch: &ArchGraph) -> MixedOp<Cpu, Op1d<Cpu>, 3> {
    let cell = &arch.cells[0];
    let e = cell.edges_in_order()[0];
    MixedOp::new(&cell.graph[e], CHANNELS, OpMode::Derived, &Default::default()).unwrap()
}

fn host(t: Tensor<Flex, 2>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

#[test]
fn all_ops_gradient_is_the_sum_over_ops_of_their_output_times_the_softmax_jacobian() {
    let device = Default::default();
    let arch_graph = space(SPACE);
    Cpu::seed(&device, 3);
    let op = edge(&arch_graph);
    let arch =
        ArchParams::<Cpu> { logits: vec![Param::from_tensor(Tensor::from_floats([[0.3, -0.2, 0.1, 0.05]], &device))] };
    let noise = GumbelNoise { groups: vec![Tensor::from_floats([[0.0, 1.5, 0.0, 0.0]], &device)] };
    let x = Tensor::<Cpu, 3>::random([2, CHANNELS, TIME], Distribution::Normal(0.0, 1.0), &device);
    let target = Tensor::<Cpu, 3>::random([2, CHANNELS, TIME], Distribution::Normal(0.0, 1.0), &device);
    let w = hard(OpEvaluation::All).weights(&arch, Some(&noise), 0, 1);
    assert!(w.selected.is_none(), "all-ops evaluation runs every op");
    let out = op.forward(x.clone(), Some(w.row(SLOT)), None);
    let n = out.dims().iter().product::<usize>() as f64;
    let loss = (out.clone() - target.clone()).square().sum().div_scalar(n);
    let grads = loss.backward();
    let got = host(arch.logits[0].val().grad(&grads).unwrap());

    // Second computation: g_j = <dL/dout, op_j(x)> with dL/dout = 2 (out - target) / n at the one-hot
    // output, then the soft weights' Jacobian dy_j/dlogit_k = y_j (delta_jk - y_k) / tau (tau = 1).
    let d_out = (out.inner() - target.inner()).mul_scalar(2.0 / n);
    let one_hot = |col: usize| {
        let mut v = [0.0f32; 4];
        v[col] = 1.0;
        Tensor::<Cpu, 1>::from_floats(v, &device)
    };
    let g: Vec<f64> = (0..4)
        .map(|col| {
            let single = op.forward(x.clone(), Some(one_hot(col)), Some(col)).inner();
            f64::from((single * d_out.clone()).sum().into_scalar())
        })
        .collect();
    let soft = host(softmax(arch.logits[0].val().inner() + noise.groups[0].clone().inner(), 1));
    let want: Vec<f64> =
        (0..4).map(|k| (0..4).map(|j| g[j] * soft[j] as f64 * (f64::from(j == k) - soft[k] as f64)).sum()).collect();
    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!((*a as f64 - b).abs() < 1e-5 + 1e-3 * b.abs(), "logit {k}: autodiff {a}, by hand {b}");
        assert!(a.abs() > 1e-7, "logit {k} gets no task gradient");
    }
}

#[test]
fn sampled_evaluation_still_passes_the_task_gradient_to_every_logit() {
    let device = Default::default();
    let arch_graph = space(SPACE);
    Cpu::seed(&device, 4);
    let op = edge(&arch_graph);
    let arch = ArchParams::<Cpu>::new(&arch_graph, &device);
    let noise = GumbelNoise { groups: vec![Tensor::from_floats([[3.0, 0.0, 0.0, 0.0]], &device)] };
    let w = hard(OpEvaluation::Sampled).weights(&arch, Some(&noise), 0, 1);
    assert_eq!(w.selected, Some(vec![vec![0]]));
    let x = Tensor::<Cpu, 3>::random([2, CHANNELS, TIME], Distribution::Normal(0.0, 1.0), &device);
    let out = op.forward(x, Some(w.row(SLOT)), Some(0));
    let grads = out.square().mean().backward();
    let got = host(arch.logits[0].val().grad(&grads).unwrap());
    assert!(
        got.iter().all(|g| g.abs() > 1e-9),
        "the sampled op's output times its weight reaches every logit: {got:?}"
    );
}

/// One edge whose target is the causal max pool of its input.
#[derive(Module, Debug)]
struct EdgeNet<B: Backend> {
    edge: MixedOp<B, Op1d<B>, 3>,
}

struct PlantedPool {
    inputs: Tensor<Cpu, 3>,
    targets: Tensor<Cpu, 3>,
}

impl SearchTask<Cpu> for PlantedPool {
    type Net = EdgeNet<Cpu>;
    type Batch = (Tensor<Cpu, 3>, Tensor<Cpu, 3>);
    fn train_len(&self) -> usize {
        self.inputs.dims()[0]
    }
    fn val_len(&self) -> usize {
        self.inputs.dims()[0]
    }
    fn batch(&self, _split: Split, indices: &[usize], _rng: &mut StdRng) -> Self::Batch {
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx =
            Tensor::<Cpu, 1, burn::tensor::Int>::from_data(TensorData::new(idx, [indices.len()]), &Default::default());
        (self.inputs.clone().select(0, idx.clone()), self.targets.clone().select(0, idx))
    }
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<Cpu>, batch: &Self::Batch) -> TaskLoss<Cpu> {
        let selected = weights.selected.as_ref().map(|s| s[0][0]);
        let out = net.edge.forward(batch.0.clone(), Some(weights.row(SLOT)), selected);
        let mse = (out - batch.1.clone()).square().mean().reshape([1]);
        TaskLoss { total: mse.clone(), terms: vec![("mse", mse)], correct: None, count: batch.0.dims()[0] }
    }
}

#[test]
fn with_all_ops_a_planted_pool_beats_a_costlier_conv_at_beta_zero() {
    let device = Default::default();
    let arch_graph = space(SPACE);
    Cpu::seed(&device, 5);
    let inputs = Tensor::<Cpu, 3>::random([64, CHANNELS, TIME], Distribution::Normal(0.0, 1.0), &device);
    let pool = Op1d::<Cpu>::build("max_pool", CHANNELS, 1, OpMode::Derived, &device).unwrap();
    let targets = pool.forward(inputs.clone());
    let task = PlantedPool { inputs, targets };
    let config = SearchConfig {
        epochs: 3,
        batch_size: 16,
        mode: SearchMode::SingleLevel,
        relaxation: hard(OpEvaluation::All),
        arch_lr: 0.05,
        arch_weight_decay: 0.0,
        ..SearchConfig::default()
    };
    let dir = temp_dir("all-ops-planted");
    let net = EdgeNet { edge: edge(&arch_graph) };
    let outcome = run_fresh_search(&dir, &config, &task, net, ArchParams::new(&arch_graph, &device), 7).unwrap();
    let w = &outcome.state.history.last().unwrap().extras.arch_weights[0][0];
    let ops = &arch_graph.groups[0].candidates;
    let of = |name: &str| w[ops.iter().position(|o| o == name).unwrap()];
    assert!(of("max_pool") > of("std_cnn_5") && of("max_pool") > 0.3, "after 12 steps: {ops:?} {w:?}");
    let probes = outcome.state.history[0].extras.arch_grads.as_ref();
    assert!(probes.is_none(), "a task without named parts records no probes");
}
