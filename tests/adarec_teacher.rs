//! `kdnas teacher train` on a `[task] kind = "adarec"` config: NextItNet on the bundled synthetic
//! sequences learns the planted successors far beyond chance, records validation and test ranking
//! metrics per epoch, keeps the best epoch by validation NDCG@10, resumes exactly after a stop, and
//! refuses bad data with an error that says where.

mod common;

use common::cli::{fails, succeeds};
use common::{jsonl_without_field, mpk_without_param_ids, read, temp_dir, train_records};

/// A tiny NextItNet on 200 synthetic users; SGD with a large rate (the ReZero residuals start at 0).
fn config(epochs: usize) -> String {
    format!(
        r#"seed = 1

[task]
kind = "adarec"

[data]
max_len = 12
negatives = 30

[data.synthetic]
users = 200
items = 100
min_len = 8
max_len = 20

[model]
dim = 16
blocks = 2

[train]
epochs = {epochs}
batch_size = 32
lr = 2.0
momentum = 0.9
weight_decay = 0.0
grad_clip = 5.0
augment = false
"#
    )
}

#[test]
fn learns_the_planted_successors_and_keeps_the_best_epoch() {
    let dir = temp_dir("adarec-teacher-learns");
    std::fs::write(dir.join("teacher.toml"), config(8)).unwrap();
    let stdout = succeeds(&["teacher", "train", "--config", "teacher.toml", "--out", "run"], &dir);
    assert!(stdout.contains("teacher nextitnet-2x16"), "{stdout}");
    let epochs = train_records(&dir.join("run"));
    assert_eq!(epochs.len(), 8);
    for r in &epochs {
        for name in ["valid_mrr", "valid_hr@10", "valid_ndcg@10", "test_hr@1", "test_ndcg@20"] {
            let v = r[name].as_f64().unwrap_or_else(|| panic!("{name} missing in {r}"));
            assert!((0.0..=1.0).contains(&v), "{name} = {v}");
        }
    }
    // Chance: HR@10 = 10/31 among 30 negatives; the planted structure is followed 80 % of the time.
    let best_hr = epochs.iter().map(|r| r["valid_hr@10"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(best_hr > 0.4, "NextItNet did not learn the successors: best valid HR@10 {best_hr}");
    let best: serde_json::Value = serde_json::from_slice(&read(&dir.join("run/best/best.json"))).unwrap();
    let ndcg: Vec<f64> = epochs.iter().map(|r| r["valid_ndcg@10"].as_f64().unwrap()).collect();
    let top = ndcg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(best["value"].as_f64(), Some(top), "best/ holds the epoch of the best valid NDCG@10");
    let result: serde_json::Value = serde_json::from_slice(&read(&dir.join("run/result.json"))).unwrap();
    assert_eq!(result["best_metrics"]["valid_ndcg@10"].as_f64(), Some(top));
    for file in ["model.mpk", "best/model.mpk", "config.toml", "plots/train_loss.png"] {
        assert!(dir.join("run").join(file).is_file(), "{file} missing");
    }
}

#[test]
fn a_stopped_run_resumes_exactly() {
    let dir = temp_dir("adarec-teacher-resume");
    std::fs::write(dir.join("teacher.toml"), config(2)).unwrap();
    succeeds(&["teacher", "train", "--config", "teacher.toml", "--out", "whole"], &dir);
    let stdout = succeeds(&["teacher", "train", "--config", "teacher.toml", "--out", "cut", "--stop-after", "1"], &dir);
    assert!(stdout.contains("--resume"), "{stdout}");
    assert_eq!(train_records(&dir.join("cut")).len(), 1);
    succeeds(&["teacher", "train", "--resume", "cut"], &dir);
    let lines = |run: &str| jsonl_without_field(&dir.join(run).join("train_metrics.jsonl"), "seconds");
    assert_eq!(lines("whole"), lines("cut"), "per-epoch records differ after the resume");
    let weights = |run: &str| mpk_without_param_ids(&read(&dir.join(run).join("model.mpk")));
    assert!(weights("whole") == weights("cut"), "final weights differ after the resume");
}

#[test]
fn bad_sequence_data_is_refused_with_its_location() {
    let dir = temp_dir("adarec-teacher-bad-data");
    let file_config = config(1).replace(
        "[data.synthetic]\nusers = 200\nitems = 100\nmin_len = 8\nmax_len = 20\n",
        "path = \"seqs.txt\"\nformat = \"pairs\"\n",
    );
    std::fs::write(dir.join("teacher.toml"), &file_config).unwrap();
    std::fs::write(dir.join("seqs.txt"), "1 5 100\n1 6 101\n1 7 oops\n").unwrap();
    let err = fails(&["teacher", "train", "--config", "teacher.toml", "--out", "run"], &dir);
    assert!(err.contains("seqs.txt:3"), "{err}");

    let no_source = config(1).replace("[data.synthetic]\nusers = 200\nitems = 100\nmin_len = 8\nmax_len = 20\n", "");
    std::fs::write(dir.join("none.toml"), no_source).unwrap();
    let err = fails(&["teacher", "train", "--config", "none.toml", "--out", "run2"], &dir);
    assert!(err.contains("data.path"), "{err}");
}
