//! Tiny DFA teacher/student pairs for the DFA tests: a ResNet teacher written to a checkpoint (with
//! BatchNorm running statistics moved off their initial values) and loaded as a [`FrozenTeacher`], a
//! [`DfaSearchTask`] over a few random images, a seeded student with connectors, fixed batches, and
//! readers for architecture gradients and module records. Every builder seeds burn's global RNG:
//! hold [`super::serial`] around them.

use super::{Cpu, manifest, random_images};
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use kdnas::models::{ModelConfig, StagedClassifier};
use kdnas::search::Split;
use kdnas::space::{ArchGraph, load_space};
use kdnas::supernet::{ArchParams, ArchWeights, Relaxation};
use kdnas::tasks::dfa::space_check::stage_slots;
use kdnas::tasks::dfa::{DfaLosses, DfaSearchTask, DfaStudent, FrozenTeacher, TeacherBatch, TeacherSection};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;

/// Classes of the tiny tasks.
pub const CLASSES: u8 = 3;

/// The bundled aggregation space of a ResNet-14 teacher (3 stages of 2 blocks).
pub fn resnet14_space() -> ArchGraph {
    load_space(&manifest("search_spaces/dfa_resnet14.toml")).unwrap()
}

/// `module` with the scale of every [`BatchNorm2d`](kdnas::ops::conv2d::batch_norm::BatchNorm2d) set to
/// `gamma` and its shift to `beta`. Every ReLU of the CIFAR ResNet follows a BatchNorm (of the block, or
/// of the residual sum), so with `beta` several times `gamma` every ReLU stays in its linear part: the
/// network is a smooth function of its weights and inputs, as finite-difference checks need, and a
/// small `gamma` keeps its activations (and losses) small.
pub fn linear_relus<M: Module<Cpu>>(module: M, gamma: f32, beta: f32) -> M {
    struct Affine {
        values: [f32; 2],
        at: Option<(String, String)>,
    }
    impl ModuleMapper<Cpu> for Affine {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.at = Some((name.to_string(), container_type.to_string()));
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<Cpu, D>>) -> Param<Tensor<Cpu, D>> {
            let (id, tensor, mapper) = param.consume();
            let value = match self.at.as_ref().map(|(name, kind)| (name.as_str(), kind.as_str())) {
                Some(("gamma", "Struct:BatchNorm2d")) => Some(self.values[0]),
                Some(("beta", "Struct:BatchNorm2d")) => Some(self.values[1]),
                _ => None,
            };
            // A new leaf under the same id, so that the parameter trains like any other.
            let out = match value {
                Some(v) => Tensor::from_inner(tensor.inner().zeros_like().add_scalar(v)).require_grad(),
                None => tensor,
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    module.map(&mut Affine { values: [gamma, beta], at: None })
}

/// Writes a ResNet-`depth` teacher for 1-channel `side` x `side` images of [`CLASSES`] classes to
/// `dir/teacher.mpk` and returns its `[teacher]` section. Three train-mode passes over random images
/// move every BatchNorm's running statistics away from (0, 1), so a change to them is visible.
pub fn tiny_teacher(dir: &Path, depth: usize, side: usize) -> TeacherSection {
    tiny_teacher_of(dir, ModelConfig::Resnet { depth }, side)
}

/// [`tiny_teacher`] for any teacher `model`.
pub fn tiny_teacher_of(dir: &Path, model: ModelConfig, side: usize) -> TeacherSection {
    let device = Default::default();
    Cpu::seed(&device, 11);
    let net = model.build::<Cpu>(1, CLASSES as usize, &device).unwrap();
    for seed in 0..3 {
        let images = random_images(8, 1, side, CLASSES, 100 + seed);
        let (x, _) = kdnas::data::image_batch::<Cpu>(&images, &(0..8).collect::<Vec<_>>(), None, &device);
        net.forward_features(x);
    }
    let checkpoint = dir.join("teacher.mpk");
    kdnas::record_files::save_module(&burn::module::AutodiffModule::valid(&net), &checkpoint).unwrap();
    TeacherSection { model, checkpoint }
}

/// A DFA search over `n` random 1-channel `side` x `side` images per split (train seed 1, val seed 2)
/// with the teacher of `section` and the ResNet-14 space.
pub fn tiny_task(section: &TeacherSection, losses: DfaLosses, n: usize, side: usize) -> DfaSearchTask<Cpu> {
    tiny_task_in(&resnet14_space(), section, losses, n, side)
}

/// [`tiny_task`] over the aggregation `space`.
pub fn tiny_task_in(
    space: &ArchGraph,
    section: &TeacherSection,
    losses: DfaLosses,
    n: usize,
    side: usize,
) -> DfaSearchTask<Cpu> {
    let device = Default::default();
    let teacher = FrozenTeacher::<Cpu>::load(section, 1, CLASSES as usize, &device).unwrap();
    let slots = stage_slots(space, &teacher.inner.stage_shapes(), "teacher").unwrap();
    DfaSearchTask {
        train: random_images(n, 1, side, CLASSES, 1),
        val: random_images(n, 1, side, CLASSES, 2),
        augment: None,
        teacher,
        slots,
        losses,
        device,
    }
}

/// A ResNet-`depth` student with connectors to the teacher of `task`, drawn from `seed`.
pub fn tiny_student(task: &DfaSearchTask<Cpu>, depth: usize, seed: u64) -> DfaStudent<Cpu> {
    tiny_student_of(task, &ModelConfig::Resnet { depth }, seed)
}

/// [`tiny_student`] for any student `model`.
pub fn tiny_student_of(task: &DfaSearchTask<Cpu>, model: &ModelConfig, seed: u64) -> DfaStudent<Cpu> {
    let device = Default::default();
    Cpu::seed(&device, seed);
    let student = model.build::<Cpu>(1, CLASSES as usize, &device).unwrap();
    DfaStudent::new(student, &task.teacher.inner.stage_shapes(), &device)
}

/// The first `n` examples of each split as one training and one validation batch.
pub fn fixed_batches(task: &DfaSearchTask<Cpu>, n: usize) -> (TeacherBatch<Cpu>, TeacherBatch<Cpu>) {
    use kdnas::search::SearchTask;
    let indices: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(0);
    (task.batch(Split::Train, &indices, &mut rng), task.batch(Split::Val, &indices, &mut rng))
}

/// Architecture logits with `rows[stage]` as the `[1, blocks]` logits of each stage, under `ids`.
pub fn arch_with(ids: &[ParamId], rows: &[Vec<f32>]) -> ArchParams<Cpu> {
    let logits = ids
        .iter()
        .zip(rows)
        .map(|(&id, row)| {
            let t = Tensor::<Cpu, 2>::from_data(TensorData::new(row.clone(), [1, row.len()]), &Default::default());
            Param::initialized(id, t.require_grad())
        })
        .collect();
    ArchParams { logits }
}

/// softmax(logits) per group, the relaxation the DFA search uses.
pub fn softmax_weights(arch: &ArchParams<Cpu>) -> ArchWeights<Cpu> {
    Relaxation::Softmax.weights(arch, None, 0, 1)
}

/// The gradient of every logit of `arch` in `grads`, group after group (zeros for a group without one).
pub fn arch_grad(grads: &GradientsParams, arch: &ArchParams<Cpu>) -> Vec<f32> {
    arch.logits
        .iter()
        .flat_map(|p| match grads.get::<burn::backend::Flex, 2>(p.id) {
            Some(g) => super::smooth::values(g),
            None => vec![0.0; p.shape().num_elements()],
        })
        .collect()
}

/// The named MessagePack record of `module` at full precision: every parameter and running statistic.
pub fn record_bytes<B: Backend, M: Module<B>>(module: &M) -> Vec<u8> {
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    Recorder::<B>::record(&recorder, module.clone().into_record(), ()).unwrap()
}

/// The largest absolute entry.
pub fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

// ---- Command-line runs (tests/dfa_cli.rs, tests/dfa_resume.rs) ----

/// Data of the command-line runs: 4 training and 2 test images per class of the bundled Fashion-MNIST.
pub const CLI_DATA: &str = "[data]\nlimit_train_per_class = 4\nlimit_test_per_class = 2\n";

/// A path as a TOML string (the paths are this machine's, computed at run time).
pub fn toml_path(path: &Path) -> String {
    serde_json::to_string(path.to_str().expect("UTF-8 path")).unwrap()
}

/// The run directory of a ResNet-14 teacher trained for one epoch with `kdnas teacher train`, once
/// per test binary.
pub fn cli_teacher() -> &'static Path {
    static RUN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let dir = super::temp_dir("dfa-cli-teacher");
        let config = format!(
            "seed = 1\n{CLI_DATA}\n[model]\nkind = \"resnet\"\ndepth = 14\n\n[train]\nepochs = 1\nbatch_size = 16\nlr = 0.05\n"
        );
        std::fs::write(dir.join("teacher.toml"), config).unwrap();
        super::cli::succeeds(&["teacher", "train", "--config", "teacher.toml", "--out", "run"], &dir);
        dir.join("run")
    })
}

