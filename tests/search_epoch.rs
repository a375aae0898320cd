//! What one search epoch covers and reports: every training example once with the last batch partial
//! (DARTS's loader), and an evaluation-mode pass over the whole validation split at the epoch's end
//! that equals an independent evaluation of the checkpointed network and architecture, and the
//! derivation-epoch hook called exactly at the epochs `search.derive_from` picks, and the weight
//! learning-rate schedules a search shares with training.

mod common;

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::ElementConversion;
use burn::tensor::backend::Backend;
use common::instrumented::tiny_search;
use common::{Cpu, manifest, run_fresh_search, run_fresh_search_calling, temp_dir};
use kdnas::app::search_cmd::{SearchControl, run_prepared};
use kdnas::data::image_batch;
use kdnas::metrics::{correct_count, cross_entropy};
use kdnas::models::CellNetwork;
use kdnas::ops::conv2d::OpMode;
use kdnas::optim::LrSchedule;
use kdnas::run::best_epoch;
use kdnas::search::config::{DeriveEpoch, validation_figure};
use kdnas::search::prepare_new_run;
use kdnas::search::{EpochRecord, SearchConfig, SearchState};
use kdnas::supernet::{ArchParams, Relaxation};
use kdnas::tasks::image::RunConfig;
use std::cell::RefCell;
use std::path::Path;

/// The inner (non-autodiff) CPU backend, on which evaluation runs.
type NdCpu = <Cpu as burn::tensor::backend::AutodiffBackend>::InnerBackend;

#[test]
fn an_epoch_sees_every_training_example_once_with_a_partial_last_batch() {
    let _guard = common::serial();
    let (net, arch, task) = tiny_search(20, None);
    let config = SearchConfig { epochs: 1, batch_size: 8, ..SearchConfig::default() };
    run_fresh_search(&temp_dir("partial-batch"), &config, &task, net, arch, 0).unwrap();
    let batches = task.train_batches.into_inner();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [8, 8, 4]);
    let mut seen: Vec<usize> = batches.concat();
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>(), "every example exactly once");
}

const CONFIG: &str = r#"
space = "quickstart.toml"
seed = 3
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 3
[network]
channels = 4
layers = 3
[search]
epochs = 1
batch_size = 8
steps_per_epoch = 2
"#;

#[test]
fn the_epoch_end_evaluation_equals_an_independent_evaluation_of_the_checkpoint() {
    let _guard = common::serial();
    let config = RunConfig::parse(CONFIG, Path::new("eval.toml")).unwrap();
    let space_path = manifest("search_spaces/quickstart.toml");
    let dir = temp_dir("eval-pass");
    let text = std::fs::read_to_string(&space_path).unwrap();
    let run = prepare_new_run(config.clone(), &manifest("search_spaces"), &text, &space_path, &dir).unwrap();
    run_prepared::<Cpu>(
        &run,
        &SearchControl { resume: false, progress: false, stop_after: None, device: &Default::default() },
    )
    .unwrap();
    let state: SearchState =
        serde_json::from_slice(&std::fs::read(dir.join("checkpoint/state.json")).unwrap()).unwrap();
    let record = &state.history[0];

    let device = Default::default();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let space = kdnas::space::load_space(&space_path).unwrap();
    let net = CellNetwork::<NdCpu>::new(&space, &config.network, 1, 10, OpMode::Search, &device)
        .unwrap()
        .load_file(dir.join("checkpoint/net"), &recorder, &device)
        .unwrap();
    let arch =
        ArchParams::<NdCpu>::new(&space, &device).load_file(dir.join("checkpoint/arch"), &recorder, &device).unwrap();
    let (train_full, _) = config.data.load(&dir).unwrap();
    let (_, val) = train_full.split_at_fraction(config.search.train_fraction);
    let indices: Vec<usize> = (0..val.len()).collect();
    let (images, labels) = image_batch::<NdCpu>(&val, &indices, None, &device);
    let logits = net.forward(images, Some(&Relaxation::Softmax.weights(&arch, None, 0, 1)));
    let loss: f32 = cross_entropy(logits.clone(), labels.clone()).into_scalar().elem();
    let correct: i64 = correct_count(logits, labels).into_scalar().elem();
    assert_eq!(record.metric("val_eval_acc"), Some(correct as f64 / val.len() as f64));
    let eval_loss = record.metric("val_eval_loss").unwrap();
    assert!((eval_loss - loss as f64).abs() < 1e-5, "{eval_loss} vs {loss}");
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"val_eval_acc\"") && metrics.contains("\"val_acc\""), "{metrics}");
}

