//! The weight optimisers (issue 8): Adam and AdamW against PyTorch's formulas computed by hand in f64
//! (weight decay, bias correction, a parameter without a gradient skipped), their state files (an
//! exact round trip; a corrupt, truncated or foreign file is an error naming it), the choice in the
//! configs (validation, old configs meaning SGD), and exact resumes of a training run and a
//! single-level search stepped by AdamW.

mod common;

use burn::backend::Flex;
use burn::module::{Module, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use common::{CliRun, Cpu, kdnas_binary, run_kdnas_ok, temp_dir, write_quickstart_genotype, write_run_config};
use kdnas::optim::{AdamDecay, AdamW, OptimizerKind, WeightOptimizerConfig};
use kdnas::search::{SearchConfig, SearchMode};
use kdnas::train::TrainConfig;
use std::path::Path;

/// Two parameters: `a` gets a gradient at every step, `b` at steps 1 and 3 only.
#[derive(Module, Debug)]
struct Pair<B: Backend> {
    a: Param<Tensor<B, 1>>,
    b: Param<Tensor<B, 1>>,
}

const A0: [f64; 3] = [0.5, -1.0, 2.0];
const B0: [f64; 3] = [0.3, -0.7, 1.2];
const GRADS_A: [[f64; 3]; 3] = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.05], [0.2, 0.2, -0.6]];
const GRADS_B: [Option<[f64; 3]>; 3] = [Some([1.0, -2.0, 0.5]), None, Some([0.3, 0.1, -0.2])];
/// Learning rate of each step (as a schedule would change it).
const LRS: [f64; 3] = [0.1, 0.05, 0.02];

fn tensor(values: &[f64]) -> Tensor<Flex, 1> {
    let values: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_floats(values.as_slice(), &Default::default())
}

fn param(id: ParamId, values: &[f64]) -> Param<Tensor<Cpu, 1>> {
    Param::initialized(id, Tensor::from_inner(tensor(values)).require_grad())
}

fn pair(ids: [ParamId; 2]) -> Pair<Cpu> {
    Pair { a: param(ids[0], &A0), b: param(ids[1], &B0) }
}

fn values(p: &Param<Tensor<Cpu, 1>>) -> Vec<f32> {
    p.val().inner().into_data().convert::<f32>().into_vec().unwrap()
}

/// The hand-set gradients of step `k` (0-based).
fn grads(net: &Pair<Cpu>, k: usize) -> GradientsParams {
    let mut g = GradientsParams::new();
    g.register(net.a.id, tensor(&GRADS_A[k]));
    if let Some(gb) = GRADS_B[k] {
        g.register(net.b.id, tensor(&gb));
    }
    g
}

/// Hyper-parameters of a reference run.
struct Hyper {
    betas: [f64; 2],
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
}

/// One parameter under PyTorch's Adam / AdamW, in f64.
struct Reference {
    w: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Reference {
    fn new(w: &[f64]) -> Self {
        Reference { w: w.to_vec(), m: vec![0.0; w.len()], v: vec![0.0; w.len()], t: 0 }
    }

    /// torch.optim.Adam(W).step() for this parameter with gradient `g`.
    fn step(&mut self, g: &[f64], lr: f64, h: &Hyper) {
        let [b1, b2] = h.betas;
        self.t += 1;
        for (k, &g) in g.iter().enumerate() {
            let mut grad = g;
            if h.decoupled {
                self.w[k] -= lr * h.weight_decay * self.w[k];
            } else {
                grad += h.weight_decay * self.w[k];
            }
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * grad;
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * grad * grad;
            let m_hat = self.m[k] / (1.0 - b1.powi(self.t));
            let v_hat = self.v[k] / (1.0 - b2.powi(self.t));
            self.w[k] -= lr * m_hat / (v_hat.sqrt() + h.eps);
        }
    }
}

fn assert_close(actual: &[f32], expected: &[f64], what: &str) {
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!((a as f64 - e).abs() <= 1e-6, "{what}[{k}]: {a} vs PyTorch {e}");
    }
}

