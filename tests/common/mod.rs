//! Small builders shared by the integration tests (tiny shapes so the suite stays fast).
#![allow(dead_code)]

pub mod cli;
pub mod dfa;
pub mod instrumented;
pub mod smooth;

use burn::backend::{Autodiff, Flex};
use kdnas::data::ImageSet;
use kdnas::manifest::Fingerprint;
use kdnas::search::bilevel::StepSettings;
use kdnas::search::{
    OnDeriveEpoch, SearchConfig, SearchControl, SearchMode, SearchOutcome, SearchRun, SearchTask, run_search,
};
use kdnas::space::{ArchGraph, parse_space};
use kdnas::supernet::{ArchParams, Relaxation};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::{Path, PathBuf};

/// The CPU autodiff backend used by the tests.
pub type Cpu = Autodiff<Flex>;

/// Path inside the crate.
pub fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The quickstart space (2 nodes, 5 ops).
pub fn quickstart_space() -> ArchGraph {
    kdnas::space::load_space(&manifest("search_spaces/quickstart.toml")).unwrap()
}

/// A space from inline text.
pub fn space(text: &str) -> ArchGraph {
    parse_space(text, Path::new("inline.toml")).unwrap()
}

/// `n` random images of `channels` x `side` x `side` with labels below `classes`.
pub fn random_images(n: usize, channels: usize, side: usize, classes: u8, seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let images = (0..n * channels * side * side).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let labels = (0..n).map(|i| (i % classes as usize) as u8).collect();
    ImageSet { images, labels, channels, height: side, width: side, classes: classes as usize }
}

/// A fresh empty temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdnas-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serialises tests of one binary that seed burn's global CPU RNG (tests run on parallel threads).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---- Command-line crash tests (tests/kill_resume.rs, tests/write_failure.rs) ----

/// The `kdnas` binary cargo built for the tests (run in place: copying it and executing the copy from
/// parallel test threads races with fork, ETXTBSY).
pub fn kdnas_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kdnas"))
}

/// Writes the run config `name` into `dir`: `body` after a `space` line naming the bundled quickstart
/// space by the absolute path it has on this machine (computed at run time, never committed).
pub fn write_run_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let space = manifest("search_spaces/quickstart.toml");
    let quoted = serde_json::to_string(space.to_str().expect("UTF-8 path")).unwrap(); // a valid TOML string
    let path = dir.join(name);
    std::fs::write(&path, format!("space = {quoted}\n{body}")).unwrap();
    path
}

/// Writes `genotype.json` into `dir`: the quickstart space with every choice's second candidate strongest.
pub fn write_quickstart_genotype(dir: &Path) -> PathBuf {
    let space = quickstart_space();
    let probs: Vec<Vec<Vec<f32>>> = space
        .groups
        .iter()
        .map(|g| {
            (0..g.rows()).map(|_| (0..g.candidates.len()).map(|c| if c == 1 { 0.6 } else { 0.1 }).collect()).collect()
        })
        .collect();
    let path = dir.join("genotype.json");
    kdnas::export::Genotype::derive(&space, &probs, kdnas::export::DeriveRule::Darts).save(&path).unwrap();
    path
}

/// The lines of a JSON-lines file with the member `"field":value` cut out of each line's text; numbers
/// keep the digits they were written with, so equal lines mean bit-identical values.
pub fn jsonl_without_field(path: &Path, field: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let key = format!("\"{field}\":");
    text.lines()
        .map(|line| {
            let Some(start) = line.find(&key) else { return line.to_string() };
            let value_len = line[start + key.len()..].find([',', '}']).expect("a flat JSON object");
            let end = start + key.len() + value_len;
            let cut = if line[end..].starts_with(',') {
                line[..start].to_string() + &line[end + 1..]
            } else {
                line[..start].trim_end_matches(',').to_string() + &line[end..]
            };
            serde_json::from_str::<serde_json::Value>(&cut).unwrap_or_else(|e| panic!("{cut}: {e}"));
            cut
        })
        .collect()
}

