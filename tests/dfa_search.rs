//! A tiny DFA search through the one search loop (ResNet-14 teacher, ResNet-8 student, random 8x8
//! images): the aggregation weights are softmax(beta) per stage, the genotype keeps the final ones,
//! the stage-2 objective rebuilt from that genotype reproduces the search's aggregations A_i exactly,
//! and the frozen teacher (weights and BatchNorm running statistics) leaves the search bit-identical.

mod common;

use burn::module::Module;
use common::dfa::{
    fixed_batches, record_bytes, resnet14_space, softmax_weights, tiny_student, tiny_task, tiny_teacher,
};
use common::smooth::values;
use common::{Cpu, run_fresh_search, temp_dir};
use kdnas::app::outputs::write_search_outputs;
use kdnas::export::DeriveRule;
use kdnas::models::StagedClassifier;
use kdnas::run::checkpoint::load_module_file;
use kdnas::search::config::DeriveEpoch;
use kdnas::search::{SearchConfig, SearchMode, SearchOutcome};
use kdnas::supernet::ArchParams;
use kdnas::tasks::dfa::objectives::{AggregationWeights, aggregation_weights, apply};
use kdnas::tasks::dfa::{DfaLosses, DfaSearchTask, DfaStudent, aggregates};
use std::path::Path;

const SIDE: usize = 8;

/// A search of `task` with `config` in `dir`, from a seeded student and DARTS's initial logits.
fn search(dir: &Path, task: &DfaSearchTask<Cpu>, config: &SearchConfig) -> SearchOutcome<Cpu, DfaStudent<Cpu>> {
    let net = tiny_student(task, 8, 5);
    let arch = ArchParams::<Cpu>::new(&resnet14_space(), &Default::default());
    run_fresh_search(dir, config, task, net, arch, 3).unwrap()
}

#[test]
fn searched_weights_are_softmax_beta_and_reproduce_the_aggregations() {
    let _guard = common::serial();
    let dir = temp_dir("dfa-search-weights");
    let task = tiny_task(&tiny_teacher(&dir, 14, SIDE), DfaLosses::default(), 8, SIDE);
    // A large architecture rate, so that every epoch moves the weights visibly.
    let config = SearchConfig { epochs: 2, batch_size: 4, arch_lr: 0.05, ..SearchConfig::default() };
    let run_dir = dir.join("run");
    let outcome = search(&run_dir, &task, &config);
    let space = resnet14_space();
    let genotype =
        write_search_outputs(&run_dir, &space, &outcome.state, DeriveRule::Argmax, DeriveEpoch::Last).unwrap();

    // softmax(beta) per stage, by hand from the final logits.
    let weights = softmax_weights(&outcome.arch);
    let logits = outcome.arch.to_host();
    let mut final_rows = Vec::new();
    for (stage, &slot) in task.slots.iter().enumerate() {
        let beta = &logits[slot.group][slot.row];
        let z: f64 = beta.iter().map(|&b| (b as f64).exp()).sum();
        let row = values(weights.row(slot));
        assert_eq!(row.len(), 2, "stage {stage}: one weight per teacher block");
        for (w, b) in row.iter().zip(beta) {
            assert!(
                (*w as f64 - (*b as f64).exp() / z).abs() < 1e-6,
                "stage {stage}: {row:?} is not softmax({beta:?})"
            );
        }
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "stage {stage}: {row:?} does not sum to 1");
        assert!(row.iter().all(|&w| w > 0.0 && w < 1.0));
        final_rows.push(row);
    }
    let first_epoch: Vec<Vec<f32>> =
        outcome.state.history[0].extras.arch_weights.iter().map(|g| g[0].clone()).collect();
    assert_ne!(first_epoch, final_rows, "the weights must move between epochs for the next check to mean anything");

    // The genotype and the stage-2 objective read back exactly the last epoch's recorded weights, which
    // are softmax(beta) computed on the inner backend: within an ulp of the search's own (autodiff) ones.
    let recorded: Vec<Vec<f32>> = outcome.state.history[1].extras.arch_weights.iter().map(|g| g[0].clone()).collect();
    let in_genotype: Vec<Vec<f32>> = genotype.choices.iter().map(|c| c.weights.clone()).collect();
    assert_eq!(in_genotype, recorded, "genotype.json keeps the last epoch's softmax(beta)");
    let stages = task.teacher.inner.stage_shapes();
    let fixed = aggregation_weights(&AggregationWeights::Searched, Some(&run_dir), 0, &stages, "objective[0]").unwrap();
    assert_eq!(fixed, recorded, "aggregation weights = \"searched\" reads the genotype's weights");
    let off = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    for (stage, (a, b)) in fixed.iter().zip(&final_rows).enumerate() {
        assert!(off(a, b) <= 2.0 * f32::EPSILON, "stage {stage}: derived {a:?}, searched {b:?}");
    }

    // A_i of the search and of the derived objective are the same tensors (to rounding).
    let (batch, _) = fixed_batches(&task, 4);
    let searched = aggregates(&batch.teacher, &weights, &task.slots);
    let derived = apply::fixed_aggregates(&batch.teacher.stages, &fixed);
    assert_eq!(searched.len(), 3);
    for (i, (a, b)) in searched.into_iter().zip(derived).enumerate() {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (values(a), values(b));
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 0.0 && off(&a, &b) <= 1e-6 * scale,
            "stage {i}: the derived aggregation differs from the search's"
        );
        let last = values(batch.teacher.stages[i][1].clone());
        assert!(off(&a, &last) > 1e-3 * scale, "stage {i}: the aggregation must mix the blocks, not copy the last one");
    }

    // A genotype searched for another teacher is refused, naming it.
    let resnet20 = kdnas::models::ModelConfig::Resnet { depth: 20 }.build::<Cpu>(1, 3, &Default::default()).unwrap();
    let err = aggregation_weights(&AggregationWeights::Searched, Some(&run_dir), 0, &resnet20.stage_shapes(), "o")
        .unwrap_err()
        .to_string();
    assert!(err.contains("genotype.json") && err.contains("[2, 2, 2]") && err.contains("[3, 3, 3]"), "{err}");
}

