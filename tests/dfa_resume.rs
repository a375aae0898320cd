//! Exact resume of both DFA stages through the `kdnas` binary: a distillation and a DFA search stopped
//! after epoch 1 and resumed end bit-identical to uninterrupted runs, and the resumed call trains only
//! the missing epoch (the first epoch's record, wall time included, is the stopped call's).

mod common;

use common::cli::{fails, succeeds};
use common::dfa::{cli_teacher, dfa_search_config, distill_config};
use common::{CliRun, jsonl_without_field, mpk_without_param_ids, read, temp_dir};
use std::path::Path;

/// Cross-entropy, random aggregation weights and KD (augmented batches: the default).
const OBJECTIVES: &str = "[[objective]]\nkind = \"cross_entropy\"\nweight = 1\n\n[[objective]]\nkind = \"aggregation\"\n\
                          weight = 10\nweights = \"random\"\nseed = 3\n\n[[objective]]\nkind = \"kd\"\nweight = 0.5\n\
                          temperature = 4\n";

fn lines(path: &Path) -> Vec<String> {
    String::from_utf8(read(path)).unwrap().lines().map(str::to_string).collect()
}

/// Stops `start` (arguments before `--out`) after epoch 1 in `dir/split` and resumes it with `resume`;
/// checks that the resume kept epoch 1's record and added exactly one, and returns the run directory.
fn stop_and_resume(dir: &Path, start: &[&str], resume: &[&str], metrics: &str, refusal: &str) -> std::path::PathBuf {
    let split = dir.join("split");
    let stdout = succeeds(&[start, &["--out", "split", "--stop-after", "1"]].concat(), dir);
    assert!(stdout.contains("--resume") || stdout.contains("run directory"), "{stdout}");
    let first = lines(&split.join(metrics));
    assert_eq!(first.len(), 1, "stopped after one epoch");
    let again = fails(&[start, &["--out", "split"]].concat(), dir);
    assert!(again.contains(refusal), "a new run does not overwrite a checkpointed one: {again}");
    succeeds(&[resume, &["split"]].concat(), dir);
    let both = lines(&split.join(metrics));
    assert_eq!(both.len(), 2, "the resumed call finishes the second epoch only");
    assert_eq!(both[0], first[0], "epoch 1's record (wall time included) comes from the checkpoint, not a rerun");
    split
}

#[test]
fn distillation_resumes_bit_identically() {
    let teacher = cli_teacher().join("model.mpk");
    let dir = temp_dir("dfa-resume-distill");
    std::fs::write(dir.join("distill.toml"), distill_config(&teacher, 2, OBJECTIVES)).unwrap();
    let start = ["distill", "--config", "distill.toml"];
    succeeds(&[&start[..], &["--out", "whole"]].concat(), &dir);
    let split = stop_and_resume(&dir, &start, &["distill", "--resume"], "train_metrics.jsonl", "already holds");

    let whole = dir.join("whole");
    let metrics = |run: &Path| jsonl_without_field(&run.join("train_metrics.jsonl"), "seconds");
    assert_eq!(metrics(&whole), metrics(&split), "same losses and accuracies every epoch");
    let weights = |run: &Path| mpk_without_param_ids(&read(&run.join("model.mpk")));
    assert!(weights(&whole) == weights(&split), "bit-identical student weights");
    assert_eq!(read(&whole.join("model.json")), read(&split.join("model.json")));
}

#[test]
fn dfa_search_resumes_bit_identically() {
    let teacher = cli_teacher().join("model.mpk");
    let dir = temp_dir("dfa-resume-search");
    let search = "epochs = 2\nsteps_per_epoch = 1\narch_lr = 0.05";
    std::fs::write(dir.join("search.toml"), dfa_search_config("dfa_resnet14.toml", 14, &teacher, search)).unwrap();
    let start = ["dfa", "search", "--config", "search.toml"];
    succeeds(&[&start[..], &["--out", "whole"]].concat(), &dir);
    let split =
        stop_and_resume(&dir, &start, &["dfa", "search", "--resume"], "metrics.jsonl", "already holds a search");

    let whole = dir.join("whole");
    // Metrics without seconds, every epoch's arch weights in the checkpoint and arch_weights.jsonl.
    let reference = CliRun { command: "search", start: Vec::new(), refusal: "", metrics: "metrics.jsonl" };
    reference.assert_same_result(&whole, &split);
    assert_eq!(read(&whole.join("genotype.json")), read(&split.join("genotype.json")), "same searched weights");
    let weights = |run: &Path| mpk_without_param_ids(&read(&run.join("checkpoint/arch.mpk")));
    assert!(weights(&whole) == weights(&split), "bit-identical beta");
    let epochs = lines(&whole.join("arch_weights.jsonl"));
    assert_ne!(epochs[0].split_once(',').unwrap().1, epochs[1].split_once(',').unwrap().1, "beta moves per epoch");
}
