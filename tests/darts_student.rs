//! A derived DARTS network as a DFA / distillation student (`[student] model = { kind = "darts",
//! genotype = ... }`): stages split at the reduction cells, features and logits of one pass agree
//! with the plain forward, the bridges' `forward_from`, configs that cannot work refused by field, and
//! `kdnas dfa search` + `kdnas distill` with such a student through the binary.

mod common;

use burn::tensor::{Tensor, backend::Backend};
use common::cli::{fails, succeeds};
use common::dfa::{CLASSES, cli_teacher, dfa_search_config, distill_config};
use common::{Cpu, random_images, temp_dir, write_quickstart_genotype};
use kdnas::models::{ModelConfig, StageShape, StagedClassifier};
use std::path::Path;

fn darts(genotype: &Path, layers: usize) -> ModelConfig {
    ModelConfig::Darts { genotype: genotype.to_path_buf(), channels: 4, layers, stem_multiplier: 3 }
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

#[test]
fn stages_split_at_the_reduction_cells_and_one_pass_gives_features_and_logits() {
    let dir = temp_dir("darts-student-stages");
    let genotype = write_quickstart_genotype(&dir);
    let device = Default::default();
    Cpu::seed(&device, 3);
    let model = darts(&genotype, 6).build::<Cpu>(1, CLASSES as usize, &device).unwrap();
    // Two intermediate nodes per quickstart cell: cell outputs have 2 * C channels (C doubles at each
    // reduction cell, cells 2 and 4).
    let expected = [(8, 1), (16, 2), (32, 4)].map(|(channels, stride)| StageShape { channels, blocks: 2, stride });
    assert_eq!(model.stage_shapes(), expected);

    let images = random_images(2, 1, 12, CLASSES, 5);
    let (x, _) = kdnas::data::image_batch::<Cpu>(&images, &[0, 1], None, &device);
    let features = model.forward_features(x.clone());
    for (stage, shape) in features.stages.iter().zip(&expected) {
        assert_eq!(stage.len(), shape.blocks);
        let side = 12 / shape.stride;
        assert!(stage.iter().all(|f| f.dims() == [2, shape.channels, side, side]), "{:?}", stage[0].dims());
    }
    let logits = values(features.logits.clone());
    assert_eq!(logits, values(model.forward(x)), "the features pass computes the same logits");
    let last = features.stages[2][1].clone();
    assert_eq!(values(model.forward_from(2, last)), logits, "after the last stage only the classifier runs");

    // A bridge from stage 0: the stage feature feeds the remaining cells and passes gradients back.
    let feature = features.stages[0][1].clone().detach().require_grad();
    let bridged = model.forward_from(0, feature.clone());
    assert_eq!(bridged.dims(), [2, CLASSES as usize]);
    let grads = bridged.sum().backward();
    let grad = values(feature.grad(&grads).expect("the feature gets a gradient"));
    assert!(grad.iter().any(|g| *g != 0.0) && grad.iter().all(|g| g.is_finite()));
}

#[test]
fn darts_configs_that_cannot_work_are_refused_naming_the_field() {
    let dir = temp_dir("darts-student-refused");
    let genotype = write_quickstart_genotype(&dir);
    let err = darts(&genotype, 5).validate("student.model").unwrap_err().to_string();
    assert!(err.starts_with("student.model.layers:") && err.contains("stage 0"), "{err}");
    let err = darts(&genotype, 8).validate_teacher("teacher.model").unwrap_err().to_string();
    assert!(err.starts_with("teacher.model.kind:") && err.contains("student"), "{err}");
    let missing = dir.join("no_such_genotype.json");
    let err = darts(&missing, 8).build::<Cpu>(1, 3, &Default::default()).err().unwrap().to_string();
    assert!(err.contains("no_such_genotype.json"), "{err}");
}

#[test]
fn dfa_search_and_distill_with_a_darts_student_through_the_binary() {
    let dir = temp_dir("darts-student-cli");
    std::fs::copy(cli_teacher().join("model.mpk"), dir.join("teacher.mpk")).unwrap();
    write_quickstart_genotype(&dir);
    let student = "model = { kind = \"darts\", genotype = \"genotype.json\", channels = 4, layers = 6 }";
    let with_darts_student = |config: String| config.replace("model = { kind = \"resnet\", depth = 8 }", student);
    let search = "epochs = 1\nsteps_per_epoch = 2\nmode = \"first_order\"";
    let config = with_darts_student(dfa_search_config("dfa_resnet14.toml", 14, Path::new("teacher.mpk"), search));
    assert!(config.contains("kind = \"darts\""));
    std::fs::write(dir.join("search.toml"), config).unwrap();
    succeeds(&["dfa", "search", "--config", "search.toml", "--out", "search_run"], &dir);
    let run_config = std::fs::read_to_string(dir.join("search_run/config.toml")).unwrap();
    assert!(
        run_config.contains("genotype = \"../genotype.json\""),
        "the run names the genotype from its folder: {run_config}"
    );

    let objectives = "[[objective]]\nkind = \"cross_entropy\"\nweight = 1\n\n[[objective]]\nkind = \"aggregation\"\n\
                      weight = 10\nweights = \"searched\"\nsearch = \"search_run\"\n\n[[objective]]\nkind = \"fitnet\"\nweight = 1\n";
    let config = with_darts_student(distill_config(Path::new("teacher.mpk"), 1, objectives));
    std::fs::write(dir.join("distill.toml"), config).unwrap();
    let stdout = succeeds(&["distill", "--config", "distill.toml", "--out", "distill_run"], &dir);
    assert!(stdout.contains("darts_c4_l6"), "{stdout}");
    let metrics = std::fs::read_to_string(dir.join("distill_run/train_metrics.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for term in ["cross_entropy", "aggregation", "fitnet"] {
        assert!(record["terms"][term].as_f64().is_some_and(|v| v > 0.0), "term {term}: {record}");
    }
    // The run builds its student from its own copy of the genotype: a search rewriting the original
    // (skip_connect for max_pool_3x3, the same parameter shapes) changes neither eval nor resume.
    write_genotype_preferring(&dir, 2);
    succeeds(&["eval", "distill_run"], &dir);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("distill_run/eval/eval.json")).unwrap()).unwrap();
    assert_eq!(report["top1"], record["test_acc"], "eval scores the distilled student, not another network");
    // A changed copy is a different student: the resume is refused, naming the field.
    std::fs::copy(dir.join("genotype.json"), dir.join("distill_run/student_genotype.json")).unwrap();
    let stderr = fails(&["distill", "--resume", "distill_run"], &dir);
    assert!(stderr.contains("`student.model.genotype` differs"), "{stderr}");
}

