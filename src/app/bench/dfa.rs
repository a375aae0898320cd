//! `kdnas bench dfa`: DFA's two steps with a ResNet-56 teacher and a ResNet-20 student on random
//! 3x32x32 images over 10 classes; compare with bench/torch_reference/dfa.py.
//!
//! - `dfa-step`: one search step of [`DfaSearchTask`] through [`search_step`] with
//!   [`DfaLosses::default`] and the space search_spaces/dfa_resnet56.toml. The time includes building
//!   the training and the validation batch, each with its teacher forward pass, as the search loop
//!   does (`batches_ms` is that part alone).
//! - `distill-step`: one training step of [`DistillTask`] with cross-entropy + aggregation (fixed
//!   Average weights) + KD: the batch with its teacher forward pass, the loss, backward, the global
//!   gradient clip and SGD, as the training loop does.
//!
//! The teacher is untrained (random weights, BatchNorm running statistics 0 and 1): no checkpoint is
//! needed, and the time of a step does not depend on the values.

use super::{Samples, check_counts, order_name, random_images, rayon_threads, step_settings, timed};
use crate::error::{KdnasError, Result};
use crate::models::{ModelConfig, StageShape, StagedClassifier, TapPoint};
use crate::search::bilevel::search_step;
use crate::search::run::optimisers;
use crate::search::{SearchConfig, SearchMode, SearchTask, Split};
use crate::space::parse_space;
use crate::supernet::ArchParams;
use crate::tasks::dfa::distill_task::{BoundObjective, DistillStudent, DistillTask};
use crate::tasks::dfa::objectives::{AggregationWeights, Objective, aggregation_weights};
use crate::tasks::dfa::space_check::stage_slots;
use crate::tasks::dfa::{DfaLosses, DfaSearchTask, DfaStudent, Distance, FrozenTeacher};
use crate::train::{EpochAt, StepSize, TrainConfig, TrainTask, train_step};
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;

/// The aggregation space of a ResNet-56 teacher, compiled in for benchmarks.
const DFA_SPACE: &str = include_str!("../../../search_spaces/dfa_resnet56.toml");

/// Where [`DFA_SPACE`] comes from (for error messages).
const DFA_SPACE_PATH: &str = "search_spaces/dfa_resnet56.toml";

/// The frozen teacher.
const TEACHER: ModelConfig = ModelConfig::Resnet { depth: 56 };

/// The student.
const STUDENT: ModelConfig = ModelConfig::Resnet { depth: 20 };

/// Image channels.
const CHANNELS: usize = 3;

/// Classes.
const CLASSES: usize = 10;

/// KD temperature of the distillation step (CRD's).
const KD_TEMPERATURE: f64 = 4.0;

/// One kind of step to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfaStep {
    /// A search step in this bi-level mode.
    Search(SearchMode),
    /// A stage-2 distillation step.
    Distill,
}

/// Benchmark shape and repetitions.
#[derive(Debug, Clone)]
pub struct DfaBenchArgs {
    /// Batch size (64).
    pub batch: usize,
    /// Image side (32).
    pub image: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub iters: usize,
    /// Steps to time, one report line each.
    pub steps: Vec<DfaStep>,
    /// Device label for the report line.
    pub device_label: String,
}

impl DfaBenchArgs {
    /// `device=.. threads=.. batch=.. image=.. teacher=.. student=..`.
    fn shape_fields(&self) -> String {
        format!(
            "device={} threads={} batch={} image={} teacher={} student={}",
            self.device_label,
            rayon_threads(),
            self.batch,
            self.image,
            TEACHER.name(),
            STUDENT.name()
        )
    }
}

/// Runs the benchmark and returns one report line per step kind.
pub fn bench_dfa<AB: AutodiffBackend>(args: &DfaBenchArgs, device: &AB::Device) -> Result<Vec<String>> {
    check_counts(args.iters, args.batch)?;
    args.steps
        .iter()
        .map(|step| match *step {
            DfaStep::Search(mode) => search_line::<AB>(args, mode, device),
            DfaStep::Distill => distill_line::<AB>(args, device),
        })
        .collect()
}

/// The untrained, frozen teacher.
fn teacher<AB: AutodiffBackend>(device: &AB::Device) -> Result<FrozenTeacher<AB>> {
    Ok(FrozenTeacher::from_model(TEACHER.build::<AB>(CHANNELS, CLASSES, device)?))
}

/// Times search steps in `mode`; fails when the aggregation logits did not move.
fn search_line<AB: AutodiffBackend>(args: &DfaBenchArgs, mode: SearchMode, device: &AB::Device) -> Result<String> {
    AB::seed(device, 0);
    let space = parse_space(DFA_SPACE, Path::new(DFA_SPACE_PATH))?;
    let teacher = teacher::<AB>(device)?;
    let shapes = teacher.inner.stage_shapes();
    let slots = stage_slots(&space, &shapes, &TEACHER.name())?;
    let mut net = DfaStudent::new(STUDENT.build::<AB>(CHANNELS, CLASSES, device)?, &shapes, device);
    let mut arch = ArchParams::<AB>::new(&space, device);
    let initial = arch.to_host();
    let task = DfaSearchTask::<AB> {
        train: random_images(args.batch, args.image, 1),
        val: random_images(args.batch, args.image, 2),
        augment: None,
        teacher,
        slots,
        losses: DfaLosses::default(),
        device: device.clone(),
    };
    let config = SearchConfig { mode, ..SearchConfig::default() };
    let mut opt = optimisers::<AB>(&config);
    let indices: Vec<usize> = (0..args.batch).collect();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut total, mut batches) = (Samples::new(args.warmup), Samples::new(args.warmup));
    for i in 0..args.warmup + args.iters {
        let ((train, val), batch_ms) = timed::<AB, _>(device, || {
            Ok((task.batch(Split::Train, &indices, &mut rng), task.batch(Split::Val, &indices, &mut rng)))
        })?;
        let settings = step_settings::<AB>(&config, i);
        let ((n, a, _), step_ms) =
            timed::<AB, _>(device, || search_step(&task, net, arch, &mut opt, &train, Some(&val), &settings))?;
        (net, arch) = (n, a);
        total.add(batch_ms + step_ms);
        batches.add(batch_ms);
    }
    if arch.to_host() == initial {
        return Err(KdnasError::Usage(format!(
            "bench dfa: the aggregation logits did not move in the order={} steps",
            order_name(mode)
        )));
    }
    Ok(format!(
        "dfa-step order={} {} timed=batches+teacher_forward+step batches_ms={:.1} {}",
        order_name(mode),
        args.shape_fields(),
        batches.median(),
        total.fields()
    ))
}