#[test]
fn the_teacher_is_bit_identical_after_a_search() {
    let _guard = common::serial();
    let dir = temp_dir("dfa-search-teacher");
    let section = tiny_teacher(&dir, 14, SIDE);
    // The student-to-teacher cross-entropy runs the teacher's stages in both losses (with gradients
    // flowing through it to the student) on the autodiff backend, in second-order steps.
    let task = tiny_task(&section, DfaLosses::default(), 8, SIDE);
    let saved = std::fs::read(&section.checkpoint).unwrap();
    let (net_before, inner_before) = (record_bytes(&task.teacher.net), record_bytes(&task.teacher.inner));
    assert!(inner_before == saved, "the loaded teacher is its checkpoint, running statistics included");

    let config = SearchConfig { epochs: 2, batch_size: 4, mode: SearchMode::SecondOrder, ..SearchConfig::default() };
    let student_before = record_bytes(&tiny_student(&task, 8, 5));
    let outcome = search(&dir.join("run"), &task, &config);
    assert_eq!(outcome.state.history.len(), 2);
    assert!(record_bytes(&outcome.net) != student_before, "the search trains the student");
    assert!(record_bytes(&task.teacher.net) == net_before, "teacher (autodiff copy) changed during the search");
    assert!(record_bytes(&task.teacher.inner) == inner_before, "teacher (inner copy) changed during the search");

    // The comparison sees running statistics: a train-mode pass of the same teacher, not frozen, changes them.
    let device = Default::default();
    let built = section.model.build::<Cpu>(1, 3, &device).unwrap();
    let unfrozen = load_module_file(&section.checkpoint, built, &device).unwrap().no_grad();
    unfrozen.forward_features(batch_images(&task));
    assert!(record_bytes(&unfrozen) != saved, "a train-mode pass must show in the record");
}

/// The images of the first training batch.
fn batch_images(task: &DfaSearchTask<Cpu>) -> burn::tensor::Tensor<Cpu, 4> {
    fixed_batches(task, 4).0.images
}

#[test]
fn every_bundled_dfa_space_fits_its_teacher_and_no_other() {
    let _guard = common::serial();
    use kdnas::models::ModelConfig;
    use kdnas::tasks::dfa::space_check::stage_slots;
    let device = Default::default();
    let teachers = [
        ("dfa_resnet14.toml", ModelConfig::Resnet { depth: 14 }),
        ("dfa_resnet20.toml", ModelConfig::Resnet { depth: 20 }),
        ("dfa_resnet56.toml", ModelConfig::Resnet { depth: 56 }),
        ("dfa_wrn28.toml", ModelConfig::Wrn { depth: 28, widen: 1, dropout: 0.0 }),
    ];
    let shapes: Vec<_> = teachers
        .iter()
        .map(|(_, model)| model.build::<burn::backend::Flex>(1, 3, &device).unwrap().stage_shapes())
        .collect();
    for (i, (file, model)) in teachers.iter().enumerate() {
        let space = kdnas::space::load_space(&common::manifest(&format!("search_spaces/{file}"))).unwrap();
        for (j, other) in shapes.iter().enumerate() {
            let slots = stage_slots(&space, other, &model.name());
            if i == j {
                assert_eq!(slots.unwrap().len(), 3, "{file} fits {}", model.name());
            } else {
                let err = slots.unwrap_err().to_string();
                assert!(err.contains("choice[0].candidates"), "{file} with teacher {j}: {err}");
            }
        }
    }
}
