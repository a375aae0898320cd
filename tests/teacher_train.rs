//! `kdnas teacher train`: a tiny ResNet-8 on a bundled-data subset writes its per-epoch records (loss
//! terms and evaluation metrics by name), the best and final weights and its curves; a run stopped
//! after epoch 1 and resumed ends bit-identical to an uninterrupted one; a changed or invalid config is
//! refused with an error that says where.

mod common;

use common::cli::{fails, succeeds};
use common::{jsonl_without_field, mpk_without_param_ids, read, temp_dir, train_records};
use std::path::Path;

/// Two epochs of ResNet-8 on 10 training and 5 test images per class.
const CONFIG: &str = r#"seed = 3

[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 10
limit_test_per_class = 5

[model]
kind = "resnet"
depth = 8

[train]
epochs = 2
batch_size = 16
lr = 0.05
weight_decay = 5e-4
grad_clip = 0
schedule = { kind = "step", milestones = [1], gamma = 0.1 }
snapshot_every = 1
"#;

#[test]
fn trains_keeps_the_best_epoch_and_resumes_exactly() {
    let dir = temp_dir("teacher-train");
    std::fs::write(dir.join("teacher.toml"), CONFIG).unwrap();
    let new = |out: &'static str| ["teacher", "train", "--config", "teacher.toml", "--out", out];

    let whole = dir.join("whole");
    let stdout = succeeds(&new("whole"), &dir);
    assert!(stdout.contains("teacher resnet8") && stdout.contains("after 2 of 2 epochs"), "{stdout}");
    let epochs = train_records(&whole);
    assert_eq!(epochs.len(), 2);
    for (i, r) in epochs.iter().enumerate() {
        assert_eq!(r["epoch"], i);
        assert!(r["terms"]["cross_entropy"].as_f64().unwrap() > 0.0, "{r}");
        let (top1, top5) = (r["test_acc"].as_f64().unwrap(), r["test_top5"].as_f64().unwrap());
        assert!((0.0..=1.0).contains(&top1) && top1 <= top5, "{r}");
    }
    assert_eq!(epochs[0]["lr"], 0.05, "step schedule: full rate before the milestone");
    assert!((epochs[1]["lr"].as_f64().unwrap() - 0.005).abs() < 1e-12, "and a tenth after it");
    let best: serde_json::Value = serde_json::from_slice(&read(&whole.join("best/best.json"))).unwrap();
    let accs: Vec<f64> = epochs.iter().map(|r| r["test_acc"].as_f64().unwrap()).collect();
    let best_epoch = if accs[1] > accs[0] { 1 } else { 0 };
    assert_eq!((best["epoch"].as_u64(), best["value"].as_f64()), (Some(best_epoch), Some(accs[best_epoch as usize])));
    for file in [
        "model.mpk",
        "model.json",
        "result.json",
        "best/model.mpk",
        "snapshots/epoch_0001.mpk",
        "snapshots/epoch_0002.mpk",
        "plots/train_loss.png",
        "plots/train_accuracy.svg",
    ] {
        assert!(whole.join(file).is_file(), "{file} missing");
    }
    let snapshot = mpk_without_param_ids(&read(&whole.join("snapshots/epoch_0002.mpk")));
    assert!(snapshot == mpk_without_param_ids(&read(&whole.join("model.mpk"))), "last snapshot = final weights");

    let split = dir.join("split");
    let stdout = succeeds(&[&new("split")[..], &["--stop-after", "1"]].concat(), &dir);
    assert!(stdout.contains("kdnas teacher train --resume"), "{stdout}");
    assert!(!split.join("model.mpk").exists() && !split.join("result.json").exists(), "no final weights yet");
    let first_epoch = String::from_utf8(read(&split.join("train_metrics.jsonl"))).unwrap();
    let again = fails(&new("split"), &dir);
    assert!(again.contains("already holds a training run"), "{again}");
    succeeds(&["teacher", "train", "--resume", "split"], &dir);
    let both = String::from_utf8(read(&split.join("train_metrics.jsonl"))).unwrap();
    assert!(both.starts_with(&first_epoch), "epoch 1's record (wall time included) comes from the checkpoint");
    let metrics = |run: &Path| jsonl_without_field(&run.join("train_metrics.jsonl"), "seconds");
    assert_eq!(metrics(&whole), metrics(&split));
    let weights = |run: &Path, file: &str| mpk_without_param_ids(&read(&run.join(file)));
    assert!(weights(&whole, "model.mpk") == weights(&split, "model.mpk"), "bit-identical final weights");
    assert!(weights(&whole, "best/model.mpk") == weights(&split, "best/model.mpk"), "and best weights");

    let (model, metrics_text) = (read(&split.join("model.mpk")), read(&split.join("train_metrics.jsonl")));
    let stdout = succeeds(&["teacher", "train", "--resume", "split"], &dir);
    assert!(stdout.contains("after 2 of 2 epochs"), "{stdout}");
    assert_eq!(read(&split.join("model.mpk")), model, "resuming a finished run trains nothing");
    assert_eq!(read(&split.join("train_metrics.jsonl")), metrics_text);
}

#[test]
fn a_changed_config_is_not_resumed() {
    let dir = temp_dir("teacher-changed");
    std::fs::write(dir.join("teacher.toml"), CONFIG.replace("epochs = 2", "epochs = 3")).unwrap();
    let start = ["teacher", "train", "--config", "teacher.toml", "--out", "run", "--stop-after", "1"];
    succeeds(&start, &dir);
    let config = dir.join("run/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("lr = 0.05", "lr = 0.1")).unwrap();
    let err = fails(&["teacher", "train", "--resume", "run"], &dir);
    assert!(err.contains("config `train.lr`: 0.05 in the checkpoint, 0.1 now"), "{err}");
}

#[test]
fn invalid_configs_name_file_line_and_field() {
    let dir = temp_dir("teacher-invalid");
    let line = |text: &str, key: &str| text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    let cases = [
        (CONFIG.replace("depth = 8", "depth = 21"), "depth =", "`model.depth`"),
        (CONFIG.replace("batch_size = 16", "batch_size = 0"), "batch_size =", "`train.batch_size`"),
        (CONFIG.replace("lr = 0.05", "lr = 0.05\nchannels = 8"), "channels =", "`train.channels`"),
        (CONFIG.replace("milestones = [1]", "milestones = [2, 1]"), "schedule =", "`train.schedule.milestones`"),
        (CONFIG.replace("lr = 0.05", "lr = 0.05\nepochz = 3"), "epochz =", "`epochz`"),
    ];
    for (i, (text, key, field)) in cases.iter().enumerate() {
        let name = format!("bad{i}.toml");
        std::fs::write(dir.join(&name), text).unwrap();
        let err = fails(&["teacher", "train", "--config", &name, "--out", "run"], &dir);
        let at = format!("{name}:{}: {field}", line(text, key));
        assert!(err.contains(&at), "case {i}: expected `{at}` in {err}");
    }
    assert!(!dir.join("run").exists(), "nothing is written for an invalid config");
}