/// Three steps of `config` on [`Pair`] against the reference with `h`.
fn follows_pytorch(config: &WeightOptimizerConfig, h: &Hyper) {
    let mut opt = config.init::<Cpu>();
    let mut net = pair([ParamId::new(), ParamId::new()]);
    let (mut ref_a, mut ref_b) = (Reference::new(&A0), Reference::new(&B0));
    for k in 0..3 {
        let b_before = values(&net.b);
        let g = grads(&net, k);
        net = opt.step(net, &g, LRS[k]);
        ref_a.step(&GRADS_A[k], LRS[k], h);
        match GRADS_B[k] {
            Some(gb) => ref_b.step(&gb, LRS[k], h),
            None => assert_eq!(values(&net.b), b_before, "step {}: b has no gradient and stays", k + 1),
        }
        assert_close(&values(&net.a), &ref_a.w, &format!("a after step {}", k + 1));
        assert_close(&values(&net.b), &ref_b.w, &format!("b after step {}", k + 1));
    }
    // b took 2 steps: its third update used the bias corrections of t = 2. With t = 3 it would differ.
    assert_eq!((ref_a.t, ref_b.t), (3, 2));
}

#[test]
fn adamw_follows_pytorch_with_decoupled_decay_and_per_parameter_steps() {
    let h = Hyper { betas: [0.8, 0.95], eps: 1e-3, weight_decay: 0.2, decoupled: true };
    let config = WeightOptimizerConfig::AdamW { betas: h.betas, eps: h.eps, weight_decay: h.weight_decay };
    follows_pytorch(&config, &h);
}

#[test]
fn adam_follows_pytorch_with_decay_in_the_gradient_and_pytorch_defaults() {
    let config = OptimizerKind::Adam.config(0.9, 0.2, None, None);
    let h = Hyper { betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.2, decoupled: false };
    assert_eq!(config, WeightOptimizerConfig::Adam { betas: h.betas, eps: h.eps, weight_decay: 0.2 });
    follows_pytorch(&config, &h);
}

/// An AdamW after `steps` of the hand-set gradients, and the network it stepped.
fn stepped(steps: usize, ids: [ParamId; 2]) -> (AdamW<Cpu>, Pair<Cpu>) {
    let mut adam = AdamW::<Cpu>::new([0.8, 0.95], 1e-8, 0.1, AdamDecay::Decoupled);
    let mut net = pair(ids);
    for (k, &lr) in LRS.iter().enumerate().take(steps) {
        let g = grads(&net, k);
        net = adam.step(net, &g, lr);
    }
    (adam, net)
}

#[test]
fn saved_moments_continue_exactly() {
    let dir = temp_dir("adam-round-trip");
    let file = dir.join("adam_moments.bin");
    let ids = [ParamId::new(), ParamId::new()];
    let (adam, net) = stepped(2, ids);
    adam.save(&file).unwrap();
    let (mut whole, net_whole) = (adam, net.clone());
    let continued = whole.step(net_whole, &grads(&net, 2), LRS[2]);

    let mut restored = AdamW::<Cpu>::new([0.8, 0.95], 1e-8, 0.1, AdamDecay::Decoupled);
    restored.load(&file, &net, &Default::default()).unwrap();
    let resumed = restored.step(net.clone(), &grads(&net, 2), LRS[2]);
    assert_eq!((values(&resumed.a), values(&resumed.b)), (values(&continued.a), values(&continued.b)));

    let mut fresh = AdamW::<Cpu>::new([0.8, 0.95], 1e-8, 0.1, AdamDecay::Decoupled);
    let unrestored = fresh.step(net.clone(), &grads(&net, 2), LRS[2]);
    assert_ne!(values(&unrestored.a), values(&continued.a), "the state must matter for this test to mean anything");
}