/// The bytes of a burn `.mpk` record with every parameter id blanked (burn draws a random id per
/// parameter in every process), so two records are equal exactly when their tensors are.
pub fn mpk_without_param_ids(record: &[u8]) -> Vec<u8> {
    let mut bytes = record.to_vec();
    let mut at = 0;
    // Each id is the MessagePack pair `"id": <string of up to 31 bytes>`.
    while let Some(found) = bytes[at..].windows(4).position(|w| w[..3] == *b"\xa2id" && (0xa0..=0xbf).contains(&w[3])) {
        let start = at + found + 4;
        let end = (start + usize::from(bytes[start - 1] & 0x1f)).min(bytes.len());
        bytes[start..end].fill(b'_');
        at = end;
    }
    assert!(at > 0, "no parameter id found: has burn's record format changed?");
    bytes
}

/// One kind of `kdnas` run (search, or training of a derived network) as the crash tests drive it:
/// started anew, resumed, and compared with a reference run of the same command.
pub struct CliRun {
    /// The subcommand: `search` or `train`.
    pub command: &'static str,
    /// Arguments of a new run, before `--out DIR`.
    pub start: Vec<std::ffi::OsString>,
    /// What the command line says when a new run would overwrite a checkpointed one.
    pub refusal: &'static str,
    /// The JSON-lines file that gains one line per finished epoch.
    pub metrics: &'static str,
}

impl CliRun {
    /// `kdnas search --config CONFIG`.
    pub fn search(config: &Path) -> Self {
        CliRun {
            command: "search",
            start: vec!["search".into(), "--config".into(), config.into()],
            refusal: "already holds a search",
            metrics: "metrics.jsonl",
        }
    }

    /// `kdnas train --genotype GENOTYPE --config CONFIG`.
    pub fn training(genotype: &Path, config: &Path) -> Self {
        CliRun {
            command: "train",
            start: vec!["train".into(), "--genotype".into(), genotype.into(), "--config".into(), config.into()],
            refusal: "already holds a training run",
            metrics: "train_metrics.jsonl",
        }
    }

    /// The arguments that start a new run writing into `out`.
    pub fn start_args(&self, out: &Path) -> Vec<std::ffi::OsString> {
        let mut args = self.start.clone();
        args.extend(["--out".into(), out.into()]);
        args
    }

    /// The arguments that resume the run in `out`.
    pub fn resume_args(&self, out: &Path) -> Vec<std::ffi::OsString> {
        vec![self.command.into(), "--resume".into(), out.into()]
    }

    /// Finished epochs of the run in `out`, as its metrics file records them.
    pub fn finished_epochs(&self, out: &Path) -> usize {
        std::fs::read_to_string(out.join(self.metrics)).map_or(0, |text| text.lines().count())
    }

    /// The metrics lines of the run in `out` without their wall-clock seconds.
    fn metrics_of(&self, out: &Path) -> Vec<String> {
        jsonl_without_field(&out.join(self.metrics), "seconds")
    }

