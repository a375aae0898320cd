//! Derived-network training checkpoints every epoch: a run stopped after epoch 1 and resumed ends
//! exactly where an uninterrupted run ends, and a directory holding a run is not overwritten.

mod common;

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::{Distribution, Tensor};
use common::{Cpu, temp_dir};
use kdnas::app::train_cmd::{TrainArgs, TrainStart, train_command};
use kdnas::export::Genotype;
use kdnas::models::CellNetwork;
use kdnas::ops::conv2d::OpMode;
use kdnas::run::RunSummary;
use kdnas::tasks::image::RunConfig;
use std::path::{Path, PathBuf};

/// The inner (non-autodiff) CPU backend, for evaluating saved networks.
type NdCpu = <Cpu as burn::tensor::backend::AutodiffBackend>::InnerBackend;

const CONFIG: &str = r#"
space = "quickstart.toml"
seed = 7
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 3
limit_test_per_class = 2
[network]
channels = 4
layers = 3
[train]
epochs = 2
batch_size = 8
augment = true
cutout = 8
drop_path = 0.3
"#;

/// A genotype of the quickstart space (every choice's second candidate strongest) and a config beside it.
fn genotype_dir(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    common::write_quickstart_genotype(&dir);
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    dir
}

fn new_run(dir: &Path, out: &str, stop_after: Option<usize>) -> kdnas::Result<kdnas::app::train_cmd::TrainSummary> {
    let start = TrainStart::New { genotype: dir.join("genotype.json"), config: None, epochs: None, seed: None };
    train_command::<Cpu>(&TrainArgs { start, out: dir.join(out), progress: false, stop_after }, &Default::default())
}

/// The trained network a finished run saved, in evaluation mode.
fn saved_network(out: &Path) -> CellNetwork<NdCpu> {
    let config = RunConfig::load(&out.join("config.toml")).unwrap();
    let genotype = Genotype::load(&out.join("genotype.json")).unwrap();
    let device = Default::default();
    let net =
        CellNetwork::<NdCpu>::new(&genotype.to_arch_graph().unwrap(), &config.network, 1, 10, OpMode::Derived, &device)
            .unwrap();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    net.load_file(out.join("model"), &recorder, &device).unwrap()
}

/// Every metric of every epoch except its wall-clock seconds.
fn metrics_without_time(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("train_metrics.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            record.as_object_mut().unwrap().remove("seconds");
            record
        })
        .collect()
}

#[test]
fn resumed_training_matches_uninterrupted_training() {
    let _guard = common::serial();
    let dir = genotype_dir("train-resume");
    let whole = new_run(&dir, "whole", None).unwrap();
    assert!(whole.finished() && whole.epochs == 2);

    let stopped = new_run(&dir, "split", Some(1)).unwrap();
    assert_eq!((stopped.epochs, stopped.finished()), (1, false));
    assert!(!dir.join("split/result.json").exists(), "no final result before the last epoch");
    let resume = TrainArgs { start: TrainStart::Resume, out: dir.join("split"), progress: false, stop_after: None };
    let first_epoch = std::fs::read_to_string(dir.join("split/train_metrics.jsonl")).unwrap();
    let resumed = train_command::<Cpu>(&resume, &Default::default()).unwrap();
    assert_eq!((resumed.epochs, resumed.epochs_run), (2, 1), "a resume trains only the epoch after the checkpoint");
    let both_epochs = std::fs::read_to_string(dir.join("split/train_metrics.jsonl")).unwrap();
    assert!(both_epochs.starts_with(&first_epoch), "epoch 1's record (wall time included) comes from the checkpoint");

    assert_eq!(metrics_without_time(&dir.join("whole")), metrics_without_time(&dir.join("split")));
    assert_eq!(resumed.test_acc, whole.test_acc);
    let probe = Tensor::<NdCpu, 4>::random([3, 1, 28, 28], Distribution::Normal(0.0, 1.0), &Default::default());
    let logits = |run: &str| -> Vec<f32> {
        saved_network(&dir.join(run)).forward(probe.clone(), None).into_data().into_vec().unwrap()
    };
    assert_eq!(logits("whole"), logits("split"), "identical final weights");
}

#[test]
fn a_new_run_does_not_overwrite_a_checkpointed_one() {
    let _guard = common::serial();
    let dir = genotype_dir("train-no-overwrite");
    new_run(&dir, "out", Some(1)).unwrap();
    let err = new_run(&dir, "out", None).unwrap_err().to_string();
    assert!(err.contains("already holds a training run") && err.contains("--resume"), "{err}");
}
