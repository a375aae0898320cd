//! The command line on bad input: non-zero exit and a message naming the file, line and field.

mod common;

use common::cli::{TINY_CONFIG, fails, kdnas, tiny_run_dir};
use common::temp_dir;

#[test]
fn missing_space_file_is_named() {
    let dir = temp_dir("cli-missing");
    let err = fails(&["inspect", "nowhere.toml"], &dir);
    assert!(err.contains("nowhere.toml") && err.contains("No such file"), "{err}");
}

#[test]
fn unknown_op_and_cycle_are_located() {
    let dir = temp_dir("cli-space");
    let text = "name = \"t\"\ncatalogue = \"conv2d\"\n[[cell]]\nname = \"c\"\ninputs = [\"a\", \"b\"]\n  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = [\"sep_conv_3x3\", \"warp_9x9\"]\n";
    std::fs::write(dir.join("bad.toml"), text).unwrap();
    let err = fails(&["inspect", "bad.toml"], &dir);
    assert!(err.contains("bad.toml:9: `cell[0].node[0].ops[1]`: unknown op `warp_9x9`"), "{err}");
    let cyclic = "name = \"t\"\ncatalogue = \"conv2d\"\n[[cell]]\nname = \"c\"\ninputs = [\"a\", \"b\"]\n  [[cell.node]]\n  name = \"n0\"\n  from = [\"n1\"]\n  ops = [\"skip_connect\"]\n  [[cell.node]]\n  name = \"n1\"\n  from = [\"n0\"]\n  ops = [\"skip_connect\"]\n";
    std::fs::write(dir.join("cycle.toml"), cyclic).unwrap();
    let err = fails(&["inspect", "cycle.toml"], &dir);
    assert!(err.contains("cycle.toml:") && err.contains("cycle through node"), "{err}");
}

#[test]
fn malformed_config_is_located() {
    let dir = tiny_run_dir("cli-config");
    std::fs::write(dir.join("broken.toml"), TINY_CONFIG.replace("layers = 2", "layers = = 2")).unwrap();
    let err = fails(&["search", "--config", "broken.toml", "--out", "run"], &dir);
    assert!(err.contains("broken.toml:10: `toml syntax`"), "{err}");
    std::fs::write(dir.join("range.toml"), TINY_CONFIG.replace("epochs = 2", "epochs = 0")).unwrap();
    let err = fails(&["search", "--config", "range.toml", "--out", "run"], &dir);
    assert!(err.contains("range.toml:13: `search.epochs`: must be at least 1"), "{err}");
    std::fs::write(dir.join("typo.toml"), TINY_CONFIG.replace("batch_size", "batch_sise")).unwrap();
    let err = fails(&["search", "--config", "typo.toml", "--out", "run"], &dir);
    assert!(err.contains("typo.toml:14: `batch_sise`"), "{err}");
}

#[test]
fn corrupt_idx_file_is_named() {
    let dir = tiny_run_dir("cli-idx");
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    let mut images = vec![0u8, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend(vec![0u8; 100]);
    std::fs::write(data.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    std::fs::write(data.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    let config = TINY_CONFIG
        .replace("source = \"bundled-fashion-mnist\"\nlimit_train_per_class = 4", "source = \"idx\"\ndir = \"mnist\"");
    std::fs::write(dir.join("idx.toml"), config).unwrap();
    let err = fails(&["search", "--config", "idx.toml", "--out", "run"], &dir);
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("corrupt") && err.contains("truncated"), "{err}");
}

#[test]
fn cuda_without_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let dir = tiny_run_dir("cli-cuda");
    let err = fails(&["search", "--config", "run.toml", "--out", "run", "--device", "cuda:0"], &dir);
    assert!(err.contains("built without CUDA"), "{err}");
    let err = fails(&["search", "--config", "run.toml", "--out", "run", "--device", "tpu"], &dir);
    assert!(err.contains("--device `tpu`"), "{err}");
}

#[test]
fn stop_resume_and_no_overwrite() {
    let dir = tiny_run_dir("cli-resume");
    let ok = kdnas(&["search", "--config", "run.toml", "--out", "run", "--stop-after", "1"], &dir);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let again = fails(&["search", "--config", "run.toml", "--out", "run"], &dir);
    assert!(again.contains("--resume"), "an existing run is not overwritten: {again}");
    let resumed = kdnas(&["search", "--resume", "run"], &dir);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    for file in [
        "genotype.json",
        "genotype.txt",
        "space.dot",
        "derived.dot",
        "plots/search_loss.png",
        "plots/weights_reduce_ops_1.svg",
    ] {
        assert!(dir.join("run").join(file).exists(), "{file} missing");
    }
    let derived = kdnas(&["derive", "run", "--rule", "argmax"], &dir);
    assert!(derived.status.success(), "{}", String::from_utf8_lossy(&derived.stderr));
    let genotype = std::fs::read_to_string(dir.join("run/genotype.json")).unwrap();
    assert!(genotype.contains("\"rule\": \"argmax\""), "{genotype}");
    let args = ["train", "--genotype", "run/genotype.json", "--epochs", "2", "--out", "trained"];
    let stopped = kdnas(&[&args[..], &["--stop-after", "1"]].concat(), &dir);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("kdnas train --resume trained"));
    assert!(!dir.join("trained/result.json").exists(), "no result before the last epoch");
    let again = fails(&args, &dir);
    assert!(again.contains("already holds a training run"), "{again}");
    let trained = kdnas(&["train", "--resume", "trained"], &dir);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    assert!(dir.join("trained/result.json").exists() && dir.join("trained/model.mpk").exists());
    let metrics = std::fs::read_to_string(dir.join("trained/train_metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "one line per epoch, across the resume");
}
