//! AdaRec's student (`SequenceCellNetwork`) on the `causal1d` family: causality of the supernet and
//! of a derived student, shapes, architecture weights shared by every cell, the derived network, and
//! the cost-sensitive loss against a hand-computed expectation, and a derived student that adopts the
//! supernet's trained weights computing what the supernet computes on its ops.

mod common;

use burn::backend::Flex;
use burn::module::AutodiffModule;
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use common::{Cpu, manifest};
use kdnas::export::genotype::{DeriveRule, Genotype};
use kdnas::metrics::trainable_params;
use kdnas::models::sequence_cell_network::{SequenceCellNetwork, SequenceNetworkConfig};
use kdnas::ops::OpMode;
use kdnas::ops::causal1d::causality::{change_around, splice_after};
use kdnas::space::{ArchGraph, load_space};
use kdnas::supernet::cost::CostTable;
use kdnas::supernet::{ArchParams, ArchWeights, Relaxation};

const ITEMS: usize = 30;

fn adarec_space() -> ArchGraph {
    load_space(&manifest("search_spaces/adarec_nextitnet.toml")).unwrap()
}

fn small() -> SequenceNetworkConfig {
    SequenceNetworkConfig { dim: 8, cells: 2, dropout: 0.1 }
}

/// Random item ids in `1..=ITEMS`, `[batch, time]`.
fn items(batch: usize, time: usize) -> Tensor<Flex, 2, Int> {
    Tensor::<Flex, 2>::random([batch, time], Distribution::Uniform(1.0, ITEMS as f64 + 1.0), &Default::default())
        .int()
        .clamp(1, ITEMS as i64)
}

fn softmax_weights(space: &ArchGraph) -> ArchWeights<Flex> {
    let arch = ArchParams::<Flex>::new(space, &Default::default());
    Relaxation::Softmax.weights(&arch, None, 0, 1)
}

/// Asserts that `f` on item sequences is causal along time (axis 1 of its output).
fn assert_causal(what: &str, f: impl Fn(Tensor<Flex, 2, Int>) -> Tensor<Flex, 3>) {
    let (x, other) = (items(3, 10), items(3, 10));
    for t in [0, 4, 7] {
        let change = change_around(f(x.clone()), f(splice_after(x.clone(), other.clone(), 1, t)), 1, t);
        assert!(change.past <= 1e-5, "{what}: output at <= {t} moved by {}", change.past);
        assert!(change.future > 1e-5, "{what}: nothing after {t} reacts ({change:?})");
    }
}

#[test]
fn the_space_shares_one_op_group_across_cells() {
    let space = adarec_space();
    assert_eq!(space.groups.len(), 1, "one template, one group");
    assert_eq!(space.groups[0].rows(), 6, "1 + 2 + 3 edges");
    assert_eq!(space.groups[0].candidates.len(), 10);
    let weights = softmax_weights(&space);
    // Two networks with 2 and 4 cells read the same weight rows.
    for cells in [2, 4] {
        let cfg = SequenceNetworkConfig { cells, ..small() };
        let net = SequenceCellNetwork::<Flex>::new(&space, &cfg, ITEMS, OpMode::Search, &Default::default()).unwrap();
        let f = net.forward_features(items(2, 6), Some(&weights));
        assert_eq!(f.hidden.len(), cells);
    }
}

#[test]
fn supernet_and_derived_student_are_causal() {
    let space = adarec_space();
    let weights = softmax_weights(&space);
    let net = SequenceCellNetwork::<Flex>::new(&space, &small(), ITEMS, OpMode::Search, &Default::default()).unwrap();
    assert_causal("supernet logits", |x| net.forward_features(x, Some(&weights)).logits);
    assert_causal("supernet last cell", |x| net.forward_features(x, Some(&weights)).hidden[1].clone());

    let mut probs = vec![vec![vec![0.1f32; 10]; 6]];
    for (row, best) in [(0, 2), (1, 5), (2, 6), (3, 7), (4, 8), (5, 0)] {
        probs[0][row][best] = 0.9;
    }
    let derived = Genotype::derive(&space, &probs, DeriveRule::Argmax).to_arch_graph().unwrap();
    let student =
        SequenceCellNetwork::<Flex>::new(&derived, &small(), ITEMS, OpMode::Derived, &Default::default()).unwrap();
    assert_causal("derived student logits", |x| student.forward_features(x, None).logits);
    let count = |arch: &ArchGraph, mode| {
        trainable_params(&SequenceCellNetwork::<Cpu>::new(arch, &small(), ITEMS, mode, &Default::default()).unwrap())
    };
    let (derived_params, supernet_params) = (count(&derived, OpMode::Derived), count(&space, OpMode::Search));
    assert!(
        derived_params < supernet_params,
        "the derived student ({derived_params}) is smaller than the supernet ({supernet_params})"
    );
}