/// The error of loading `bytes` as the moments of `net`.
fn load_error(dir: &Path, bytes: &[u8], net: &Pair<Cpu>) -> String {
    let file = dir.join("broken.bin");
    std::fs::write(&file, bytes).unwrap();
    let mut adam = AdamW::<Cpu>::new([0.9, 0.999], 1e-8, 0.0, AdamDecay::Decoupled);
    let err = adam.load(&file, net, &Default::default()).unwrap_err().to_string();
    assert!(err.contains(&file.display().to_string()) && err.contains("Adam moments"), "{err}");
    err
}

#[test]
fn a_corrupt_truncated_or_foreign_moments_file_is_an_error_naming_it() {
    let dir = temp_dir("adam-corrupt");
    let ids = [ParamId::new(), ParamId::new()];
    let (adam, net) = stepped(1, ids);
    adam.save(&dir.join("good.bin")).unwrap();
    let good = std::fs::read(dir.join("good.bin")).unwrap();

    assert!(load_error(&dir, &good[..good.len() - 3], &net).contains("truncated"));
    assert!(load_error(&dir, &[&good[..], &[0u8; 5]].concat(), &net).contains("5 bytes after the last entry"));
    let other = pair([ParamId::new(), ParamId::new()]);
    assert!(load_error(&dir, &good, &other).contains("belongs to no parameter"));
    let longer = Pair { a: param(ids[0], &[1.0, 2.0, 3.0, 4.0]), b: param(ids[1], &B0) };
    assert!(load_error(&dir, &good, &longer).contains("holds 3 values, its parameter 4"));
    // The first entry's step count (after the entry count and the id) set to 0.
    let mut zero_steps = good.clone();
    zero_steps[16..24].fill(0);
    assert!(load_error(&dir, &zero_steps, &net).contains("0 steps"));
}

#[test]
fn a_checkpoint_of_another_optimiser_is_refused_by_name() {
    let dir = temp_dir("optimiser-swap");
    let net = pair([ParamId::new(), ParamId::new()]);
    let mut sgd = OptimizerKind::Sgd.config(0.9, 0.0, None, None).init::<Cpu>();
    let net = sgd.step(net.clone(), &grads(&net, 0), 0.1);
    sgd.save(&dir).unwrap();
    let mut adamw = OptimizerKind::AdamW.config(0.9, 0.0, None, None).init::<Cpu>();
    let err = adamw.load(&dir, &net, &Default::default()).unwrap_err().to_string();
    assert!(err.contains("adam_moments.bin") && err.contains("sgd_velocity.bin"), "{err}");
    assert!(err.contains("another weight optimiser"), "{err}");
}

#[test]
fn configs_name_the_optimiser_and_validation_names_the_field() {
    let old: TrainConfig = toml::from_str("lr = 0.1\nmomentum = 0.8\nweight_decay = 1e-4").unwrap();
    assert_eq!(old.weight_optimizer(), WeightOptimizerConfig::Sgd { momentum: 0.8, weight_decay: 1e-4 });
    assert!(!toml::to_string(&old).unwrap().contains("optimizer"), "sgd stays out of written configs");
    let adamw: TrainConfig = toml::from_str("optimizer = \"adamw\"\nweight_decay = 5e-4\nbetas = [0.8, 0.9]").unwrap();
    let expected = WeightOptimizerConfig::AdamW { betas: [0.8, 0.9], eps: 1e-8, weight_decay: 5e-4 };
    assert_eq!(adamw.weight_optimizer(), expected);
    assert!(toml::from_str::<TrainConfig>("optimizer = \"rmsprop\"").is_err());

    let invalid = |config: TrainConfig| config.validate().unwrap_err().to_string();
    let with = |optimizer, betas, eps| TrainConfig { optimizer, betas, eps, ..TrainConfig::default() };
    assert!(invalid(with(OptimizerKind::AdamW, Some([0.9, 1.0]), None)).starts_with("train.betas[1]: 1"));
    assert!(invalid(with(OptimizerKind::Adam, None, Some(0.0))).starts_with("train.eps: 0"));
    let unused = invalid(with(OptimizerKind::Sgd, Some([0.9, 0.999]), None));
    assert!(unused.starts_with("train.betas: only adam and adamw") && unused.contains("train.optimizer is sgd"));

    let search = SearchConfig { w_optimizer: OptimizerKind::AdamW, ..SearchConfig::default() };
    search.validate().unwrap();
    let second = SearchConfig { mode: SearchMode::SecondOrder, ..search.clone() }.validate().unwrap_err().to_string();
    assert_eq!(second, "search.w_optimizer: second order needs sgd (DARTS's virtual step is an SGD step)");
    let eps = SearchConfig { w_eps: Some(-1.0), ..search }.validate().unwrap_err().to_string();
    assert!(eps.starts_with("search.w_eps: -1"), "{eps}");
}