#[test]
fn the_derivation_hook_runs_at_each_epoch_the_genotype_would_come_from() {
    let _guard = common::serial();
    for derive_from in [DeriveEpoch::Last, DeriveEpoch::BestValidation] {
        let (net, arch, task) = tiny_search(12, None);
        let config = SearchConfig { epochs: 5, batch_size: 4, w_lr: 0.3, derive_from, ..SearchConfig::default() };
        let called = RefCell::new(Vec::new());
        let hook = |_: &CellNetwork<Cpu>, record: &EpochRecord| {
            called.borrow_mut().push(record.epoch);
            Ok(())
        };
        let dir = temp_dir("derive-hook");
        let outcome = run_fresh_search_calling(&dir, &config, &task, (net, arch), 0, Some(&hook)).unwrap();
        let history = &outcome.state.history;
        // Epoch e is a derivation epoch when the rule, applied to the first e + 1 records, picks it.
        let expected: Vec<usize> =
            (0..history.len()).filter(|&e| derive_from.pick(&history[..=e]).unwrap().epoch == e).collect();
        assert_eq!(*called.borrow(), expected, "{derive_from:?}");
        let last = derive_from.pick(history).unwrap().epoch;
        assert_eq!(called.borrow().last(), Some(&last), "{derive_from:?}: the last call is the genotype's epoch");
        let every_epoch = expected == (0..5).collect::<Vec<_>>();
        // With this seed validation accuracy falls in some epochs, so the two rules differ.
        assert_eq!(every_epoch, derive_from == DeriveEpoch::Last, "{derive_from:?}: {expected:?}");
    }
}

#[test]
fn a_search_follows_its_weight_schedule_and_the_default_is_not_written() {
    let _guard = common::serial();
    let (net, arch, task) = tiny_search(8, None);
    let step = LrSchedule::Step { milestones: vec![1, 2], gamma: 0.1 };
    let config = SearchConfig { epochs: 3, batch_size: 4, w_lr: 0.02, w_schedule: step, ..SearchConfig::default() };
    let outcome = run_fresh_search(&temp_dir("search-schedule"), &config, &task, net, arch, 0).unwrap();
    let lrs: Vec<f64> = outcome.state.history.iter().map(|r| r.lr).collect();
    for (got, want) in lrs.iter().zip([0.02, 0.002, 0.0002]) {
        assert!((got - want).abs() < 1e-12, "step decay at epochs 1 and 2: {lrs:?}");
    }
    let written = toml::to_string(&SearchConfig::default()).unwrap();
    assert!(!written.contains("w_schedule"), "the cosine default keeps older runs' fingerprints: {written}");
    let bad = format!("{CONFIG}w_schedule = {{ kind = \"step\", milestones = [0], gamma = 0.1 }}\n");
    let err = RunConfig::parse(&bad, Path::new("bad.toml")).unwrap_err();
    assert!(err.to_string().contains("search.w_schedule.milestones"), "{err}");
}

#[test]
fn a_search_with_patience_stops_at_the_first_epoch_without_a_better_validation_figure() {
    let _guard = common::serial();
    let config = SearchConfig { epochs: 5, batch_size: 4, w_lr: 0.3, ..SearchConfig::default() };
    // The same initial modules for both runs.
    Cpu::seed(&Default::default(), 11);
    let (net, arch, task) = tiny_search(12, None);
    let full = run_fresh_search(&temp_dir("search-no-patience"), &config, &task, net, arch, 0).unwrap();
    let patient = SearchConfig { patience: Some(1), ..config };
    Cpu::seed(&Default::default(), 11);
    let (net, arch, task) = tiny_search(12, None);
    let stopped = run_fresh_search(&temp_dir("search-patience"), &patient, &task, net, arch, 0).unwrap();
    let full = &full.state.history;
    // Patience 1: the first epoch that is not the best so far is the last one run.
    let last = (0..full.len()).find(|&e| best_epoch(&full[..=e], validation_figure).unwrap().epoch != e);
    let last = last.expect("with this seed validation accuracy falls in some epoch");
    let epochs: Vec<usize> = stopped.state.history.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, (0..=last).collect::<Vec<_>>());
    let timeless = |records: &[EpochRecord]| -> Vec<EpochRecord> {
        records.iter().map(|r| EpochRecord { seconds: 0.0, ..r.clone() }).collect()
    };
    assert_eq!(timeless(&stopped.state.history), timeless(&full[..=last]), "only where the run ends changes");
    assert!(!toml::to_string(&SearchConfig::default()).unwrap().contains("patience"));
    let err = RunConfig::parse(&format!("{CONFIG}patience = 0\n"), Path::new("bad.toml")).unwrap_err();
    assert!(err.to_string().contains("search.patience"), "{err}");
}