#[test]
fn shapes_and_last_position_scores() {
    let space = adarec_space();
    let weights = softmax_weights(&space);
    let net = SequenceCellNetwork::<Flex>::new(&space, &small(), ITEMS, OpMode::Search, &Default::default()).unwrap();
    let x = items(3, 7);
    let f = net.forward_features(x.clone(), Some(&weights));
    assert_eq!(f.embedding.dims(), [3, 7, 8]);
    assert!(f.hidden.iter().all(|h| h.dims() == [3, 7, 8]));
    assert_eq!(f.logits.dims(), [3, 7, ITEMS + 1]);
    let last = net.forward_last(x, Some(&weights)); // [3, ITEMS + 1]
    let from_all = f.logits.narrow(1, 6, 1).reshape([3, ITEMS + 1]);
    let diff: f32 = (last - from_all).abs().max().into_scalar().elem();
    assert!(diff < 1e-5, "forward_last differs from the last position of the logits by {diff}");
}

#[test]
fn a_space_of_another_shape_is_refused() {
    let darts = common::quickstart_space();
    let err = SequenceCellNetwork::<Flex>::new(&darts, &small(), ITEMS, OpMode::Search, &Default::default())
        .err()
        .expect("a conv2d space");
    assert!(err.to_string().contains("causal1d"), "{err}");
    let bad = SequenceNetworkConfig { dropout: 1.0, ..small() };
    let err = SequenceCellNetwork::<Flex>::new(&adarec_space(), &bad, ITEMS, OpMode::Search, &Default::default())
        .err()
        .expect("dropout 1");
    assert!(err.to_string().contains("student.dropout"), "{err}");
}

#[test]
fn cost_loss_is_the_expected_parameter_cost() {
    let space = adarec_space();
    let c = 4usize;
    let table = CostTable::from_params(&space, c).unwrap();
    // By hand at C = 4 (search mode: non-affine BN has no parameters): a causal conv of k taps with
    // bias has k*C*C + C parameters; the largest candidate is a k5 conv (84).
    let k3 = (3 * c * c + c) as f64 / (5 * c * c + c) as f64;
    let want = [k3, k3, k3, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    for (got, want) in table.groups[0].iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{:?}", table.groups[0]);
    }
    // Weights: row r puts 0.5 on candidate r and spreads 0.5 over the other nine.
    let rows: Vec<f32> = (0..6).flat_map(|r| (0..10).map(move |o| if o == r { 0.5 } else { 0.5 / 9.0 })).collect();
    let device = Default::default();
    let weights = ArchWeights::<Cpu> {
        groups: vec![Tensor::from_data(TensorData::new(rows.clone(), [6, 10]), &device).require_grad()],
        selected: None,
    };
    let by_hand: f64 = (0..6).map(|r| (0..10).map(|o| rows[r * 10 + o] as f64 * want[o]).sum::<f64>()).sum();
    let loss = table.expected(&weights);
    let got: f64 = loss.clone().into_scalar().elem::<f32>() as f64;
    assert!((got - by_hand).abs() < 1e-5, "cost {got}, by hand {by_hand}");
    // Its gradient with respect to each weight is the candidate's cost.
    let grads = loss.backward();
    let g: Vec<f32> = weights.groups[0].grad(&grads).unwrap().into_data().into_vec().unwrap();
    for (i, v) in g.iter().enumerate() {
        assert!((*v as f64 - want[i % 10]).abs() < 1e-6, "d cost / d w[{i}] = {v}");
    }
}

