//! `kdnas eval`: scores a tiny teacher run (directory or weights file) on its test set or on other
//! data, writes eval.json and the confusion heatmap, and refuses weights of another architecture with
//! an error naming the file.

mod common;

use common::cli::{fails, succeeds};
use common::temp_dir;
use std::path::Path;

/// One epoch of a CIFAR ResNet of `depth` on `per_class` training and 3 test images per class.
fn teacher_config(depth: usize, per_class: usize) -> String {
    format!(
        "seed = 1\n[data]\nlimit_train_per_class = {per_class}\nlimit_test_per_class = 3\n\
         [model]\nkind = \"resnet\"\ndepth = {depth}\n[train]\nepochs = 1\nbatch_size = 16\nlr = 0.05\n"
    )
}

/// Trains the teacher of `teacher_config(depth, per_class)` into `dir/out`.
fn train(dir: &Path, out: &str, depth: usize, per_class: usize) {
    let config = format!("{out}.toml");
    std::fs::write(dir.join(&config), teacher_config(depth, per_class)).unwrap();
    succeeds(&["teacher", "train", "--config", &config, "--out", out], dir);
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[test]
fn evaluates_a_teacher_run_on_its_test_set_and_on_other_data() {
    let dir = temp_dir("eval-teacher");
    train(&dir, "t8", 8, 4);
    let stdout = succeeds(&["eval", "t8"], &dir);
    assert!(stdout.contains("top-1") && stdout.contains("Ankle boot"), "{stdout}");
    let eval = report(&dir.join("t8/eval/eval.json"));
    let (top1, top5) = (eval["top1"].as_f64().unwrap(), eval["top5"].as_f64().unwrap());
    assert!(top1 <= top5 && top5 <= 1.0, "{eval}");
    assert_eq!(eval["images"], 30);
    let per_class = eval["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 10);
    assert!(per_class.iter().all(|c| c["images"] == 3), "{eval}");
    let confusion = eval["confusion"].as_array().unwrap();
    let diagonal: u64 = (0..10).map(|c| confusion[c][c].as_u64().unwrap()).sum();
    assert_eq!(diagonal as f64 / 30.0, top1, "top-1 is the confusion matrix's diagonal");
    for file in ["confusion.png", "confusion.svg"] {
        assert!(dir.join("t8/eval").join(file).is_file(), "{file} missing");
    }

    std::fs::write(dir.join("other.toml"), "[data]\nlimit_test_per_class = 5\n").unwrap();
    succeeds(&["eval", "t8/best/model.mpk", "--data", "other.toml", "--out", "other", "--batch-size", "7"], &dir);
    let other = report(&dir.join("other/eval.json"));
    assert_eq!(other["images"], 50);
    assert!(other["weights"].as_str().unwrap().ends_with("best/model.mpk"), "{other}");

    std::fs::write(dir.join("bad.toml"), "[data]\nlimit_test_per_class = 0\n").unwrap();
    let err = fails(&["eval", "t8", "--data", "bad.toml"], &dir);
    assert!(err.contains("bad.toml:2: `data.limit_test_per_class`"), "{err}");
}

#[test]
fn weights_of_another_architecture_are_refused() {
    let dir = temp_dir("eval-mismatch");
    train(&dir, "t8", 8, 2);
    train(&dir, "t14", 14, 2);
    std::fs::copy(dir.join("t14/model.mpk"), dir.join("t8/model.mpk")).unwrap();
    let err = fails(&["eval", "t8"], &dir);
    assert!(err.contains("t8/model.mpk") && err.contains("resnet8"), "{err}");
    let err = fails(&["eval", "nowhere"], &dir);
    assert!(err.contains("nowhere: no such file or directory"), "{err}");
}

#[test]
fn evaluates_a_derived_network_run() {
    let dir = temp_dir("eval-derived");
    common::write_quickstart_genotype(&dir);
    let config = "space = \"unused.toml\"\n[data]\nlimit_train_per_class = 2\nlimit_test_per_class = 2\n\
                  [network]\nchannels = 4\nlayers = 3\n[train]\nepochs = 1\nbatch_size = 8\n";
    std::fs::write(dir.join("config.toml"), config).unwrap();
    succeeds(&["train", "--genotype", "genotype.json", "--out", "derived"], &dir);
    let stdout = succeeds(&["eval", "derived", "--out", "scores"], &dir);
    assert!(stdout.contains("derived network (C=4, 3 cells) on 20 images"), "{stdout}");
    let eval = report(&dir.join("scores/eval.json"));
    assert!(eval["weights"].as_str().unwrap().ends_with("model.mpk"), "{eval}");
    let trained = report(&dir.join("derived/result.json"));
    assert_eq!(eval["top1"], trained["test_acc"], "the same figure as the training run's last evaluation");
}