#[test]
fn a_genotype_whose_cells_concatenate_different_node_counts_is_refused() {
    let dir = temp_dir("darts-student-uneven");
    let text = std::fs::read_to_string(common::manifest("search_spaces/quickstart.toml")).unwrap();
    // A third node in the reduction cell only: reduction cells output 3C channels, normal cells 2C.
    let uneven = format!(
        "{text}\n  [[cell.node]]\n  name = \"n2\"\n  from = [\"c_k-2\", \"c_k-1\", \"n0\", \"n1\"]\n  ops = \"small\"\n  keep = 2\n"
    );
    let space = common::space(&uneven);
    let genotype = dir.join("genotype.json");
    kdnas::export::Genotype::derive(&space, &strongest_probs(&space, 1), kdnas::export::DeriveRule::Darts)
        .save(&genotype)
        .unwrap();
    let err = darts(&genotype, 6).build::<Cpu>(1, 3, &Default::default()).err().unwrap().to_string();
    assert!(err.starts_with("student.model.genotype:") && err.contains("cell 3"), "{err}");
}

/// Choice probabilities of `space` with candidate `strongest` of every choice ahead.
fn strongest_probs(space: &kdnas::space::ArchGraph, strongest: usize) -> Vec<Vec<Vec<f32>>> {
    space
        .groups
        .iter()
        .map(|g| {
            (0..g.rows())
                .map(|_| (0..g.candidates.len()).map(|c| if c == strongest { 0.6 } else { 0.1 }).collect())
                .collect()
        })
        .collect()
}

/// Writes `dir/genotype.json`: the quickstart space with candidate `strongest` of every choice kept.
fn write_genotype_preferring(dir: &Path, strongest: usize) {
    let space = common::quickstart_space();
    let probs = strongest_probs(&space, strongest);
    kdnas::export::Genotype::derive(&space, &probs, kdnas::export::DeriveRule::Darts)
        .save(&dir.join("genotype.json"))
        .unwrap();
}