/// One op per row of the AdaRec space (candidate order: std/dil/cau k3, std/dil/cau k5, max, avg, skip,
/// none): row 1 picks `none`, so node n1 keeps only its edge from n0.
const PICKS: [usize; 6] = [2, 9, 3, 7, 1, 8];

/// Exactly one-hot architecture weights on [`PICKS`]; every op is evaluated (no sampling).
fn one_hot_weights<B: burn::tensor::backend::Backend>(device: &B::Device) -> ArchWeights<B> {
    let rows: Vec<f32> = PICKS.iter().flat_map(|&p| (0..10).map(move |o| if o == p { 1.0 } else { 0.0 })).collect();
    ArchWeights { groups: vec![Tensor::from_data(TensorData::new(rows, [6, 10]), device)], selected: None }
}

#[test]
fn a_derived_student_adopting_the_supernet_computes_the_supernet_on_its_ops() {
    let space = adarec_space();
    let device = Default::default();
    let cfg = SequenceNetworkConfig { dim: 6, cells: 2, dropout: 0.2 };
    let supernet = SequenceCellNetwork::<Cpu>::new(&space, &cfg, ITEMS, OpMode::Search, &device).unwrap();
    // Training-mode passes move every BatchNorm's running statistics away from 0 and 1.
    for _ in 0..3 {
        let x = Tensor::<Cpu, 2, Int>::from_inner(items(4, 7));
        let _ = supernet.forward_features(x, Some(&one_hot_weights(&device)));
    }
    let trained = supernet.valid();
    // The genotype comes from weights with the same argmax but other strengths (edges reordered).
    let mut probs = vec![vec![vec![0.05f32; 10]; 6]];
    for (row, &pick) in PICKS.iter().enumerate() {
        probs[0][row][pick] = 0.3 + 0.1 * row as f32;
    }
    let derived = Genotype::derive(&space, &probs, DeriveRule::Argmax).to_arch_graph().unwrap();
    let fresh = || SequenceCellNetwork::<Flex>::new(&derived, &cfg, ITEMS, OpMode::Derived, &device).unwrap();
    let adopted = fresh().adopt_trained(&trained).unwrap();

    let x = items(3, 7);
    let want = trained.forward_features(x.clone(), Some(&one_hot_weights(&device))).logits;
    let gap = |net: &SequenceCellNetwork<Flex>| -> f32 {
        (net.forward_features(x.clone(), None).logits - want.clone()).abs().max().into_scalar().elem()
    };
    assert!(gap(&adopted) < 1e-4, "adopted student differs from the supernet by {}", gap(&adopted));
    assert!(gap(&fresh()) > 1e-2, "a fresh student is not the supernet (the check can fail)");
    assert_eq!(trainable_params(&adopted), trainable_params(&fresh()), "the derived shapes are kept");
}

#[test]
fn adopting_weights_refuses_networks_that_do_not_match() {
    let space = adarec_space();
    let device = Default::default();
    let mut probs = vec![vec![vec![0.05f32; 10]; 6]];
    for (row, &pick) in PICKS.iter().enumerate() {
        probs[0][row][pick] = 0.5;
    }
    let derived = Genotype::derive(&space, &probs, DeriveRule::Argmax).to_arch_graph().unwrap();
    let student = || SequenceCellNetwork::<Flex>::new(&derived, &small(), ITEMS, OpMode::Derived, &device).unwrap();
    let three_cells = SequenceNetworkConfig { cells: 3, ..small() };
    let deeper = SequenceCellNetwork::<Flex>::new(&space, &three_cells, ITEMS, OpMode::Search, &device).unwrap();
    let err = student().adopt_trained(&deeper).err().expect("2 cells vs 3");
    assert!(err.to_string().contains("3"), "{err}");
    let pools = Genotype::derive(&space, &[vec![vec![0.1f32; 10]; 6]], DeriveRule::Argmax).to_arch_graph().unwrap();
    let pooled = SequenceCellNetwork::<Flex>::new(&pools, &small(), ITEMS, OpMode::Derived, &device).unwrap();
    let err = student().adopt_trained(&pooled).err().expect("the other network has no convolutions to give");
    assert!(err.to_string().contains("has no"), "{err}");
}