    /// Asserts that the finished run in `run` ended bit-identical to the finished run in `reference`.
    /// Search: every epoch's architecture weights in `checkpoint/state.json` (`history[*].arch_weights`),
    /// `arch_weights.jsonl`, and `metrics.jsonl` apart from wall-clock seconds. Training:
    /// `train_metrics.jsonl` apart from seconds, the tensors of `model.mpk` (its bytes apart
    /// from parameter ids), and `result.json` apart from seconds.
    pub fn assert_same_result(&self, reference: &Path, run: &Path) {
        let bytes = |dir: &Path, file: &str| std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (expected, got) = (self.metrics_of(reference), self.metrics_of(run));
        if let Some(line) = (0..expected.len().max(got.len())).find(|&i| expected.get(i) != got.get(i)) {
            panic!(
                "{}: line {} of {} differs from the reference (seconds left out)\n  reference: {:?}\n  this run:  {:?}",
                run.display(),
                line + 1,
                self.metrics,
                expected.get(line),
                got.get(line)
            );
        }
        if self.command == "search" {
            let arch_weights = |dir: &Path| -> Vec<serde_json::Value> {
                let state: serde_json::Value = serde_json::from_slice(&bytes(dir, "checkpoint/state.json")).unwrap();
                state["history"].as_array().unwrap().iter().map(|epoch| epoch["arch_weights"].clone()).collect()
            };
            assert_eq!(arch_weights(reference), arch_weights(run), "{}: checkpoint arch weights differ", run.display());
            let jsonl = "arch_weights.jsonl";
            assert!(bytes(reference, jsonl) == bytes(run, jsonl), "{}: {jsonl} differs", run.display());
        } else {
            let net = |dir: &Path| mpk_without_param_ids(&bytes(dir, "model.mpk"));
            assert!(net(reference) == net(run), "{}: model.mpk differs", run.display());
            let result = |dir: &Path| {
                let mut value: serde_json::Value = serde_json::from_slice(&bytes(dir, "result.json")).unwrap();
                value.as_object_mut().unwrap().remove("seconds");
                value
            };
            assert_eq!(result(reference), result(run), "{}: result.json differs", run.display());
        }
    }
}

/// Runs the `kdnas` binary `bin` with `args` to its end and returns its output; panics with its stderr
/// unless it succeeds.
pub fn run_kdnas_ok(bin: &Path, args: &[std::ffi::OsString]) -> std::process::Output {
    let output = std::process::Command::new(bin).args(args).output().expect("start kdnas");
    assert!(output.status.success(), "kdnas {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The bytes of a file, panicking with its path.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The per-epoch records of a training run directory (`train_metrics.jsonl`).
pub fn train_records(run: &Path) -> Vec<serde_json::Value> {
    let text = String::from_utf8(read(&run.join("train_metrics.jsonl"))).unwrap();
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Search-step settings of `mode` at epoch 0 of 1 with softmax weights, weight rate (also the virtual
/// step's eta) `w_lr`, architecture rate `arch_lr` and clip norm 5.
pub fn softmax_step_settings(mode: SearchMode, w_lr: f64, arch_lr: f64) -> StepSettings<'static, Cpu> {
    StepSettings {
        mode,
        relaxation: &Relaxation::Softmax,
        noise: None,
        w_lr,
        arch_lr,
        grad_clip: 5.0,
        epoch: 0,
        epochs: 1,
        step: 0,
        arch_moves: true,
    }
}

/// Runs a new search (no resume, no progress) of `task` from `net` and `arch` under `config` with
/// `seed` in the fresh directory `dir`.
pub fn run_fresh_search<T: SearchTask<Cpu>>(
    dir: &Path,
    config: &SearchConfig,
    task: &T,
    net: T::Net,
    arch: ArchParams<Cpu>,
    seed: u64,
) -> kdnas::Result<SearchOutcome<Cpu, T::Net>> {
    run_fresh_search_calling(dir, config, task, (net, arch), seed, None)
}

/// [`run_fresh_search`] of `(net, arch)` that calls `on_derive_epoch` at each new derivation epoch.
pub fn run_fresh_search_calling<T: SearchTask<Cpu>>(
    dir: &Path,
    config: &SearchConfig,
    task: &T,
    (net, arch): (T::Net, ArchParams<Cpu>),
    seed: u64,
    on_derive_epoch: Option<OnDeriveEpoch<T::Net>>,
) -> kdnas::Result<SearchOutcome<Cpu, T::Net>> {
    let device = Default::default();
    let fingerprint = Fingerprint::new(config, &[], &net)?;
    let run = SearchRun {
        config,
        seed,
        run_dir: dir,
        control: &SearchControl { resume: false, progress: false, stop_after: None, device: &device },
        fingerprint: &fingerprint,
        on_derive_epoch,
    };
    run_search(task, net, arch, &run)
}
