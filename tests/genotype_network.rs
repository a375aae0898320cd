//! Genotypes round-trip through JSON and rebuild the same derived network; DARTS derivation rules;
//! the DARTS search network's size.

mod common;

use common::{Cpu, manifest, temp_dir};
use kdnas::export::{DeriveRule, Genotype};
use kdnas::metrics::trainable_params;
use kdnas::models::{CellNetwork, NetworkConfig, NetworkSize};
use kdnas::ops::conv2d::OpMode;
use kdnas::space::dot::space_to_dot;
use kdnas::space::load_space;

/// Weights that favour a known op per edge: row r prefers candidate (r % 7) + 1 (never `none`),
/// (candidates: none, max_pool, avg_pool, skip, sep3, sep5, dil3, dil5), with strength growing with r
/// so the top-2 inputs per node are its last two edges.
fn planted_probs(space: &kdnas::space::ArchGraph) -> Vec<Vec<Vec<f32>>> {
    space
        .groups
        .iter()
        .map(|g| {
            (0..g.rows())
                .map(|r| {
                    let mut row = vec![0.05f32; g.candidates.len()];
                    row[0] = 0.5; // `none` strongest: DARTS must ignore it
                    row[(r % 7) + 1] = 0.1 + 0.01 * r as f32;
                    row
                })
                .collect()
        })
        .collect()
}

#[test]
fn darts_rule_keeps_top2_non_none_and_writes_darts_notation() {
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let genotype = Genotype::derive(&space, &planted_probs(&space), DeriveRule::Darts);
    let normal = &genotype.cells[0];
    assert_eq!(normal.nodes.len(), 4);
    for node in &normal.nodes {
        assert_eq!(node.inputs.len(), 2);
        assert!(node.inputs.iter().all(|e| e.op != "none"));
    }
    // Node n3 owns rows 9..=13: the strongest two are rows 13 (from n2, dil_conv_5x5) and 12 (from n1, dil_conv_3x3).
    let n3: Vec<(&str, &str)> = normal.nodes[3].inputs.iter().map(|e| (e.from.as_str(), e.op.as_str())).collect();
    assert_eq!(n3, vec![("n2", "dil_conv_5x5"), ("n1", "dil_conv_3x3")]);
    let darts = genotype.darts.as_deref().unwrap();
    assert!(darts.starts_with("Genotype(normal=[('avg_pool_3x3', 1), ('max_pool_3x3', 0), "), "{darts}");
    assert!(darts.contains("normal_concat=[2, 3, 4, 5]"), "{darts}");
    let argmax = Genotype::derive(&space, &planted_probs(&space), DeriveRule::Argmax);
    assert!(argmax.choices.iter().all(|c| c.argmax == "none"));
    assert!(argmax.cells[0].nodes.iter().all(|n| !n.inputs.is_empty()), "argmax never leaves a node without inputs");
}

#[test]
fn genotype_round_trip_rebuilds_the_same_network() {
    let device = Default::default();
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let genotype = Genotype::derive(&space, &planted_probs(&space), DeriveRule::Darts);
    let path = temp_dir("genotype").join("genotype.json");
    genotype.save(&path).unwrap();
    let loaded = Genotype::load(&path).unwrap();
    assert_eq!(loaded, genotype);
    let (a, b) = (genotype.to_arch_graph().unwrap(), loaded.to_arch_graph().unwrap());
    assert_eq!(space_to_dot(&a), space_to_dot(&b));
    let dot = space_to_dot(&a);
    assert_eq!(dot.matches(" -> ").count(), 2 * (8 + 4), "8 kept edges + 4 concat arrows per cell");
    let network = NetworkConfig { channels: 8, layers: 5, stem_multiplier: 3, reduction_layers: None };
    let na = CellNetwork::<Cpu>::new(&a, &network, 3, 10, OpMode::Derived, &device).unwrap();
    let nb = CellNetwork::<Cpu>::new(&b, &network, 3, 10, OpMode::Derived, &device).unwrap();
    assert_eq!(trainable_params(&na), trainable_params(&nb));
    assert!(trainable_params(&na) > 0);
    assert!(Genotype::load(&manifest("Cargo.toml")).is_err(), "a non-genotype file is rejected");
    let mut edited = genotype.clone();
    edited.cells[0].nodes[1].inputs[0].op = "none".into();
    let err = edited.to_arch_graph().unwrap_err().to_string();
    assert!(err.contains("`none` is not a buildable"), "{err}");
    edited.cells[0].nodes[1].inputs[0].op = "conv_7x7".into();
    assert!(edited.to_arch_graph().is_err());
}

/// DARTS's search network (CIFAR-10, C=16, 8 cells) has 1,930,618 trainable parameters as counted by
/// bench/torch_reference/darts.py (the quark0/darts model, excluding alphas): exactly, both built and
/// counted before building (what `kdnas inspect` and the memory check use).
#[test]
fn darts_search_network_size_matches_reference() {
    let device = Default::default();
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let network = NetworkConfig { channels: 16, layers: 8, stem_multiplier: 3, reduction_layers: None };
    let net = CellNetwork::<Cpu>::new(&space, &network, 3, 10, OpMode::Search, &device).unwrap();
    assert_eq!(trainable_params(&net), 1_930_618);
    let counted = NetworkSize::of(&space, &network, 3, 10, 32, OpMode::Search).unwrap();
    assert_eq!(counted.params, 1_930_618);
}

/// The count before building equals the built network's for derived networks too (affine BatchNorm,
/// no pool BatchNorm, odd channel counts through FactorizedReduce, explicit reduction layers).
#[test]
fn counted_size_equals_built_size_of_derived_networks() {
    let device = Default::default();
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let derived = Genotype::derive(&space, &planted_probs(&space), DeriveRule::Darts).to_arch_graph().unwrap();
    for (channels, layers, reductions) in [(5, 4, None), (8, 6, Some(vec![1, 4])), (3, 2, Some(vec![0]))] {
        let network = NetworkConfig { channels, layers, stem_multiplier: 2, reduction_layers: reductions };
        for (arch, mode) in [(&derived, OpMode::Derived), (&space, OpMode::Search)] {
            let net = CellNetwork::<Cpu>::new(arch, &network, 1, 7, mode, &device).unwrap();
            let counted = NetworkSize::of(arch, &network, 1, 7, 28, mode).unwrap();
            assert_eq!(counted.params, trainable_params(&net) as u128, "{network:?} {mode:?}");
        }
    }
}

#[test]
fn drop_path_changes_only_training_forwards_that_ask_for_it() {
    use burn::tensor::{Distribution, Tensor};
    let _guard = common::serial();
    let device = Default::default();
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let derived = Genotype::derive(&space, &planted_probs(&space), DeriveRule::Darts).to_arch_graph().unwrap();
    let network = NetworkConfig { channels: 4, layers: 3, stem_multiplier: 3, reduction_layers: None };
    let net = CellNetwork::<Cpu>::new(&derived, &network, 3, 10, OpMode::Derived, &device).unwrap();
    let x = Tensor::<Cpu, 4>::random([6, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    let plain: Vec<f32> = net.forward(x.clone(), None).into_data().into_vec().unwrap();
    let zero: Vec<f32> = net.forward_with_drop_path(x.clone(), None, 0.0).into_data().into_vec().unwrap();
    assert_eq!(plain, zero, "probability 0 is the plain forward");
    <Cpu as burn::tensor::backend::Backend>::seed(&device, 1);
    let dropped: Vec<f32> = net.forward_with_drop_path(x, None, 0.5).into_data().into_vec().unwrap();
    assert_ne!(plain, dropped, "dropping half the paths changes the logits");
}