/// Runs `kind` uninterrupted and stopped after epoch 1, checks the checkpoint holds the AdamW moments
/// and that a resume with another optimiser is refused naming `field`, resumes it to the end and
/// compares it with the uninterrupted run.
fn resumes_exactly(dir: &Path, kind: &CliRun, field: &str) {
    let bin = kdnas_binary();
    let (reference, run) = (dir.join("reference"), dir.join("run"));
    run_kdnas_ok(&bin, &kind.start_args(&reference));
    let mut first_epoch = kind.start_args(&run);
    first_epoch.extend(["--stop-after".into(), "1".into()]);
    run_kdnas_ok(&bin, &first_epoch);
    let checkpoint = run.join("checkpoint");
    assert!(checkpoint.join("adam_moments.bin").is_file() && !checkpoint.join("sgd_velocity.bin").exists());

    let config_path = run.join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains("\"adamw\""), "{config}");
    std::fs::write(&config_path, config.replace("\"adamw\"", "\"adam\"")).unwrap();
    let refused = std::process::Command::new(&bin).args(kind.resume_args(&run)).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains(field), "{stderr}");
    std::fs::write(&config_path, config).unwrap();

    run_kdnas_ok(&bin, &kind.resume_args(&run));
    kind.assert_same_result(&reference, &run);
    std::fs::remove_dir_all(dir).unwrap(); // kept for inspection when a check fails
}

#[test]
fn training_with_adamw_resumes_exactly() {
    let dir = temp_dir("adamw-train-resume");
    let body = "seed = 13\n[data]\nsource = \"bundled-fashion-mnist\"\nlimit_train_per_class = 3\n\
                limit_test_per_class = 2\n[network]\nchannels = 4\nlayers = 3\n[train]\nepochs = 2\nbatch_size = 8\n\
                optimizer = \"adamw\"\nlr = 0.005\nweight_decay = 5e-4\n";
    let config = write_run_config(&dir, "train.toml", body);
    let genotype = write_quickstart_genotype(&dir);
    resumes_exactly(&dir, &CliRun::training(&genotype, &config), "train.optimizer");
}

#[test]
fn single_level_search_with_adamw_resumes_exactly() {
    let dir = temp_dir("adamw-search-resume");
    let body = "seed = 11\n[data]\nsource = \"bundled-fashion-mnist\"\nlimit_train_per_class = 4\n[network]\n\
                channels = 4\nlayers = 3\n[search]\nepochs = 2\nbatch_size = 8\nsteps_per_epoch = 2\n\
                mode = \"single_level\"\nw_optimizer = \"adamw\"\nw_lr = 0.005\nw_lr_min = 0.0\n\
                w_weight_decay = 5e-4\n";
    let config = write_run_config(&dir, "search.toml", body);
    resumes_exactly(&dir, &CliRun::search(&config), "search.w_optimizer");
}