/// Cross-entropy, the aggregation term with uniform weights per stage (weighted like DFA's feature
/// term), and KD, against a teacher of `stages`.
fn distill_objectives(stages: &[StageShape]) -> Result<Vec<BoundObjective>> {
    let average = AggregationWeights::Average;
    let aggregation = Objective::Aggregation {
        weight: DfaLosses::default().lambda,
        weights: average.clone(),
        distance: Distance::L2,
        search: None,
        seed: 0,
    };
    Ok(vec![
        BoundObjective { objective: Objective::CrossEntropy { weight: 1.0 }, aggregation: None },
        BoundObjective {
            objective: aggregation,
            aggregation: Some(aggregation_weights(&average, None, 0, stages, "objective[1]")?),
        },
        BoundObjective { objective: Objective::Kd { weight: 1.0, temperature: KD_TEMPERATURE }, aggregation: None },
    ])
}

/// Times distillation steps with [`TrainConfig::default`]'s SGD and clip.
fn distill_line<AB: AutodiffBackend>(args: &DfaBenchArgs, device: &AB::Device) -> Result<String> {
    AB::seed(device, 0);
    let teacher = teacher::<AB>(device)?;
    let shapes = teacher.inner.stage_shapes();
    let objectives = distill_objectives(&shapes)?;
    let names: Vec<&str> = objectives.iter().map(|o| o.objective.name()).collect();
    let mut net =
        DistillStudent::new(STUDENT.build::<AB>(CHANNELS, CLASSES, device)?, &shapes, Some(TapPoint::Block), device);
    let task = DistillTask::<AB> {
        train: random_images(args.batch, args.image, 1),
        test: random_images(0, args.image, 3),
        augment: None,
        teacher,
        objectives,
        device: device.clone(),
    };
    let train = TrainConfig::default();
    let mut sgd = train.weight_optimizer().init::<AB>();
    let size = StepSize { lr: train.lr, grad_clip: train.grad_clip };
    let at = EpochAt { epoch: 0, epochs: 1 };
    let indices: Vec<usize> = (0..args.batch).collect();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut total, mut batches) = (Samples::new(args.warmup), Samples::new(args.warmup));
    for i in 0..args.warmup + args.iters {
        let (batch, batch_ms) = timed::<AB, _>(device, || Ok(task.batch(&indices, &mut rng)))?;
        let (n, step_ms) = timed::<AB, _>(device, || Ok(train_step(&task, net, &mut sgd, &batch, at, size, i)?.0))?;
        net = n;
        total.add(batch_ms + step_ms);
        batches.add(batch_ms);
    }
    Ok(format!(
        "distill-step {} objectives={} timed=batch+teacher_forward+step batches_ms={:.1} {}",
        args.shape_fields(),
        names.join("+"),
        batches.median(),
        total.fields()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    #[test]
    fn times_every_step_kind_at_a_small_shape() {
        let args = DfaBenchArgs {
            batch: 2,
            image: 8,
            warmup: 0,
            iters: 1,
            steps: vec![
                DfaStep::Search(SearchMode::FirstOrder),
                DfaStep::Search(SearchMode::SecondOrder),
                DfaStep::Distill,
            ],
            device_label: "cpu".into(),
        };
        let lines = bench_dfa::<Autodiff<Flex>>(&args, &Default::default()).unwrap();
        let prefixes =
            ["dfa-step order=first device=cpu", "dfa-step order=second device=cpu", "distill-step device=cpu"];
        assert_eq!(lines.len(), prefixes.len());
        for (line, prefix) in lines.iter().zip(prefixes) {
            assert!(line.starts_with(prefix), "{line}");
            assert!(line.contains("batch=2 image=8 teacher=resnet56 student=resnet20"), "{line}");
            let median: f64 =
                line.split("median_ms=").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
            let batches: f64 =
                line.split("batches_ms=").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
            assert!(median > 0.0 && batches > 0.0 && batches <= median, "{line}");
        }
        assert!(lines[2].contains("objectives=cross_entropy+aggregation+kd"), "{}", lines[2]);
    }

    #[test]
    fn refuses_zero_iterations() {
        let args = DfaBenchArgs {
            batch: 2,
            image: 8,
            warmup: 0,
            iters: 0,
            steps: vec![DfaStep::Distill],
            device_label: "cpu".into(),
        };
        assert!(bench_dfa::<Autodiff<Flex>>(&args, &Default::default()).is_err());
    }
}