/// A `kdnas dfa search` config: the bundled space `search_spaces/{space}`, a ResNet-`teacher_depth`
/// teacher with the weights `checkpoint`, a ResNet-8 student, batches of 8, and `search` (more lines
/// of the `[search]` section).
pub fn dfa_search_config(space: &str, teacher_depth: usize, checkpoint: &Path, search: &str) -> String {
    let space = toml_path(&manifest(&format!("search_spaces/{space}")));
    let checkpoint = toml_path(checkpoint);
    format!(
        "space = {space}\nseed = 2\n\n[task]\nkind = \"dfa\"\n\n{CLI_DATA}\n[teacher]\n\
         model = {{ kind = \"resnet\", depth = {teacher_depth} }}\ncheckpoint = {checkpoint}\n\n\
         [student]\nmodel = {{ kind = \"resnet\", depth = 8 }}\n\n[search]\nbatch_size = 8\n{search}\n"
    )
}

/// A `kdnas distill` config: the ResNet-14 teacher with the weights `checkpoint`, a fresh ResNet-8
/// student trained `epochs` epochs in batches of 16, and the `[[objective]]` tables `objectives`.
pub fn distill_config(checkpoint: &Path, epochs: usize, objectives: &str) -> String {
    let checkpoint = toml_path(checkpoint);
    format!(
        "seed = 4\n{CLI_DATA}\n[teacher]\nmodel = {{ kind = \"resnet\", depth = 14 }}\ncheckpoint = {checkpoint}\n\n\
         [student]\nmodel = {{ kind = \"resnet\", depth = 8 }}\n\n[train]\nepochs = {epochs}\nbatch_size = 16\n\
         lr = 0.05\n\n{objectives}"
    )
}
