//! Same seed, same CPU result; and a search stopped after epoch 1 and resumed ends exactly where an
//! uninterrupted run ends (weights, alphas, both optimisers and the data order are restored).

mod common;

use common::{Cpu, manifest, temp_dir};
use kdnas::app::search_cmd::{SearchControl, run_prepared};
use kdnas::search::SearchState;
use kdnas::search::{prepare_new_run, reopen_run};
use kdnas::tasks::image::RunConfig;
use std::path::Path;

const CONFIG: &str = r#"
space = "quickstart.toml"
seed = 42
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 4
augment = true
[network]
channels = 4
layers = 3
[search]
epochs = 2
batch_size = 8
steps_per_epoch = 2
mode = "second_order"
"#;

fn start(name: &str) -> std::path::PathBuf {
    let config = RunConfig::parse(CONFIG, Path::new("tiny.toml")).unwrap();
    let space_path = manifest("search_spaces/quickstart.toml");
    let space_text = std::fs::read_to_string(&space_path).unwrap();
    let dir = temp_dir(name);
    prepare_new_run(config, &manifest("search_spaces"), &space_text, &space_path, &dir).unwrap();
    dir
}

fn final_state(dir: &Path) -> SearchState {
    let text = std::fs::read(dir.join("checkpoint/state.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// Runs (or resumes) the search in `dir`; returns how many epochs this call ran.
fn run(dir: &Path, resume: bool, stop_after: Option<usize>) -> usize {
    run_prepared::<Cpu>(
        &reopen_run(dir).unwrap(),
        &SearchControl { resume, progress: false, stop_after, device: &Default::default() },
    )
    .unwrap()
    .epochs_run
}

#[test]
fn same_seed_gives_identical_architecture_weights() {
    let _guard = common::serial();
    let (a, b) = (start("det-a"), start("det-b"));
    run(&a, false, None);
    run(&b, false, None);
    let (sa, sb) = (final_state(&a), final_state(&b));
    assert_eq!(sa.history.len(), 2);
    assert_eq!(sa.history.last().unwrap().extras.arch_weights, sb.history.last().unwrap().extras.arch_weights);
    assert_eq!(std::fs::read(a.join("genotype.json")).unwrap(), std::fs::read(b.join("genotype.json")).unwrap());
}

#[test]
fn resumed_run_matches_uninterrupted_run() {
    let _guard = common::serial();
    let (whole, split) = (start("resume-whole"), start("resume-split"));
    run(&whole, false, None);
    run(&split, false, Some(1));
    let stopped = final_state(&split);
    assert_eq!(stopped.next_epoch, 1, "stopped after epoch 1");
    assert_eq!(run(&split, true, None), 1, "a resume runs only the epoch after the checkpoint");
    let (a, b) = (final_state(&whole), final_state(&split));
    assert_eq!(b.history[0], stopped.history[0], "epoch 1's record (wall time included) comes from the checkpoint");
    assert_eq!(b.next_epoch, 2);
    assert_eq!(a.history.last().unwrap().extras.arch_weights, b.history.last().unwrap().extras.arch_weights);
    assert_eq!(a.history.last().unwrap().train_loss, b.history.last().unwrap().train_loss);
    let weights = std::fs::read_to_string(split.join("arch_weights.jsonl")).unwrap();
    assert_eq!(weights.lines().count(), 2, "one line per epoch, across the resume");
    let metrics = |dir: &Path| common::jsonl_without_field(&dir.join("metrics.jsonl"), "seconds");
    assert_eq!(metrics(&whole), metrics(&split), "metrics text identical (floats round-trip through the checkpoint)");

    // A crash after the last checkpoint but before the metrics were rewritten: resuming repairs them.
    let first_line = weights.lines().next().unwrap().to_string() + "\n";
    std::fs::write(split.join("arch_weights.jsonl"), first_line).unwrap();
    std::fs::remove_file(split.join("metrics.jsonl")).unwrap();
    assert_eq!(run(&split, true, None), 0, "nothing left to run");
    assert_eq!(std::fs::read_to_string(split.join("arch_weights.jsonl")).unwrap(), weights);
    assert_eq!(metrics(&whole), metrics(&split));
}
